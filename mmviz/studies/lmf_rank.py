"""Study `lmf-rank`: low-rank fusion across ranks (Liu et al. 2018), via `zoo.lmf_rank_study`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mmviz.studies.base import Rows, Study, Verdict, mean, progress_line
from mmviz.studies.plan import Plan
from mmviz.train import TrainSettings

LMF_SUFFICE = 0.01  # low ranks "suffice": best low-rank mean accuracy within 1 point of the best


@dataclass(frozen=True, kw_only=True)
class LmfRankPlan(Plan):
    """LMF on the sentiment data at each rank and seed, with the zoo's fusion settings."""

    ranks: tuple[int, ...]
    settings: TrainSettings  # the seed in it is replaced by each run's
    CONFIG_KEYS = ("ranks", "seeds", "settings")


def plan(quick: bool, seed: int) -> LmfRankPlan:
    from mmviz.zoo import FUSION_SETTINGS, RANKS

    changes = {"epochs": 1, "max_steps": 3} if quick else {}
    return LmfRankPlan(
        quick=quick,
        ranks=(1, 8) if quick else RANKS,
        seeds=(seed, seed + 1) if quick else (seed, seed + 1, seed + 2),
        settings=TrainSettings(**{**FUSION_SETTINGS.__dict__, **changes}),
    )


def lmf_summary(rows: Rows) -> Rows:
    """Per rank: mean and spread (std over seeds) of binary accuracy and MAE."""
    out = []
    for rank in sorted({int(r["rank"]) for r in rows}):
        rr = [r for r in rows if int(r["rank"]) == rank]
        acc, mae = [r["acc2"] for r in rr], [r["mae"] for r in rr]
        out.append(
            {
                "rank": rank,
                "seeds": len(rr),
                "acc2_mean": mean(acc),
                "acc2_std": float(np.std(acc)),
                "mae_mean": mean(mae),
                "mae_std": float(np.std(mae)),
                "fusion_params": rr[0].get("fusion_params"),
            }
        )
    return out


def verdict_lmf_rank(rows: Rows) -> Verdict:
    """Rule (means over seeds): (a) low ranks suffice: the best mean accuracy at a rank below 10
    is within 1 point of the best at any rank; (b) instability: the spread over seeds at the
    largest rank exceeds the smallest spread below rank 10. (a) and (b): reproduced; (a) only:
    partly; not (a): not reproduced."""
    summary = lmf_summary(rows)
    low = [s for s in summary if s["rank"] < 10]
    if not low or len(summary) < 2:
        return "not run", "needs at least two ranks, one of them below 10"
    best = max(s["acc2_mean"] for s in summary)
    best_low = max(low, key=lambda s: s["acc2_mean"])
    top = summary[-1]
    suffice = best_low["acc2_mean"] >= best - LMF_SUFFICE
    unstable = top["acc2_std"] > min(s["acc2_std"] for s in low)
    why = (
        f"best below rank 10: rank {best_low['rank']} at {best_low['acc2_mean']:.1%} against "
        f"{best:.1%} at best overall; spread over seeds at rank {top['rank']} "
        f"{top['acc2_std']:.2%} vs the smallest low-rank spread "
        f"{min(s['acc2_std'] for s in low):.2%} ({'larger' if unstable else 'not larger'})"
    )
    if not suffice:
        return "not reproduced", why
    return ("reproduced" if unstable else "partly"), why


def run(plan: LmfRankPlan, progress: bool) -> dict[str, Any]:
    from mmviz.zoo import lmf_rank_study

    res = lmf_rank_study(
        ranks=plan.ranks, seeds=plan.seeds, settings=plan.settings, progress=False, write=False
    )
    progress_line(progress, f"  LMF ranks {plan.ranks}: {res['rows']}")
    return {
        "config": plan.config(),
        "rows": res["rows"],
        "summary": lmf_summary(res["rows"]),
        "paper": None,
        "paper_note": (
            "The paper plots performance against rank on CMU-MOSI without a table; its best "
            "MOSI figures (MAE 0.912, r 0.668, Acc-2 76.4) are on real data, not ours."
        ),
        "budget_note": (
            f"the zoo's budget: at most {plan.settings.epochs} epochs per run, early stopping "
            f"after {plan.settings.patience} without improvement, "
            f"{len(plan.seeds)} seeds per rank, on the synthetic sentiment data."
        ),
    }


STUDY = Study(
    name="lmf-rank",
    title="LMF: the rank",
    claim=(
        "Low-rank fusion works across ranks: ranks below 10 suffice, and higher ranks can "
        "make training unstable (Liu et al., ACL 2018, section on the effect of rank)."
    ),
    plan=plan,
    run=run,
    verdict=verdict_lmf_rank,
    minutes=9,
)
