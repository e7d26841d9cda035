"""Reproductions: the papers' headline claims re-measured on our data, one study per claim.

`python -m mmviz study NAME [--quick]` trains small models with fixed seeds, measures, and
writes `results/<NAME>.json` (`<NAME>.quick.json` for `--quick`, so a smoke run never
overwrites a real result). Each file holds the claim with its paper reference, our numbers
(`rows`), the paper's numbers where they are comparable (`paper`, else null), a verdict computed
by a stated rule from our numbers alone, the command that reruns it, and provenance (config,
seed, wall time, code version).

Why the verdict is a rule and not a judgement: the page shows it next to the numbers, and anyone
can check that the rule, applied to the rows, gives that verdict (`VERDICTS[name](rows)`).

Budgets: every full study fits in about 20 minutes on 2 CPU cores, which means far fewer epochs
and seeds than the papers used, and our smaller datasets; each result says so in `budget_note`.
`MMVIZ_RESULTS` moves the results folder (default: `<repo>/results`; see `mmviz.paths`).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from mmviz.data import load_dataset
from mmviz.data.base import MultimodalDataset
from mmviz.evaluate import batched, eval_positions
from mmviz.models import MultimodalModel, log_likelihood
from mmviz.models.nets import make_encoder
from mmviz.models.stats import log_mean_exp, log_normal
from mmviz.paths import results_root, results_write_root
from mmviz.train import TrainSettings, build_model, train_model

VERDICT_LEVELS = ("reproduced", "partly", "not reproduced", "not run")
# The shipped digits VAEs' sizes (zoo.VAE): the studies compare variants, not sizes.
VAE = {"hidden": 256, "latent_dim": 16}
QUICK_VAE = {"hidden": 64, "latent_dim": 8}

Rows = list[dict[str, Any]]
Verdict = tuple[str, str]


def default_out(name: str, quick: bool) -> Path:
    """Where `mmviz study NAME` writes: in the results folder commands write to
    (`paths.results_write_root()`: never inside an installed package)."""
    return results_write_root() / (f"{name}.quick.json" if quick else f"{name}.json")


def _log(progress: bool, msg: str) -> None:
    if progress:
        print(msg, file=sys.stderr, flush=True)


# ---- data and evaluation helpers ------------------------------------------------------------
def shrink(
    ds: MultimodalDataset, n_train: int | None, n_valid: int | None, n_test: int | None
) -> MultimodalDataset:
    """The dataset with each split cut to n evenly spaced samples (quick runs). Evenly spaced,
    not a prefix: splits are sorted by sample index, which can follow the class."""
    sizes = {"train": n_train, "valid": n_valid, "test": n_test}
    splits = {}
    for split, idx in ds.splits.items():
        n = sizes.get(split)
        splits[split] = idx if n is None or n >= len(idx) else idx[eval_positions(ds, split, n)]
    return replace(ds, splits=splits)


def _test_targets(ds: MultimodalDataset, name: str, limit: int | None) -> Tensor:
    return ds.target_tensor("test", name, eval_positions(ds, "test", limit))


@torch.no_grad()
def label_accuracy(
    model: MultimodalModel, ds: MultimodalDataset, observed: list[str] | None, limit: int | None
) -> float:
    """Test accuracy of the model's class prediction from the `observed` modalities."""
    probs = torch.cat([model.predict(x, observed) for x, _ in batched(ds, "test", limit)])
    return float((probs.argmax(-1) == _test_targets(ds, "class", limit)).float().mean())


@torch.no_grad()
def sign_accuracy(
    model: MultimodalModel, ds: MultimodalDataset, observed: list[str] | None, limit: int | None
) -> float:
    """Binary sentiment accuracy (score >= 0), the LMF/MFM papers' Acc-2, for a regressor."""
    pred = torch.cat(
        [model.predict(x, observed).reshape(-1) for x, _ in batched(ds, "test", limit)]
    )
    score = _test_targets(ds, "score", limit)
    return float(((pred >= 0) == (score >= 0)).float().mean())


@torch.no_grad()
def _iw_mean(model: MultimodalModel, ds: MultimodalDataset, fn: Callable, limit: int) -> float:
    with torch.random.fork_rng():  # the same importance samples for every model compared
        torch.manual_seed(0)
        return float(torch.cat([fn(x) for x, _ in batched(ds, "test", limit, batch=100)]).mean())


def marginal_loglik(
    model: MultimodalModel, ds: MultimodalDataset, target: list[str], k: int, limit: int
) -> float:
    """Mean importance-weighted log p(x_T) over `limit` test samples (K = k)."""
    return _iw_mean(model, ds, lambda x: model.log_likelihood_iw(x, target, None, k), limit)


def conditional_loglik_mean(
    model: MultimodalModel,
    ds: MultimodalDataset,
    target: list[str],
    given: list[str],
    k: int,
    limit: int,
) -> float:
    """Mean of `conditional_loglik` over `limit` test samples."""
    return _iw_mean(model, ds, lambda x: conditional_loglik(model, x, target, given, k), limit)


@torch.no_grad()
def conditional_loglik(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    target: list[str],
    given: list[str],
    K: int,
    chunk: int = 50,
) -> Tensor:
    """log p(x_T | x_G) with the model's own conditional prior q(z | x_G), per sample:
        log (1/K) sum_k p(x_T | z_k) q(z_k | x_G) / q(z_k | x_T, x_G),  z_k ~ q(z | x_T, x_G).

    The JMVAE paper's conditional log-likelihood: p(z | x_G) is replaced by the unimodal
    encoder, so it measures how well that encoder supports generating x_T from x_G (what alpha
    trains). `evaluate.loglik_metrics`'s "hand|label" is a different quantity (a difference of
    two marginal estimates), in which a better q(z | x_G) only tightens log p(x_G).
    """
    joint = model.encode(inputs, target + given)["z"]
    cond = model.encode(inputs, given)["z"]
    n = joint.mean.shape[0]

    def rep(t: Tensor, k: int) -> Tensor:
        return t.unsqueeze(0).expand(k, *t.shape).reshape(k * t.shape[0], *t.shape[1:])

    logws = []
    for start in range(0, K, chunk):
        k = min(chunk, K - start)
        mu, lv = rep(joint.mean, k), rep(joint.logvar, k)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * lv)
        params = model.decode({"z": z}, target)
        log_px = sum(log_likelihood(model.specs[m], params[m], rep(inputs[m], k)) for m in target)
        log_prior = log_normal(z, rep(cond.mean, k), rep(cond.logvar, k))
        logws.append((log_px + log_prior - log_normal(z, mu, lv)).reshape(k, n))
    return log_mean_exp(torch.cat(logws), dim=0)


def _settings(plan: dict[str, Any], seed: int, **extra: Any) -> TrainSettings:
    return TrainSettings(
        epochs=plan["epochs"],
        batch_size=plan["batch_size"],
        lr=plan.get("lr", 1e-3),
        patience=plan.get("patience", 5),
        max_steps=plan.get("max_steps"),
        seed=seed,
        **extra,
    )


def _fit(
    model_name: str, ds: MultimodalDataset, overrides: dict[str, Any], settings: TrainSettings
) -> tuple[MultimodalModel, dict[str, Any], float]:
    model = build_model(model_name, ds, overrides, seed=settings.seed)
    t0 = time.perf_counter()
    history = train_model(model, ds, settings, progress=False)
    return model, history, time.perf_counter() - t0


def _epochs_run(history: dict[str, Any]) -> int:
    return int(history["phases"]["main"]["epochs_run"])


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def _by(rows: Rows, key: str, value: str) -> dict[Any, float]:
    """Mean of `value` over rows grouped by `key` (e.g. over seeds)."""
    groups: dict[Any, list[float]] = {}
    for r in rows:
        if r.get(value) is not None:
            groups.setdefault(r[key], []).append(float(r[value]))
    return {k: _mean(v) for k, v in groups.items()}


# ---- 1. weak supervision (MVAE) -------------------------------------------------------------
WEAK_CLOSE = 0.05  # "close to full supervision": within 5 accuracy points
WEAK_SCARCE = 0.01  # "pairs are scarce": 1% paired or fewer


def verdict_weak_supervision(rows: Rows) -> Verdict:
    """Rule: (a) MVAE accuracy at 1% paired >= accuracy at 100% paired - 0.05, and (b) MVAE beats
    the supervised baseline at every fraction <= 1%. Both: reproduced; one: partly; none: not."""
    by = {float(r["fraction"]): r for r in rows}
    scarce = [r for f, r in sorted(by.items()) if f <= WEAK_SCARCE]
    if 1.0 not in by or not scarce:
        return "not run", "needs the 100% run and at least one run with <= 1% paired"
    full = by[1.0]["mvae_accuracy"]
    low = scarce[-1]
    close = low["mvae_accuracy"] >= full - WEAK_CLOSE
    beats = [r["mvae_accuracy"] > r["supervised_accuracy"] for r in scarce]
    why = (
        f"at {low['fraction']:.1%} paired the MVAE reaches {low['mvae_accuracy']:.1%} against "
        f"{full:.1%} with every example paired ({'within' if close else 'more than'} "
        f"{WEAK_CLOSE * 100:.0f} points); it beats the classifier trained on the pairs alone at "
        f"{sum(beats)} of {len(beats)} fractions <= {WEAK_SCARCE:.0%} "
        + "("
        + ", ".join(
            f"{r['fraction']:.1%}: {r['mvae_accuracy']:.1%} vs {r['supervised_accuracy']:.1%}"
            for r in scarce
        )
        + ")"
    )
    hits = int(close) + int(all(beats))
    return ("reproduced", "partly", "not reproduced")[2 - hits], why


def _cycle(idx: np.ndarray, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Endless batches of `idx`, reshuffled every pass (a small pool is revisited often)."""
    while True:
        perm = idx[rng.permutation(len(idx))]
        for start in range(0, len(perm), batch_size):
            yield perm[start : start + batch_size]


def weak_pools(train: np.ndarray, fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Split training samples into a paired part (both modalities) and, for the rest, half
    hand-only and half label-only. Same seed: the pairs at a small fraction are a subset of
    those at a larger one, so the curve compares nested supervision, not different draws."""
    perm = train[np.random.default_rng(seed).permutation(len(train))]
    n_pair = min(len(perm), max(1, round(fraction * len(perm))))
    rest = perm[n_pair:]
    half = len(rest) // 2
    return {"paired": perm[:n_pair], "hand": rest[:half], "label": rest[half:]}


POOL_MODALITIES = {"paired": ["hand", "label"], "hand": ["hand"], "label": ["label"]}


def train_weak_mvae(
    ds: MultimodalDataset,
    pools: dict[str, np.ndarray],
    overrides: dict[str, Any],
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
) -> MultimodalModel:
    """MVAE trained on partly paired data: each step sums MVAE.loss over one batch from each
    non-empty pool, unimodal batches holding only their modality (the loss then uses only the
    ELBO of what is present). Fixed step count, no early stopping: the paper's setting gives no
    labelled validation data to stop on."""
    model = build_model("mvae", ds, overrides, seed=seed)
    rng = np.random.default_rng(seed)
    streams = {k: _cycle(v, batch_size, rng) for k, v in pools.items() if len(v)}
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for step in range(steps):
        total = torch.zeros(())
        for kind, stream in streams.items():
            b = next(stream)
            inputs = {m: torch.from_numpy(ds.data[m][b]) for m in POOL_MODALITIES[kind]}
            targets = {"class": torch.from_numpy(ds.targets["class"][b])}
            loss, _ = model.loss(inputs, targets, step)
            total = total + loss
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
    model.eval()
    return model


def train_supervised_baseline(
    ds: MultimodalDataset,
    paired: np.ndarray,
    hidden: int,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
) -> nn.Module:
    """The paper's baseline: a classifier with the MVAE image expert's architecture (2 hidden
    layers) and a 10-way output, trained on the paired examples only, same step count."""
    torch.manual_seed(seed)
    net = make_encoder(ds.specs["hand"], (hidden, hidden), ds.specs["label"].num_classes)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    stream = _cycle(paired, batch_size, np.random.default_rng(seed))
    for _ in range(steps):
        b = next(stream)
        logits = net(torch.from_numpy(ds.data["hand"][b]))
        loss = nn.functional.cross_entropy(logits, torch.from_numpy(ds.targets["class"][b]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


def unique_hand_rows(ds: MultimodalDataset, split: str) -> np.ndarray:
    """One row per MNIST image: digits pairs each image with several style draws, which for
    hand+label are identical samples, so fractions are taken of distinct images."""
    idx = ds.indices(split)
    if "hand_index" not in ds.factors:
        return idx
    _, first = np.unique(ds.factors["hand_index"][idx], return_index=True)
    return idx[np.sort(first)]


def study_weak_supervision(quick: bool, seed: int, progress: bool) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "fractions": [0.001, 0.01, 0.1, 1.0],
        "epochs": 5 if quick else 50,
        "batch_size": 100 if not quick else 50,
        "lr": 1e-3,
        "overrides": QUICK_VAE if quick else VAE,
        "n_train": 1000 if quick else None,
        "test_limit": 200 if quick else None,
    }
    ds = load_dataset("digits", ["hand", "label"], seed=0)
    train = unique_hand_rows(ds, "train")
    if plan["n_train"]:
        train = train[np.unique(np.linspace(0, len(train) - 1, plan["n_train"]).astype(int))]
    steps_per_epoch = math.ceil(len(train) / plan["batch_size"])
    steps = plan["epochs"] * steps_per_epoch
    plan.update(train_images=len(train), steps=steps)
    rows = []
    for f in plan["fractions"]:
        t0 = time.perf_counter()
        pools = weak_pools(train, f, seed)
        mvae = train_weak_mvae(
            ds, pools, plan["overrides"], steps, plan["batch_size"], plan["lr"], seed
        )
        acc = label_accuracy(mvae, ds, ["hand"], plan["test_limit"])
        net = train_supervised_baseline(
            ds,
            pools["paired"],
            plan["overrides"]["hidden"],
            steps,
            plan["batch_size"],
            plan["lr"],
            seed,
        )
        with torch.no_grad():
            logits = torch.cat([net(x["hand"]) for x, _ in batched(ds, "test", plan["test_limit"])])
        sup = float(
            (logits.argmax(-1) == _test_targets(ds, "class", plan["test_limit"])).float().mean()
        )
        rows.append(
            {
                "fraction": f,
                "n_paired": len(pools["paired"]),
                "n_hand_only": len(pools["hand"]),
                "n_label_only": len(pools["label"]),
                "mvae_accuracy": acc,
                "supervised_accuracy": sup,
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
        _log(progress, f"  {f:.1%} paired ({len(pools['paired'])}): MVAE {acc:.3f}, sup {sup:.3f}")
    return {
        "config": plan,
        "rows": rows,
        "paper": None,
        "paper_note": (
            "The paper shows this as a curve of accuracy against the paired fraction on full "
            "MNIST (60,000 images) with no table; our 3,500 distinct training images make 0.1% "
            "only 4 pairs (the paper's 0.1% is 60), so compare the shape, by number of pairs."
        ),
        "budget_note": (
            f"{plan['epochs']} epochs of {steps_per_epoch} steps at every fraction (the "
            f"reference trains for hundreds of epochs), one seed, hidden "
            f"{plan['overrides']['hidden']} and latent {plan['overrides']['latent_dim']}, label "
            "weight 1 as in the shipped MVAE; each step sums the loss over one batch of each "
            "kind of data present (paired, hand only, label only), so the pairs are revisited "
            "often."
        ),
    }


# ---- 2. product vs quotient of experts -------------------------------------------------------
POE_VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "product": ("MVAE (product of experts)", {}),
    "quotient": ("MVAE-Q (quotient of experts)", {"poe": "quotient"}),
    "nosub": ("MVAE without sub-sampling", {"subsample": False}),
}
POE_LL_GAP = 1.0  # nats: "clearly worse" log-likelihood
POE_ACC_GAP = 0.01


def verdict_poe_vs_quotient(rows: Rows) -> Verdict:
    """Rule (means over seeds): MVAE-Q's log p(hand) is more than 1 nat below the MVAE's, and
    its label-from-hand accuracy more than 1 point below. Both: reproduced; one: partly."""
    ll, acc = _by(rows, "variant", "log_p_hand"), _by(rows, "variant", "accuracy_from_hand")
    if "product" not in ll or "quotient" not in ll:
        return "not run", "needs both the product and the quotient runs"
    gap_ll, gap_acc = ll["product"] - ll["quotient"], acc["product"] - acc["quotient"]
    worse_ll, worse_acc = gap_ll > POE_LL_GAP, gap_acc > POE_ACC_GAP
    why = (
        f"log p(hand): MVAE {ll['product']:.2f}, MVAE-Q {ll['quotient']:.2f} nats "
        f"(MVAE-Q {'worse' if gap_ll > 0 else 'better'} by {abs(gap_ll):.2f}); label from hand: "
        f"{acc['product']:.1%} vs {acc['quotient']:.1%}"
    )
    if "nosub" in acc:
        why += f"; without sub-sampling the MVAE's label-from-hand accuracy is {acc['nosub']:.1%}"
    hits = int(worse_ll) + int(worse_acc)
    return ("reproduced", "partly", "not reproduced")[2 - hits], why


def study_poe_vs_quotient(quick: bool, seed: int, progress: bool) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "variants": {k: v[1] for k, v in POE_VARIANTS.items()},
        "seeds": [seed] if quick else [seed, seed + 1],
        "epochs": 1 if quick else 30,
        "batch_size": 100,
        "patience": 5,
        "max_steps": 20 if quick else None,
        "overrides": QUICK_VAE if quick else VAE,
        "n_train": 300 if quick else None,
        "test_limit": 100 if quick else None,
        "loglik_samples": 30 if quick else 300,
        "loglik_k": 5 if quick else 100,
    }
    ds = load_dataset("digits", ["hand", "label"], seed=0)
    if quick:
        ds = shrink(ds, plan["n_train"], 100, None)
    rows = []
    k, lim = plan["loglik_k"], plan["loglik_samples"]
    for s in plan["seeds"]:
        for key, (label, extra) in POE_VARIANTS.items():
            model, hist, secs = _fit("mvae", ds, {**plan["overrides"], **extra}, _settings(plan, s))
            rows.append(
                {
                    "variant": key,
                    "name": label,
                    "seed": s,
                    "log_p_hand": marginal_loglik(model, ds, ["hand"], k, lim),
                    "log_p_hand_label": marginal_loglik(model, ds, ["hand", "label"], k, lim),
                    "accuracy_from_hand": label_accuracy(model, ds, ["hand"], plan["test_limit"]),
                    "epochs_run": _epochs_run(hist),
                    "seconds": round(secs, 1),
                }
            )
            _log(progress, f"  {label} seed {s}: {rows[-1]}")
    ll = _by(rows, "variant", "log_p_hand")
    return {
        "config": plan,
        "rows": rows,
        "paper": {"log_p_hand": {"product": -90.62, "quotient": -96.03}},
        "paper_note": (
            "The paper's MNIST log p(x) (importance sampling, latent 64, 60,000 binarised "
            "images), as recalled in the design notes and not re-checked against the PDF. Our "
            "images are greyscale with a Bernoulli likelihood and our models smaller, so only "
            "the sign and rough size of the gap compare, not the values."
        ),
        "comparison": [
            {"quantity": f"log p(hand), {POE_VARIANTS[v][0]}", "ours": ll.get(v), "paper": p}
            for v, p in (("product", -90.62), ("quotient", -96.03))
        ],
        "budget_note": (
            f"at most {plan['epochs']} epochs with early stopping (patience 5), "
            f"{len(plan['seeds'])} seed(s), hidden {plan['overrides']['hidden']} and latent "
            f"{plan['overrides']['latent_dim']}; log-likelihoods from "
            f"{plan['loglik_samples']} test images with K = {plan['loglik_k']}."
        ),
    }


# ---- 3. JMVAE's alpha -------------------------------------------------------------------------
JMVAE_VARIANTS: dict[str, dict[str, Any]] = {
    "zero": {"alpha": 0.0, "zero_fill": True},
    "0.01": {"alpha": 0.01},
    "0.1": {"alpha": 0.1},
    "1": {"alpha": 1.0},
}


def verdict_jmvae_alpha(rows: Rows) -> Verdict:
    """Rule (means over seeds, JMVAE-kl runs only): the largest alpha has a higher conditional
    log p(hand | label) than the smallest, and a joint log p(hand, label) no higher. Both:
    reproduced; one: partly; neither: not reproduced."""
    kl = [r for r in rows if r["variant"] != "zero"]
    cond, joint = _by(kl, "alpha", "log_p_hand_given_label"), _by(kl, "alpha", "log_p_joint")
    if len(cond) < 2:
        return "not run", "needs JMVAE-kl at two values of alpha or more"
    lo, hi = min(cond), max(cond)
    better_cond, worse_joint = cond[hi] > cond[lo], joint[hi] <= joint[lo]
    why = (
        f"alpha {lo:g} -> {hi:g}: log p(hand | label) {cond[lo]:.2f} -> {cond[hi]:.2f} "
        f"({'better' if better_cond else 'not better'}), log p(hand, label) {joint[lo]:.2f} -> "
        f"{joint[hi]:.2f} ({'lower' if worse_joint else 'higher'})"
    )
    zero = _by([r for r in rows if r["variant"] == "zero"], "variant", "log_p_hand_given_label")
    if zero:
        why += f"; JMVAE-zero (zero-filled joint encoder) gives {zero['zero']:.2f}"
    hits = int(better_cond) + int(worse_joint)
    return ("reproduced", "partly", "not reproduced")[2 - hits], why


def study_jmvae_alpha(quick: bool, seed: int, progress: bool) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "variants": JMVAE_VARIANTS,
        "seeds": [seed] if quick else [seed, seed + 1],
        "epochs": 1 if quick else 25,
        "batch_size": 100,
        "patience": 5,
        "max_steps": 20 if quick else None,
        "overrides": QUICK_VAE if quick else VAE,
        "n_train": 300 if quick else None,
        "test_limit": 100 if quick else None,
        "loglik_samples": 30 if quick else 300,
        "loglik_k": 5 if quick else 100,
    }
    ds = load_dataset("digits", ["hand", "label"], seed=0)
    if quick:
        ds = shrink(ds, plan["n_train"], 100, None)
    rows = []
    k, lim = plan["loglik_k"], plan["loglik_samples"]
    for s in plan["seeds"]:
        for key, extra in JMVAE_VARIANTS.items():
            model, hist, secs = _fit(
                "jmvae", ds, {**plan["overrides"], **extra}, _settings(plan, s)
            )
            rows.append(
                {
                    "variant": key,
                    "alpha": extra["alpha"],
                    "seed": s,
                    "log_p_joint": marginal_loglik(model, ds, ["hand", "label"], k, lim),
                    "log_p_hand_given_label": conditional_loglik_mean(
                        model, ds, ["hand"], ["label"], k, lim
                    ),
                    "accuracy_from_hand": label_accuracy(model, ds, ["hand"], plan["test_limit"]),
                    "epochs_run": _epochs_run(hist),
                    "seconds": round(secs, 1),
                }
            )
            _log(progress, f"  JMVAE {key} seed {s}: {rows[-1]}")
    return {
        "config": plan,
        "rows": rows,
        "paper": None,
        "paper_note": (
            "The paper reports log-likelihoods on MNIST (60,000 images, latent 64) that we "
            "could not verify here; MultiVae's reproduction gets log p(x) = -86.86 at alpha "
            "0.1. Our data and model sizes differ, so only the trend across alpha compares."
        ),
        "budget_note": (
            f"at most {plan['epochs']} epochs with early stopping, {len(plan['seeds'])} "
            f"seed(s), hidden {plan['overrides']['hidden']} and latent "
            f"{plan['overrides']['latent_dim']}; log-likelihoods from {lim} test images with "
            f"K = {k}. "
            "log p(hand | label) uses the label encoder q(z | label) as the conditional prior "
            "(the JMVAE paper's estimator; JMVAE-zero's is its zero-filled joint encoder)."
        ),
    }


# ---- 4. MFM ablations -------------------------------------------------------------------------
def mfm_variants(inputs: list[str]) -> dict[str, tuple[str, dict[str, Any] | None, str]]:
    """name -> (label, config overrides or None when not expressible, what it tests / why not).

    Only ablations that MFMConfig can express are run; the others are listed with the reason,
    because emulating them would mean changing the model."""
    return {
        "mfm": ("MFM", {}, "the full model"),
        "za1": (
            "Z_a squeezed to 1 dimension",
            {"za_dim": 1, "za_dims": {}},
            "the closest config-only step towards no factorization: each modality-specific "
            "factor keeps a single dimension",
        ),
        "no_mmd": (
            "no prior matching",
            {"lambda_mmd": 0.0},
            "lambda_mmd 0: codes are not pulled towards N(0, I) (our extra ablation)",
        ),
        "discriminative": (
            "purely discriminative",
            {"recon_weights": {m: 0.0 for m in inputs}},
            "every reconstruction weight 0: only the prediction loss (and MMD) trains",
        ),
        "no_za": (
            "no factorization (no Z_a)",
            None,
            "za_dim 0 makes the MMD term NaN (its kernel divides by the code's dimension), "
            "and zeroing the decoders' F_a input needs a change to mfm.py",
        ),
        "no_zy": (
            "no Z_y",
            None,
            "the head D reads only F_y = G_y(Z_y); without Z_y it has no input, so this needs a "
            "model change",
        ),
        "generative": (
            "purely generative",
            None,
            "with lambda_y 0 the head is never trained and MFM has no other classifier; a "
            "classifier fitted on the codes afterwards is outside MFMConfig",
        ),
    }


def verdict_mfm_ablations(rows: Rows) -> Verdict:
    """Rule: score = mean of the accuracy with all inputs and the mean accuracy with one input
    missing; per dataset, MFM wins a comparison when its score is above an ablation's. Wins in
    all comparisons: reproduced; at least half: partly; fewer: not reproduced."""
    ran = [r for r in rows if r.get("status") == "run"]
    full = {r["dataset"]: r for r in ran if r["variant"] == "mfm"}
    pairs = [(full[r["dataset"]], r) for r in ran if r["variant"] != "mfm" and r["dataset"] in full]
    if not pairs:
        return "not run", "no ablation ran beside the full MFM"

    def score(r: dict[str, Any]) -> float:
        return 0.5 * (r["accuracy"] + r["accuracy_missing_mean"])

    wins = [score(f) > score(a) for f, a in pairs]
    why = "; ".join(
        f"{a['dataset']}: MFM {score(f):.3f} vs {a['name']} {score(a):.3f}" for f, a in pairs
    )
    why = f"MFM scores higher in {sum(wins)} of {len(wins)} comparisons ({why})"
    if all(wins):
        return "reproduced", why
    return ("partly" if 2 * sum(wins) >= len(wins) else "not reproduced"), why


@torch.no_grad()
def recon_error(model: MultimodalModel, ds: MultimodalDataset, limit: int | None) -> float:
    """Per-entry negative log-likelihood of the reconstructions from all inputs, averaged over
    the input modalities (BCE for images, cross-entropy for tokens, half squared error plus a
    constant for real features): the quantity MFM's loss weighs, comparable across variants."""
    inputs = [m for m in model.modalities if m != getattr(model, "label_target", None)]
    totals = {m: 0.0 for m in inputs}
    n = 0
    for x, _ in batched(ds, "test", limit):
        params = model.decode({g: p.mean for g, p in model.encode(x, None).items()}, inputs)
        for m in inputs:
            ll = log_likelihood(model.specs[m], params[m], x[m]) / model.specs[m].size
            totals[m] += float(-ll.sum())
        n += len(next(iter(x.values())))
    return _mean([t / n for t in totals.values()])


MFM_DATASETS: dict[str, tuple[str, list[str] | None, str]] = {
    # name -> (dataset, modalities, zoo recipe whose overrides and settings it starts from)
    "digits": ("digits", ["hand", "print", "label"], "mfm_hand_print_label"),
    "sentiment": ("sentiment", None, "mfm_sentiment"),
}


def study_mfm_ablations(quick: bool, seed: int, progress: bool) -> dict[str, Any]:
    from mmviz.zoo import recipe

    zoo_budget = " and ".join(
        f"{r.settings.epochs} + {r.settings.phase_epochs.get('surrogate', r.settings.epochs)}"
        for r in (recipe(rid) for _, _, rid in MFM_DATASETS.values())
    )
    plans = {
        "digits": {"epochs": 15, "surrogate_epochs": 5, "batch_size": 100},
        "sentiment": {"epochs": 6, "surrogate_epochs": 2, "batch_size": 32},
    }
    for p in plans.values():
        p.update(patience=5, max_steps=None, test_limit=None)
        if quick:
            p.update(epochs=1, surrogate_epochs=1, max_steps=3, test_limit=100)
    rows: Rows = []
    for dname, (dataset, mods, rid) in MFM_DATASETS.items():
        plan = plans[dname]
        base = dict(recipe(rid).overrides)
        ds = load_dataset(dataset, mods, seed=0)
        if quick:
            ds = shrink(ds, 150, 60, None)
        inputs = [m for m in ds.modalities if ds.specs[m].kind != "categorical"]
        accuracy = label_accuracy if dataset == "digits" else sign_accuracy
        settings = _settings(plan, seed, phase_epochs={"surrogate": plan["surrogate_epochs"]})
        for key, (label, extra, what) in mfm_variants(inputs).items():
            row: dict[str, Any] = {"dataset": dname, "variant": key, "name": label, "what": what}
            if extra is None:
                rows.append({**row, "status": "not run", "reason": what})
                continue
            overrides = {**base, **extra}
            model, hist, secs = _fit("mfm", ds, overrides, settings)
            lim = plan["test_limit"]
            missing = {
                f"-{m}": accuracy(model, ds, [o for o in inputs if o != m], lim) for m in inputs
            }
            rows.append(
                {
                    **row,
                    "status": "run",
                    "overrides": extra,
                    "accuracy": accuracy(model, ds, None, lim),
                    "accuracy_missing": missing,
                    "accuracy_missing_mean": _mean(list(missing.values())),
                    "recon_error": recon_error(model, ds, lim),
                    "epochs_run": _epochs_run(hist),
                    "seconds": round(secs, 1),
                }
            )
            _log(progress, f"  MFM {dname} {label}: {rows[-1]}")
    return {
        "config": {
            "datasets": {k: v[2] for k, v in MFM_DATASETS.items()},
            # the recipes change over time: record the settings this run started from
            "base_overrides": {k: recipe(v[2]).overrides for k, v in MFM_DATASETS.items()},
            "plans": plans,
        },
        "rows": rows,
        "paper": None,
        "paper_note": (
            "The paper's ablations are on CMU-MOSI and its own multimodal MNIST/SVHN data; our "
            "datasets differ, so only which variant does best compares. Accuracy on sentiment "
            "is binary (the sign of the score), as the paper's Acc-2."
        ),
        "budget_note": (
            "; ".join(
                f"{d}: at most {p['epochs']} epoch(s) + {p['surrogate_epochs']} for the "
                "surrogates" + (f", {p['max_steps']} steps per phase" if p["max_steps"] else "")
                for d, p in plans.items()
            )
            + f" (the zoo trains {zoo_budget}); one seed; sizes from the zoo's MFM "
            "recipes, with their early stopping (patience 5)."
        ),
    }


# ---- 5. LMF rank ------------------------------------------------------------------------------
LMF_SUFFICE = 0.01  # low ranks "suffice": best low-rank mean accuracy within 1 point of the best


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
                "acc2_mean": _mean(acc),
                "acc2_std": float(np.std(acc)),
                "mae_mean": _mean(mae),
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


def study_lmf_rank(quick: bool, seed: int, progress: bool) -> dict[str, Any]:
    from mmviz.zoo import FUSION_SETTINGS, RANKS, lmf_rank_study

    ranks = (1, 8) if quick else RANKS
    seeds = (seed, seed + 1) if quick else (seed, seed + 1, seed + 2)
    changes = {"epochs": 1, "max_steps": 3} if quick else {}
    settings = TrainSettings(**{**FUSION_SETTINGS.__dict__, **changes})
    res = lmf_rank_study(ranks=ranks, seeds=seeds, settings=settings, progress=False, write=False)
    _log(progress, f"  LMF ranks {ranks}: {res['rows']}")
    return {
        "config": {"ranks": list(ranks), "seeds": list(seeds), "settings": settings.__dict__},
        "rows": res["rows"],
        "summary": lmf_summary(res["rows"]),
        "paper": None,
        "paper_note": (
            "The paper plots performance against rank on CMU-MOSI without a table; its best "
            "MOSI figures (MAE 0.912, r 0.668, Acc-2 76.4) are on real data, not ours."
        ),
        "budget_note": (
            f"the zoo's budget: at most {settings.epochs} epochs per run, early stopping after "
            f"{settings.patience} without improvement, "
            f"{len(seeds)} seeds per rank, on the synthetic sentiment data."
        ),
    }


# ---- 6. scaling with the number of modalities ------------------------------------------------
SCALING_ORDER = ["hand", "label", "print", "text", "sound"]


def verdict_scaling(rows: Rows) -> Verdict:
    """Rule: the JMVAE/MVAE parameter ratio rises with every added modality, and the ratio of
    their measured times per epoch is higher at the most modalities than at the fewest. Both:
    reproduced; parameters only: partly; neither: not reproduced."""
    by = {(r["model"], int(r["modalities"])): r for r in rows}
    ms = sorted({int(r["modalities"]) for r in rows})
    ms = [m for m in ms if ("mvae", m) in by and ("jmvae", m) in by]
    if len(ms) < 2:
        return "not run", "needs both models at two numbers of modalities or more"
    pr = [by["jmvae", m]["parameters"] / by["mvae", m]["parameters"] for m in ms]
    tr = [by["jmvae", m]["seconds_per_epoch"] / by["mvae", m]["seconds_per_epoch"] for m in ms]
    params_grow = all(b > a for a, b in zip(pr, pr[1:], strict=False))
    time_grows = tr[-1] > tr[0]
    why = (
        "JMVAE/MVAE parameters: "
        + ", ".join(f"M={m}: {p:.1f}x" for m, p in zip(ms, pr, strict=True))
        + "; time per epoch: "
        + ", ".join(f"M={m}: {t:.1f}x" for m, t in zip(ms, tr, strict=True))
    )
    if params_grow and time_grows:
        return "reproduced", why
    return ("partly" if params_grow else "not reproduced"), why


def _time_steps(model: MultimodalModel, ds: MultimodalDataset, warmup: int, timed: int, bs: int):
    """Seconds of each of `timed` optimizer steps taken after `warmup` untimed ones."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = ds.loader("train", bs, shuffle=True, seed=0)
    times = []
    model.train()
    for i in range(warmup + timed):
        x, y = next(batches)
        t0 = time.perf_counter()
        loss, _ = model.loss(x, y, i)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def study_scaling(quick: bool, seed: int, progress: bool) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "order": SCALING_ORDER,
        "modalities": [2, 3, 4, 5],
        "overrides": QUICK_VAE if quick else VAE,
        "jmvae": {"alpha": 0.1, "subset_encoders": "all"},
        "batch_size": 100,
        "rounds": 1 if quick else 3,
        "warmup_steps": 1 if quick else 2,
        "timed_steps": 2 if quick else 5,
        "torch_threads": torch.get_num_threads(),
    }
    full = load_dataset("digits", seed=0)
    steps_per_epoch = math.ceil(len(full.indices("train")) / plan["batch_size"])
    plan["steps_per_epoch"] = steps_per_epoch
    configs = [(m, name) for m in plan["modalities"] for name in ("mvae", "jmvae")]
    times: dict[tuple[int, str], list[float]] = {c: [] for c in configs}
    counts: dict[tuple[int, str], tuple[int, int]] = {}
    # Rounds over every configuration, each model rebuilt from its seed: a burst of load from
    # elsewhere on the machine then spreads over all configurations instead of hitting one.
    for _ in range(plan["rounds"]):
        for m, name in configs:
            ds = full.select(SCALING_ORDER[:m])
            extra = plan["jmvae"] if name == "jmvae" else {}
            model = build_model(name, ds, {**plan["overrides"], **extra}, seed=seed)
            times[m, name] += _time_steps(
                model, ds, plan["warmup_steps"], plan["timed_steps"], plan["batch_size"]
            )
            encoders = len(model.experts) if name == "mvae" else len(model.encoders)
            counts[m, name] = (encoders, model.parameter_count())
    rows = []
    for m, name in configs:
        per_step = float(np.median(times[m, name]))
        rows.append(
            {
                "model": name,
                "modalities": m,
                "names": SCALING_ORDER[:m],
                "encoders": counts[m, name][0],
                "parameters": counts[m, name][1],
                "seconds_per_step": per_step,
                "seconds_per_step_spread": float(np.std(times[m, name])),
                "seconds_per_epoch": per_step * steps_per_epoch,
            }
        )
        _log(progress, f"  {name} M={m}: {rows[-1]}")
    return {
        "config": plan,
        "rows": rows,
        "paper": None,
        "paper_note": (
            "The paper argues the growth (one inference network per modality vs one per "
            "subset) rather than tabulating it; these counts and times are ours, measured."
        ),
        "budget_note": (
            f"time per epoch = median time of {plan['rounds'] * plan['timed_steps']} training "
            f"steps ({plan['rounds']} round(s) over all models of {plan['timed_steps']} steps "
            f"after {plan['warmup_steps']} warm-up steps) x {steps_per_epoch} steps per epoch: "
            "extrapolated, not a timed epoch; measured with "
            f"{plan['torch_threads']} torch thread(s), on whatever else the machine was doing."
        ),
    }


# ---- 7. aggregation: product vs mixture vs mixture of products ----------------------------------
AGGREGATORS: dict[str, tuple[str, str, str]] = {
    # key -> (model name, what it is, the zoo recipe with the shipped sizes)
    "poe": ("mvae", "PoE (MVAE)", "mvae_digits5"),
    "moe": ("mmvae", "MoE (MMVAE)", "mmvae_digits5"),
    "mopoe": ("mopoe", "MoPoE", "mopoe_digits5"),
}
AGG_CLOSE = 0.5  # "close to the best of both": at least halfway from the worst to the best


def coherence_by_subset_size(table: dict[str, dict[str, float]]) -> dict[int, float]:
    """Mean cross-modal coherence (generated modalities only) per number of observed ones."""
    sizes: dict[int, list[float]] = {}
    for subset, row in table.items():
        seen = subset.split("+")
        cells = [v for m, v in row.items() if m not in seen]
        if cells:
            sizes.setdefault(len(seen), []).extend(cells)
    return {k: _mean(v) for k, v in sorted(sizes.items())}


def verdict_aggregation(rows: Rows) -> Verdict:
    """Rule: (a) PoE has the highest log p(all); (b) MoE has the highest cross-modal coherence
    from one observed modality; (c) on both, MoPoE is at least halfway from the worst of the
    three to the best. All three: reproduced; one or two: partly."""
    ll, coh = _by(rows, "aggregator", "log_p_all"), _by(rows, "aggregator", "coherence_from_one")
    if set(ll) != set(AGGREGATORS) or set(coh) != set(AGGREGATORS):
        return "not run", "needs PoE, MoE and MoPoE runs"
    best_ll, best_coh = max(ll.values()), max(coh.values())
    a = ll["poe"] == best_ll
    b = coh["moe"] == best_coh

    def halfway(values: dict[str, float]) -> bool:
        lo, hi = min(values.values()), max(values.values())
        return values["mopoe"] >= lo + AGG_CLOSE * (hi - lo)

    c = halfway(ll) and halfway(coh)
    why = "; ".join(
        f"{AGGREGATORS[k][1]}: log p(all) {ll[k]:.1f} nats, coherence from one modality "
        f"{coh[k]:.1%}"
        for k in AGGREGATORS
    )
    hits = int(a) + int(b) + int(c)
    level = "reproduced" if hits == 3 else "partly" if hits else "not reproduced"
    return level, why


def _aggregator_model(
    key: str, quick: bool, ds: MultimodalDataset, plan: dict[str, Any], seed: int
):
    """The shipped checkpoint when it is this recipe's output (same config), else trained."""
    from mmviz import zoo
    from mmviz.checkpoint import CheckpointError, load_checkpoint

    name, _, rid = AGGREGATORS[key]
    recipe = zoo.recipe(rid)
    overrides = plan["overrides"] if quick else {**recipe.overrides}
    if not quick:
        try:
            ck = load_checkpoint(rid)
            wanted = build_model(name, ds, overrides, seed=recipe.settings.seed).config
            if ck.model.config == wanted:
                return ck.model, float(ck.meta.get("wall_time_s") or 0.0), "shipped checkpoint"
        except CheckpointError:
            pass
    settings = recipe.settings if not quick else _settings(plan, seed)
    model, _, secs = _fit(name, ds, overrides, settings)
    return model, secs, "trained"


def study_aggregation(quick: bool, seed: int, progress: bool) -> dict[str, Any]:
    from mmviz.demo import balanced_positions, joint_label, oracle_judges, reconstruction

    plan: dict[str, Any] = {
        "aggregators": {k: v[0] for k, v in AGGREGATORS.items()},
        "epochs": 1 if quick else "the zoo's recipes",
        "batch_size": 100,
        "max_steps": 20 if quick else None,
        "overrides": {"hidden": 32, "latent_dim": 8} if quick else "the zoo's recipes",
        "demo_samples": 100 if quick else 1000,
        "loglik_samples": 30 if quick else 300,
        "loglik_k": 5 if quick else 100,
    }
    mods = ["hand", "print", "label", "text", "sound"]
    ds = load_dataset("digits", mods, seed=0)
    if quick:
        ds = shrink(ds, 300, 100, None)
    rows = []
    for key, (name, label, _) in AGGREGATORS.items():
        model, secs, source = _aggregator_model(key, quick, ds, plan, seed)
        model.eval()
        positions = balanced_positions(ds, plan["demo_samples"])
        table = reconstruction(model, ds, positions, oracle_judges(model, ds), seed)["table"]
        by_size = coherence_by_subset_size(table)
        rows.append(
            {
                "aggregator": key,
                "name": label,
                "model": name,
                "source": source if not quick else "trained",
                "seed": seed,
                "log_p_all": marginal_loglik(
                    model, ds, mods, plan["loglik_k"], plan["loglik_samples"]
                ),
                "coherence_from_one": by_size.get(1),
                "coherence_by_subset_size": {str(k): v for k, v in by_size.items()},
                "label_from_one": _mean([table[m]["label"] for m in mods if m != "label"]),
                "self_reconstruction_all": _mean(list(table["+".join(mods)].values())),
                "joint_label_min": joint_label(model, table).get("min"),
                "seconds": round(secs, 1),
            }
        )
        _log(progress, f"  {label}: {rows[-1]}")
    return {
        "config": plan,
        "rows": rows,
        "paper": None,
        "paper_note": (
            "The MoPoE paper's PolyMNIST and MNIST-SVHN-Text figures are not comparable to ours "
            "(other data, sizes and oracles); the claim's ordering is what is checked."
        ),
        "budget_note": (
            "the shipped five-modality checkpoints when they are the zoo recipes' output, else "
            "trained with those recipes (hidden 128, latent 32; MVAE and MoPoE 25 epochs, "
            "MMVAE 10; the recipes also differ in likelihood weights: MoPoE and MMVAE weigh "
            "the label and text 50 and scale hand and sound to print's size, the MVAE is "
            "unweighted with KL annealing and a third decoder layer, so the comparison is of "
            "the shipped models, not of the aggregation alone); coherence on "
            f"{plan['demo_samples']} class-balanced test samples, log p(all) on "
            f"{plan['loglik_samples']} with K = {plan['loglik_k']}."
        ),
    }


# ---- registry and runner ------------------------------------------------------------------------
@dataclass(frozen=True)
class Study:
    """One reproduced claim: how to run it, how to judge it, and what the page says about it."""

    name: str
    title: str
    claim: str
    run: Callable[[bool, int, bool], dict[str, Any]]
    verdict: Callable[[Rows], Verdict]
    minutes: float  # full-run estimate on 2 cores, from per-step timings taken under load

    @property
    def verdict_rule(self) -> str:
        return " ".join((self.verdict.__doc__ or "").split())


STUDIES: dict[str, Study] = {
    s.name: s
    for s in [
        Study(
            "weak-supervision",
            "MVAE: weak supervision",
            "With only a small fraction of the examples paired (down to about 1%), the MVAE's "
            "label accuracy stays close to full supervision and beats a classifier trained on "
            "the pairs alone (Wu & Goodman, NeurIPS 2018, weakly-supervised MNIST experiment).",
            study_weak_supervision,
            verdict_weak_supervision,
            7,
        ),
        Study(
            "poe-vs-quotient",
            "MVAE: product vs quotient of experts",
            "A quotient of experts (MVAE-Q) in place of the MVAE's product of experts is "
            "clearly worse: lower log-likelihood and worse inference (Wu & Goodman, NeurIPS "
            "2018, MNIST log-likelihood table).",
            study_poe_vs_quotient,
            verdict_poe_vs_quotient,
            8,
        ),
        Study(
            "jmvae-alpha",
            "JMVAE-kl: the weight alpha",
            "In JMVAE-kl a larger alpha gives a better conditional log-likelihood log p(x | w) "
            "through the unimodal encoder and a slightly worse joint log p(x, w) (Suzuki, "
            "Nakayama & Matsuo 2016, MNIST log-likelihood results).",
            study_jmvae_alpha,
            verdict_jmvae_alpha,
            10,
        ),
        Study(
            "mfm-ablations",
            "MFM: ablations",
            "The full MFM (factorized latents, joint generative-discriminative objective) "
            "beats its ablations: without the factorization, without Z_y or Z_a, or trained "
            "purely discriminatively it predicts worse (Tsai et al., ICLR 2019, ablation "
            "studies).",
            study_mfm_ablations,
            verdict_mfm_ablations,
            12,
        ),
        Study(
            "lmf-rank",
            "LMF: the rank",
            "Low-rank fusion works across ranks: ranks below 10 suffice, and higher ranks can "
            "make training unstable (Liu et al., ACL 2018, section on the effect of rank).",
            study_lmf_rank,
            verdict_lmf_rank,
            9,
        ),
        Study(
            "scaling-modalities",
            "MVAE vs JMVAE: scaling with the number of modalities",
            "The MVAE needs one inference network per modality, growing linearly, while "
            "inferring from every subset with JMVAE needs one per subset, 2^M - 1, growing "
            "exponentially (Wu & Goodman, NeurIPS 2018, on JMVAE's inference networks).",
            study_scaling,
            verdict_scaling,
            1,
        ),
        Study(
            "aggregation",
            "PoE vs MoE vs MoPoE: how experts are combined",
            "A product of experts (MVAE) gives the best joint likelihood, a mixture of experts "
            "(MMVAE) the most coherent cross-modal generation, and a mixture of products "
            "(MoPoE) comes close to the best of both (Sutter, Daunhawer & Vogt, ICLR 2021).",
            study_aggregation,
            verdict_aggregation,
            12,
        ),
    ]
}

VERDICTS: dict[str, Callable[[Rows], Verdict]] = {n: s.verdict for n, s in STUDIES.items()}


def study(name: str) -> Study:
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; choose from: {', '.join(STUDIES)}")
    return STUDIES[name]


def command(name: str, quick: bool, out: Path | None = None) -> str:
    """The command that reruns a study (with --out only where it is not the default)."""
    cmd = f"python -m mmviz study {name}" + (" --quick" if quick else "")
    if out is not None and Path(out).resolve() != default_out(name, quick).resolve():
        cmd += f" --out {out}"
    return cmd


def run_study(
    name: str,
    quick: bool = False,
    out: str | Path | None = None,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Run study `name`, judge it, write the results file and return its contents."""
    from mmviz.checkpoint import atomic_write_json, code_version

    s = study(name)
    path = Path(out) if out is not None else default_out(name, quick)
    _log(progress, f"study {name}{' (quick)' if quick else ''} -> {path}")
    threads = torch.get_num_threads()
    if quick:  # tiny models gain nothing from a second thread, and lose much on a busy machine
        torch.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        body = s.run(quick, seed, progress)
        used_threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(threads)
    verdict, reason = s.verdict(body["rows"])
    result = {
        "study": name,
        "title": s.title,
        "claim": s.claim,
        "quick": quick,
        "seed": seed,
        **body,
        "verdict": verdict,
        "verdict_reason": reason,
        "verdict_rule": s.verdict_rule,
        "command": command(name, quick, Path(out) if out is not None else None),
        "code_version": code_version(),
        "torch_threads": used_threads,
        "wall_time_s": round(time.perf_counter() - t0, 1),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    atomic_write_json(path, result)
    result["path"] = str(path)
    return result


# ---- reading results (for the page) -------------------------------------------------------------
REQUIRED = ("study", "claim", "rows", "verdict", "verdict_rule", "command", "quick")


@dataclass
class Found:
    """A study's results file as the page needs it: the result, or why there is none."""

    name: str
    path: Path | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


def load_result(path: Path, name: str) -> dict[str, Any]:
    """Read and check one results file; ValueError says what is wrong with it."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not readable JSON ({e}); rerun the study") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds no JSON object; rerun the study")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}; rerun the study")
    if data["study"] != name:
        raise ValueError(f"{path} holds study {data['study']!r}, not {name!r}")
    if data["verdict"] not in VERDICT_LEVELS or not isinstance(data["rows"], list):
        raise ValueError(f"{path} has a malformed verdict or rows; rerun the study")
    return data


def load_results(root: Path | None = None) -> dict[str, Found]:
    """Every study's result: `<name>.json` if present, else the quick `<name>.quick.json`."""
    root = root or results_root()
    found = {}
    for name in STUDIES:
        f = Found(name)
        for candidate in (root / f"{name}.json", root / f"{name}.quick.json"):
            if candidate.is_file():
                f.path = candidate
                try:
                    f.result = load_result(candidate, name)
                except ValueError as e:
                    f.error = str(e)
                break
        found[name] = f
    return found


def flat_rows(rows: Rows) -> Rows:
    """Rows with nested dicts spread into "outer.inner" columns and lists joined (for tables)."""
    out = []
    for r in rows:
        flat: dict[str, Any] = {}
        for k, v in r.items():
            if isinstance(v, dict):
                for k2, v2 in v.items():
                    flat[f"{k}.{k2}"] = v2 if not isinstance(v2, dict | list) else json.dumps(v2)
            elif isinstance(v, list):
                flat[k] = ",".join(map(str, v))
            else:
                flat[k] = v
        out.append(flat)
    return out
