"""The fusion lab's numbers: every fusion model on one utterance, parameter counts, results files.

- `lab_scores`: TFN, LMF, early and late fusion on the same utterance, with modalities switched
  off (each model's own missing-modality convention: the training mean of the representation)
  and noise at a chosen SNR per modality (`data.noise.add_noise`, seeded).
- `param_counts`, `params_vs_rank`, `params_vs_size`: TFN's and LMF's fusion-layer parameters
  from the closed forms in `models.fusion`; `module_param_counts` builds the real layers (on
  PyTorch's "meta" device, so even a billion-parameter TFN costs no memory) to check them.
- `read_fusion_bench`, `read_rank_study`, `interaction_table`: the measured results the lab
  shows beside the formulas, from results/*.json and meta.json, validated with plain errors.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from mmviz.data.noise import add_noise
from mmviz.models import models_of_kind
from mmviz.models.base import MultimodalModel
from mmviz.models.fusion import (
    LowRankFusion,
    TensorFusion,
    lmf_fusion_params,
    tfn_fusion_params,
)

FUSION_MODELS = models_of_kind("fusion")  # what each model class declares as its kind
FUSION_BENCH = "fusion_bench.json"
LMF_RANK = "lmf-rank.json"


def results_dir() -> Path:
    """The results folder, read at call time (`paths.results_root()`: `$MMVIZ_RESULTS`, else
    `./results` if it exists, else the packaged results)."""
    from mmviz.paths import results_root

    return results_root()


# ---- one utterance through every model --------------------------------------------------------
def perturb(
    inputs: dict[str, Tensor],
    snr_db: Mapping[str, float | None],
    vocab_sizes: Mapping[str, int] | None = None,
    seed: int = 0,
) -> dict[str, Tensor]:
    """A copy of `inputs` with noise at snr_db[m] decibels on each modality (None: clean).

    Each modality draws from its own generator seeded by (seed, position), so moving one
    slider never changes another modality's noise.
    """
    out = dict(inputs)
    for k, m in enumerate(sorted(inputs)):
        snr = snr_db.get(m)
        if snr is None:
            continue
        g = torch.Generator().manual_seed(int(seed) * 1000 + k)
        vocab = (vocab_sizes or {}).get(m)
        out = add_noise(out, m, float(snr), generator=g, vocab_size=vocab)
    return out


@torch.inference_mode()
def lab_scores(
    models: Mapping[str, MultimodalModel],
    inputs: dict[str, Tensor],
    observed: Sequence[str],
    snr_db: Mapping[str, float | None],
    seed: int = 0,
    truth: float | None = None,
) -> pd.DataFrame:
    """Each model's score on one utterance: clean with every modality, and as the user set it
    (modalities in `observed` only, noise per `snr_db`). One row per model id."""
    if not observed:
        raise ValueError(
            "switch on at least one modality: with none, every model only returns its training mean"
        )
    rows = []
    for cid, model in models.items():
        vocab = {m: s.num_classes for m, s in model.specs.items() if s.kind == "tokens"}
        noisy = perturb({m: inputs[m] for m in model.modalities}, snr_db, vocab, seed)
        obs = [m for m in model.modalities if m in observed]
        clean = float(model.predict(inputs, None).reshape(-1)[0])
        score = float(model.predict(noisy, obs).reshape(-1)[0])
        row = {
            "model": cid,
            "kind": model.name,
            "clean score": clean,
            "score": score,
            "change": score - clean,
            "sign kept": (score >= 0) == (clean >= 0),
        }
        if truth is not None:
            row["correct sign"] = (score >= 0) == (truth >= 0)
        rows.append(row)
    return pd.DataFrame(rows)


@torch.inference_mode()
def late_fusion_parts(
    model: MultimodalModel, inputs: dict[str, Tensor], observed: Sequence[str]
) -> pd.DataFrame:
    """Late fusion's own view: each modality's unimodal score and its learned weight."""
    if not model.combines_unimodal_predictions:
        raise ValueError(f"{model.name} is not late fusion")
    obs = [m for m in model.modalities if m in observed]
    reps = model.representations({m: inputs[m] for m in obs}, obs)
    outs = model.unimodal_outputs(reps)
    weights = model.modality_weights()
    return pd.DataFrame(
        [
            {
                "modality": m,
                "unimodal score": float(o.reshape(-1)[0]),
                "weight": weights[m],
                "observed": m in obs,
            }
            for m, o in outs.items()
        ]
    )


# ---- parameter counts ----------------------------------------------------------------------------
def param_counts(dims: Sequence[int], d_h: int, rank: int) -> dict[str, float]:
    """Fusion-layer parameters of TFN and LMF from the closed forms, and TFN / LMF."""
    tfn = tfn_fusion_params(dims, d_h)
    lmf = lmf_fusion_params(dims, d_h, rank)
    return {"tfn": tfn, "lmf": lmf, "ratio": tfn / lmf}


def params_vs_rank(dims: Sequence[int], d_h: int, ranks: Sequence[int]) -> pd.DataFrame:
    """TFN (constant) and LMF fusion parameters for each rank."""
    tfn = tfn_fusion_params(dims, d_h)
    return pd.DataFrame(
        [{"rank": r, "tfn": tfn, "lmf": lmf_fusion_params(dims, d_h, r)} for r in ranks]
    )


def params_vs_size(
    dims: Sequence[int], d_h: int, rank: int, scales: Sequence[float] = (0.25, 0.5, 1, 2, 4)
) -> pd.DataFrame:
    """Both counts with every d_m scaled by each factor: TFN grows as prod d_m, LMF as sum."""
    rows = []
    for s in scales:
        ds = [max(1, int(round(d * s))) for d in dims]
        rows.append(
            {
                "scale": s,
                "dims": "x".join(map(str, ds)),
                "tfn": tfn_fusion_params(ds, d_h),
                "lmf": lmf_fusion_params(ds, d_h, rank),
            }
        )
    return pd.DataFrame(rows)


def module_param_counts(dims: Sequence[int], d_h: int, rank: int) -> dict[str, int]:
    """Parameters of the real TensorFusion and LowRankFusion layers of these sizes, built on
    the meta device (shapes only, no memory, no initialisation cost)."""
    with torch.device("meta"):
        tfn = TensorFusion(list(dims), d_h)
        lmf = LowRankFusion(list(dims), d_h, rank)
    return {
        "tfn": sum(p.numel() for p in tfn.parameters()),
        "lmf": sum(p.numel() for p in lmf.parameters()),
    }


def model_dims(model: MultimodalModel) -> dict[str, int]:
    """d_m per modality of a TFN/LMF-style model (its config's sizes)."""
    if model.kind != "fusion":
        raise ValueError(f"{model.name} has no per-modality sub-network sizes")
    return {m: int(model.dim(m)) for m in model.modalities}


# ---- results files ---------------------------------------------------------------------------
def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path.name} is not valid JSON ({e}); regenerate it") from None


def read_fusion_bench(path: str | Path | None = None) -> dict[str, Any] | None:
    """results/fusion_bench.json (`python -m mmviz bench fusion --json`), or None if absent.

    Raises ValueError naming what is wrong when the file exists but is not a fusion benchmark.
    """
    p = Path(path) if path is not None else results_dir() / FUSION_BENCH
    if not p.is_file():
        return None
    data = _read_json(p)
    ratios = data.get("ratios") if isinstance(data, dict) else None
    need = ("fusion_params", "total_params", "train", "inference")
    if not isinstance(ratios, dict) or any(
        not isinstance(ratios.get(k), int | float) for k in need
    ):
        raise ValueError(
            f"{p.name} has no 'ratios' with {', '.join(need)}: it is not the "
            "output of `python -m mmviz bench fusion --json`"
        )
    return data


def read_rank_study(path: str | Path | None = None) -> pd.DataFrame | None:
    """results/lmf-rank.json rows (rank, seed, acc2, mae, corr, fusion_params), or None."""
    p = Path(path) if path is not None else results_dir() / LMF_RANK
    if not p.is_file():
        return None
    data = _read_json(p)
    rows = data.get("rows") if isinstance(data, dict) else None
    cols = ["rank", "seed", "acc2", "mae", "corr", "fusion_params"]
    if (
        not isinstance(rows, list)
        or not rows
        or any(not isinstance(r, dict) or any(c not in r for c in cols) for r in rows)
    ):
        raise ValueError(
            f"{p.name} must hold 'rows' with {', '.join(cols)} "
            "(written by mmviz.zoo.lmf_rank_study)"
        )
    return pd.DataFrame(rows)[cols].sort_values(["rank", "seed"]).reset_index(drop=True)


def rank_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and std (over seeds) of acc2 and mae per rank, with the fusion parameters."""
    g = rows.groupby("rank")
    out = pd.DataFrame(
        {
            "acc2": g["acc2"].mean(),
            "acc2_std": g["acc2"].std(ddof=0),
            "mae": g["mae"].mean(),
            "mae_std": g["mae"].std(ddof=0),
            "fusion_params": g["fusion_params"].first(),
            "seeds": g["seed"].count(),
        }
    )
    return out.reset_index()


def interaction_table(metas: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Binary accuracy per interaction recipe (columns) per checkpoint (rows), from
    meta.json metrics "by_interaction"; checkpoints without it are left out."""
    rows = {}
    for cid, meta in metas.items():
        by = (meta.get("metrics") or {}).get("by_interaction")
        if isinstance(by, dict) and by:
            rows[cid] = {k: float(v) for k, v in by.items() if isinstance(v, int | float)}
    return pd.DataFrame.from_dict(rows, orient="index")


def snr_label(snr: float | None) -> str:
    """ "clean" when no noise is set, else the SNR in dB."""
    return "clean" if snr is None or math.isinf(snr) else f"{snr:g} dB"


def feature_names(ds_info: Mapping[str, Any], modality: str, count: int) -> list[str]:
    """Names of a sequence modality's features from the dataset info, else f0, f1, ..."""
    names = ds_info.get(f"{modality}_features")
    if isinstance(names, list | tuple) and len(names) == count:
        return [str(n) for n in names]
    return [f"f{i}" for i in range(count)]


def words_of(tokens: np.ndarray, vocab: Sequence[str] | None) -> list[str]:
    """Token ids -> one label per time step (PAD steps become "·")."""
    vocab = tuple(vocab or ())
    return [
        ("·" if i == 0 else (vocab[i] if 0 <= i < len(vocab) else "<unk>"))
        for i in np.asarray(tokens).reshape(-1).tolist()
    ]
