"""Evaluation of any checkpoint, chosen by what the model can do, never by its name.

- classifiers (`predict` gives class probabilities): test accuracy; label accuracy from every
  observed subset of the non-label modalities (the missing-modality robustness table);
- generative models (they have latent groups): coherence of cross-modal generation judged by
  the oracle classifiers, from posterior samples; importance-weighted log-likelihoods;
- regressors (`predict` gives a score): the LMF paper's metrics, per interaction recipe, and
  with modalities missing.
Results go into the checkpoint's meta.json under "metrics".
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mmviz.checkpoint import Checkpoint, CheckpointError, load_checkpoint, update_meta
from mmviz.data import load_dataset
from mmviz.data.base import MultimodalDataset
from mmviz.models import MultimodalModel, UnsupportedSubset, to_data_space

EVAL_BATCH = 500
COHERENCE_DRAWS = 3
COHERENCE_SAMPLES = 1000  # coherence is judged on the first 1,000 test samples (speed)
IW_SAMPLES = 100
QUICK_DEMO_SAMPLES = 200  # the demo suite's slice in `--quick` runs and CI


def subsets(names: list[str], min_size: int = 1) -> list[tuple[str, ...]]:
    """Every subset of `names` with at least `min_size` members, smallest first."""
    return [c for k in range(min_size, len(names) + 1) for c in itertools.combinations(names, k)]


def key(subset: Iterable[str]) -> str:
    return "+".join(subset)


def eval_positions(ds: MultimodalDataset, split: str, limit: int | None) -> np.ndarray:
    """Positions within the split to evaluate: all, or `limit` spread evenly over it (splits
    are sorted by sample index, which can follow the class, so a prefix would be biased)."""
    n = len(ds.indices(split))
    if limit is None or limit >= n:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, limit)).astype(int))


def batched(ds: MultimodalDataset, split: str, limit: int | None, batch: int = EVAL_BATCH):
    pos = eval_positions(ds, split, limit)
    for start in range(0, len(pos), batch):
        sl = pos[start : start + batch]
        yield ds.tensors(split, sl), {k: ds.target_tensor(split, k, sl) for k in ds.targets}


@torch.no_grad()
def _predict_all(model: MultimodalModel, ds: MultimodalDataset, observed, limit) -> Tensor:
    return torch.cat([model.predict(x, observed) for x, _ in batched(ds, "test", limit)])


def _targets(ds: MultimodalDataset, name: str, limit: int | None) -> Tensor:
    return ds.target_tensor("test", name, eval_positions(ds, "test", limit))


def classification_metrics(model, ds, limit=None, class_target="class") -> dict[str, Any]:
    """Accuracy with all inputs, and from every subset of the non-label modalities."""
    y = _targets(ds, class_target, limit)
    label = model.label_modality
    inputs = [m for m in model.modalities if m != label]
    out: dict[str, Any] = {}
    if not inputs:
        return out
    table: dict[str, float | None] = {}
    reasons: dict[str, str] = {}
    for s in subsets(inputs):
        try:
            p = _predict_all(model, ds, list(s), limit)
        except UnsupportedSubset as e:
            table[key(s)], reasons[key(s)] = None, str(e)
            continue
        table[key(s)] = float((p.argmax(-1) == y).float().mean())
    if label is None and len(inputs) == 1:
        out["test_accuracy"] = table[key(inputs)]
    else:
        out["label_accuracy"] = table
        if reasons:
            out["label_accuracy_unsupported"] = reasons
    return out


# ---- coherence ---------------------------------------------------------------------------
@cache
def _oracle(modality: str) -> MultimodalModel | None:
    try:
        return load_checkpoint(f"oracle_{modality}").model
    except CheckpointError:
        return None


def oracle_logits(modality: str, ds: MultimodalDataset, x: Tensor) -> Tensor:
    """The judge for `modality`: the label judges itself; others need a shipped oracle."""
    spec = ds.specs[modality]
    if spec.kind == "categorical":
        return torch.log(x.clamp_min(1e-8)) if x.dim() == 2 else x
    return _oracle(modality).logits(x)


@torch.no_grad()
def coherence_metrics(model, ds, limit=None, draws=COHERENCE_DRAWS, seed=0) -> dict[str, Any]:
    """Accuracy of the oracle on modalities generated from sources (single ones and all).

    Generation decodes posterior *samples* and averages accuracy over `draws` draws: decoding
    the posterior mean gives one prototype per class and inflates coherence, so that figure
    is reported separately as `coherence_mean`.
    """
    y = _targets(ds, "class", limit)
    mods = model.modalities
    judged = [m for m in mods if oracle_available(m, ds)]
    sources = [(m,) for m in mods] + ([tuple(mods)] if len(mods) > 2 else [])
    sampled: dict[str, float] = {}
    mean_decoded: dict[str, float] = {}
    gen = torch.Generator().manual_seed(seed)
    for src in sources:
        targets = [m for m in judged if m not in src or len(src) == len(mods)]
        hits = {m: 0.0 for m in targets}
        hits_mean = {m: 0.0 for m in targets}
        offset = 0
        try:
            for x, _ in batched(ds, "test", limit):
                yb = y[offset : offset + len(next(iter(x.values())))]
                offset += len(yb)
                post = model.encode(x, list(src))
                for d in range(draws + 1):
                    z = {g: (p.mean if d == draws else p.sample(gen)) for g, p in post.items()}
                    params = model.decode(z, targets)
                    for m in targets:
                        logits = oracle_logits(m, ds, to_data_space(ds.specs[m], params[m]))
                        ok = float((logits.argmax(-1) == yb).sum())
                        if d == draws:
                            hits_mean[m] += ok
                        else:
                            hits[m] += ok / draws
        except UnsupportedSubset:
            continue
        for m in targets:
            sampled[f"{key(src)}->{m}"] = hits[m] / len(y)
            mean_decoded[f"{key(src)}->{m}"] = hits_mean[m] / len(y)
    if not sampled:
        return {}
    return {
        "coherence": sampled,
        "coherence_mean": mean_decoded,
        "coherence_samples": len(y),
        "coherence_draws": draws,
    }


def oracle_available(modality: str, ds: MultimodalDataset) -> bool:
    return ds.specs[modality].kind == "categorical" or _oracle(modality) is not None


# ---- log-likelihoods -----------------------------------------------------------------------
@torch.no_grad()
def loglik_metrics(model, ds, limit=300, k=IW_SAMPLES) -> dict[str, Any]:
    """Importance-weighted estimates (K samples) as in the MVAE and JMVAE papers."""
    if not model.estimates_log_likelihood or "hand" not in model.modalities:
        return {}
    fn = model.log_likelihood_iw
    label = model.label_modality
    queries: dict[str, tuple[list[str], list[str]]] = {"hand": (["hand"], [])}
    if label:
        queries["hand|" + label] = (["hand"], [label])
        queries["hand," + label] = (["hand", label], [])
    out: dict[str, float] = {}
    torch.manual_seed(0)
    for name, (target, given) in queries.items():
        vals = []
        for x, _ in batched(ds, "test", limit, batch=100):
            try:
                vals.append(fn(x, target, given, k))
            except UnsupportedSubset:
                vals = []
                break
        if vals:
            out[name] = float(torch.cat(vals).mean())
    return {"loglik": out, "loglik_k": k, "loglik_samples": limit} if out else {}


# ---- regression (sentiment) ----------------------------------------------------------------
def regression_scores(pred: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """The LMF paper's metrics: MAE, Pearson r, binary accuracy and F1, 7-class accuracy."""
    from sklearn.metrics import f1_score

    yb, pb = score >= 0, pred >= 0
    return {
        "mae": float(np.abs(pred - score).mean()),
        "corr": float(np.corrcoef(pred, score)[0, 1]) if pred.std() > 0 else 0.0,
        "acc2": float((yb == pb).mean()),
        "f1": float(f1_score(yb, pb, average="weighted")),
        "acc7": float((np.clip(np.round(pred), -3, 3) == np.clip(np.round(score), -3, 3)).mean()),
    }


@torch.no_grad()
def regression_metrics(model, ds, limit=None) -> dict[str, Any]:
    score = _targets(ds, "score", limit).numpy()
    pred = _predict_all(model, ds, None, limit).reshape(-1).numpy()
    out: dict[str, Any] = regression_scores(pred, score)
    if "interaction" in ds.factors:
        names = ds.info.get("interactions", [])
        inter = ds.factors["interaction"][ds.indices("test")[eval_positions(ds, "test", limit)]]
        recipes = [(names[c] if c < len(names) else str(c), c) for c in np.unique(inter)]
        right = (pred >= 0) == (score >= 0)
        out["by_interaction"] = {name: float(right[inter == c].mean()) for name, c in recipes}
    missing: dict[str, float] = {}
    missing_by: dict[str, dict[str, float]] = {}
    mods = model.modalities
    for s in subsets(mods):
        if len(s) == len(mods):
            continue
        gone = [m for m in mods if m not in s]
        try:
            p = _predict_all(model, ds, list(s), limit).reshape(-1).numpy()
        except UnsupportedSubset:
            continue
        key = "-" + "-".join(gone)
        right = (p >= 0) == (score >= 0)
        missing[key] = float(right.mean())
        if "by_interaction" in out:
            missing_by[key] = {name: float(right[inter == c].mean()) for name, c in recipes}
    out["missing"] = missing
    if missing_by:
        # the robustness table per recipe: with `visual` missing, unique_visual samples should
        # fall to chance while redundant ones, which every modality tells, stay right
        out["missing_by_interaction"] = missing_by
    params = {"total": model.parameter_count()}
    fusion = model.fusion_parameter_count()
    if fusion is not None:
        params["fusion"] = int(fusion)
    out["params"] = params
    return out


# ---- entry point ---------------------------------------------------------------------------
def evaluation_dataset(ck: Checkpoint) -> MultimodalDataset:
    return load_dataset(ck.meta.get("dataset", "digits"), ck.model.modalities, seed=0)


def evaluate_model(
    model: MultimodalModel, ds: MultimodalDataset, quick: bool = False
) -> dict[str, Any]:
    """All metrics that apply to `model` on the test split (a 200-sample slice when quick)."""
    limit = 200 if quick else None
    metrics: dict[str, Any] = {"test_samples": len(ds.indices("test")) if limit is None else limit}
    probe = {k: v[:2] for k, v in ds.tensors("test", slice(0, 2)).items()}
    try:
        with torch.no_grad():
            out = model.predict(probe, None)
    except NotImplementedError:
        out = None
    if out is not None and out.dim() == 2:
        metrics.update(classification_metrics(model, ds, limit))
    elif out is not None:
        metrics.update(regression_metrics(model, ds, limit))
    if model.latent_groups and "class" in ds.targets:
        metrics.update(coherence_metrics(model, ds, limit or COHERENCE_SAMPLES))
        metrics.update(loglik_metrics(model, ds, limit=100 if quick else 300))
    for applies, fn in EXTRA_METRICS.values():
        if applies(model):
            metrics.update(fn(model, ds, limit))
    if model.latent_groups and ds.name == "digits":
        from mmviz.demo import DEMO_SAMPLES, demo_suite

        # what the pages show a person, judged against the true class (see mmviz/demo.py)
        metrics["demo"] = demo_suite(model, ds, QUICK_DEMO_SAMPLES if quick else DEMO_SAMPLES)
    return metrics


# ---- factorised models (MFM) -----------------------------------------------------------------
def _mean_imputed(x: dict[str, Tensor], means: dict[str, Tensor], missing: list[str]):
    return {m: (means[m].expand_as(v).to(v.dtype) if m in missing else v) for m, v in x.items()}


@torch.no_grad()
def surrogate_metrics(model, ds, limit=None) -> dict[str, Any]:
    """The head's accuracy per observed subset without surrogate inference, for comparison
    with `label_accuracy` (which uses it): a missing input is replaced by its training mean
    (PAD tokens for token sequences) and fed to the full multimodal encoder."""
    if model.label_modality is None or "class" not in ds.targets:
        return {}
    train = ds.tensors("train")
    means = {
        m: (torch.zeros_like(v[:1]) if v.dtype == torch.int64 else v.mean(0, keepdim=True))
        for m, v in train.items()
    }
    y = _targets(ds, "class", limit)
    inputs = [m for m in model.modalities if m != model.label_modality]
    table = {}
    for s in subsets(inputs):
        missing = [m for m in inputs if m not in s]
        preds = [
            model.predict(_mean_imputed(x, means, missing), None)
            for x, _ in batched(ds, "test", limit)
        ]
        table[key(s)] = float((torch.cat(preds).argmax(-1) == y).float().mean())
    return {"label_accuracy_mean_imputed": table}


@torch.no_grad()
def factor_mi_metrics(model, ds, limit=None, factors=("class", "print_fg_hue")) -> dict[str, Any]:
    """Which latent group holds what: per group, the largest mutual information (nats, kNN
    estimate) between one of its dimensions and a ground-truth factor."""
    from sklearn.feature_selection import mutual_info_classif, mutual_info_regression

    if len(model.latent_groups) < 2:
        return {}
    table = ds.factor_table("test")
    wanted = [f for f in factors if f in table]
    codes: dict[str, list[Tensor]] = {g: [] for g in model.latent_groups}
    for x, _ in batched(ds, "test", limit):
        for g, p in model.encode(x, None).items():
            codes[g].append(p.mean)
    out: dict[str, dict[str, float]] = {}
    for g, parts in codes.items():
        z = torch.cat(parts).numpy()
        out[g] = {}
        for f in wanted:
            target = table[f].to_numpy()[eval_positions(ds, "test", limit)]
            kind = "categorical" if f == "class" else ds.factor_kinds.get(f, "continuous")
            fn = mutual_info_classif if kind == "categorical" else mutual_info_regression
            out[g][f] = float(fn(z, target, random_state=0).max())
    return {"factor_mi": out}


# Model-specific extras, keyed by what they add: (the capability that makes one apply, it).
EXTRA_METRICS: dict[
    str, tuple[Callable[[MultimodalModel], bool], Callable[..., dict[str, Any]]]
] = {
    "label_accuracy_mean_imputed": (lambda m: m.has_surrogate_inference, surrogate_metrics),
    "factor_mi": (lambda m: m.factorised, factor_mi_metrics),
}


def evaluate_checkpoint(ref, write: bool = True, quick: bool = False) -> dict[str, Any]:
    ck = load_checkpoint(ref)
    metrics = evaluate_model(ck.model, evaluation_dataset(ck), quick=quick)
    if write and not quick:
        update_meta(ck.path, metrics=metrics)
    return metrics
