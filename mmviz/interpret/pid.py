"""Partial information decomposition (PID) of two modalities about a label.

I(X1, X2; Y) = redundancy + unique(X1) + unique(X2) + synergy (Williams & Beer 2010). As in
Liang et al. (NeurIPS 2023, "Quantifying & modeling multimodal interactions"), X1 and X2 are
discretised unimodal representations or predictions, the joint distribution is the empirical
one, and the decomposition is BROJA's (Bertschinger et al. 2014): unique information is the
minimum of I(X1; Y | X2) over distributions with the same (X1, Y) and (X2, Y) marginals,
solved here as an exponential-cone program (dit's "cone" method with ECOS). Also available:
dit's I_min (Williams & Beer) and the minimum-mutual-information PID (MMI, closed form, no
dit needed). Values are in bits; every result says which measure produced it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mmviz.data.base import ModalitySpec, MultimodalDataset
from mmviz.interpret.information import single_threaded

MEASURES = ("broja", "wb", "mmi")


@dataclass
class PIDResult:
    """Redundancy, unique information of each source, synergy and their total, in bits."""

    redundancy: float
    unique1: float
    unique2: float
    synergy: float
    total: float
    measure: str
    n: int

    def as_dict(self) -> dict[str, float | str | int]:
        return {
            "redundancy": self.redundancy,
            "unique1": self.unique1,
            "unique2": self.unique2,
            "synergy": self.synergy,
            "total": self.total,
            "measure": self.measure,
            "n": self.n,
        }


def _codes(a: np.ndarray) -> np.ndarray:
    return np.unique(np.asarray(a).ravel(), return_inverse=True)[1].astype(np.int64)


def _joint(x1: np.ndarray, x2: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Empirical p(x1, x2, y) as a dense 3-D array."""
    a, b, c = _codes(x1), _codes(x2), _codes(y)
    if not len(a) == len(b) == len(c):
        raise ValueError(f"x1, x2, y must have the same length ({len(a)}, {len(b)}, {len(c)})")
    if len(a) == 0:
        raise ValueError("PID needs at least one sample")
    p = np.zeros((a.max() + 1, b.max() + 1, c.max() + 1))
    np.add.at(p, (a, b, c), 1.0)
    return p / p.sum()


def _mi_bits(pxy: np.ndarray) -> float:
    """I(X; Y) in bits from a 2-D joint."""
    px, py = pxy.sum(1, keepdims=True), pxy.sum(0, keepdims=True)
    nz = pxy > 0
    return float((pxy[nz] * np.log2(pxy[nz] / (px @ py)[nz])).sum())


def _mmi(p: np.ndarray) -> tuple[float, float, float, float]:
    i1 = _mi_bits(p.sum(1))
    i2 = _mi_bits(p.sum(0))
    i12 = _mi_bits(p.reshape(-1, p.shape[2]))
    r = min(i1, i2)
    return r, i1 - r, i2 - r, i12 - i1 - i2 + r


def _dit(p: np.ndarray, measure: str) -> tuple[float, float, float, float, str]:
    try:
        import dit
        from dit.pid import PID_BROJA, PID_WB
    except ImportError as e:  # pragma: no cover - dit is a pinned dependency
        raise ImportError(
            f"PID measure {measure!r} needs the 'dit' package (pip install dit ecos); "
            "measure='mmi' works without it"
        ) from e
    idx = np.argwhere(p > 0)
    outcomes = [tuple(int(v) for v in row) for row in idx]
    dist = dit.Distribution(outcomes, [float(p[tuple(row)]) for row in idx])
    if measure == "broja":
        try:
            import ecos  # noqa: F401

            pid = PID_BROJA(dist, [[0], [1]], [2], method="cone")
            name = "BROJA (dit, exponential cone / ECOS)"
        except ImportError:
            pid = PID_BROJA(dist, [[0], [1]], [2])
            name = "BROJA (dit, scipy)"
    else:
        pid = PID_WB(dist, [[0], [1]], [2])
        name = "I_min, Williams & Beer (dit)"
    r = float(pid.get_pi(((0,), (1,))))
    u1 = float(pid.get_pi(((0,),)))
    u2 = float(pid.get_pi(((1,),)))
    s = float(pid.get_pi(((0, 1),)))
    return r, u1, u2, s, name


def _clean(v: float) -> float:
    """Solver round-off (|v| < 1e-7) becomes 0, so tables do not show -0.0000."""
    return 0.0 if abs(v) < 1e-7 else float(v)


def pid_from_samples(
    x1: np.ndarray, x2: np.ndarray, y: np.ndarray, measure: str = "broja"
) -> PIDResult:
    """PID of discrete sources x1, x2 about discrete y from paired samples (bits)."""
    if measure not in MEASURES:
        raise ValueError(f"unknown PID measure {measure!r}; choose from: {', '.join(MEASURES)}")
    p = _joint(x1, x2, y)
    n = len(np.asarray(y).ravel())
    total = _mi_bits(p.reshape(-1, p.shape[2]))
    if measure == "mmi" or p.shape[2] < 2:
        r, u1, u2, s = _mmi(p)
        name = "MMI (minimum mutual information)"
    elif p.shape[0] < 2 or p.shape[1] < 2:
        # a constant source carries nothing: every measure agrees, no solver needed
        r, u1, u2, s = _mmi(p)
        name = {"broja": "BROJA", "wb": "I_min, Williams & Beer"}[measure] + " (constant source)"
    else:
        r, u1, u2, s, name = _dit(p, measure)
    return PIDResult(_clean(r), _clean(u1), _clean(u2), _clean(s), _clean(total), name, n)


# ---------------------------------------------------------------------------------------------
# Discretised unimodal cues
# ---------------------------------------------------------------------------------------------
def pooled_features(x: np.ndarray, spec: ModalitySpec) -> np.ndarray:
    """One vector per sample, order-free: what a simple unimodal model reads.

    tokens: bag of words (counts / length, PAD dropped); sequences: mean and std over real
    (not all-zero) steps; categorical: one-hot; images and spectrograms: flattened.
    """
    x = np.asarray(x)
    n = len(x)
    if spec.kind == "tokens":
        v = spec.num_classes
        counts = np.zeros((n, v))
        np.add.at(counts, (np.repeat(np.arange(n), x.shape[1]), x.ravel()), 1.0)
        counts[:, 0] = 0.0
        return counts / np.maximum(counts.sum(1, keepdims=True), 1.0)
    if spec.kind == "categorical":
        return np.eye(spec.num_classes)[x.astype(np.int64).ravel()]
    if spec.kind == "sequence":
        xf = x.astype(np.float64)
        mask = (xf != 0).any(axis=-1, keepdims=True).astype(np.float64)
        cnt = np.maximum(mask.sum(1), 1.0)
        mean = (xf * mask).sum(1) / cnt
        var = (((xf - mean[:, None]) ** 2) * mask).sum(1) / cnt
        return np.hstack([mean, np.sqrt(var)])
    return x.reshape(n, -1).astype(np.float64)


@single_threaded
def discretize_features(
    features: np.ndarray,
    k: int = 3,
    fit_index: np.ndarray | None = None,
    seed: int = 0,
) -> np.ndarray:
    """k-means cluster ids (standardised features; fit on `fit_index` rows, or all)."""
    from sklearn.cluster import KMeans

    f = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    fit = f if fit_index is None else f[fit_index]
    mu, sd = fit.mean(0), fit.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit((fit - mu) / sd)
    return km.predict((f - mu) / sd).astype(np.int64)


@single_threaded
def unimodal_cues(
    ds: MultimodalDataset,
    split: str = "test",
    modalities: Sequence[str] | None = None,
    method: str | Mapping[str, str] = "predictor",
    target: str | None = None,
    k: int = 3,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """A discrete cue per modality for the samples of `split`, from simple unimodal models.

    method (one for all, or modality -> method): "predictor": a logistic regression on the
    modality's pooled features, trained on the train split to predict `target` (default:
    "binary" where the dataset has it, else its default target), giving the predicted class;
    "kmeans": k-means with k clusters of the pooled features, fit on the train split.

    A predictor only keeps what predicts the label on its own, so it cannot expose a cue that
    matters only jointly (sentiment's sarcasm, independent of the sign): use "kmeans" for
    such modalities, e.g. {"language": "predictor", "acoustic": "kmeans"}.
    """
    from sklearn.linear_model import LogisticRegression

    mods = list(modalities) if modalities is not None else ds.modalities
    tr, ev = ds.indices("train"), ds.indices(split)
    key = target or ("binary" if "binary" in ds.targets else ds.target)
    y = np.asarray(ds.targets[key])
    out = {}
    for m in mods:
        feats = pooled_features(ds.data[m], ds.specs[m])
        how = method if isinstance(method, str) else method.get(m, "predictor")
        if how == "predictor":
            mu, sd = feats[tr].mean(0), feats[tr].std(0)
            sd = np.where(sd > 0, sd, 1.0)
            clf = LogisticRegression(C=1.0, max_iter=500).fit((feats[tr] - mu) / sd, y[tr])
            out[m] = clf.predict((feats[ev] - mu) / sd).astype(np.int64)
        elif how == "kmeans":
            out[m] = discretize_features(feats, k, fit_index=tr, seed=seed)[ev]
        else:
            raise ValueError(f"method must be 'predictor' or 'kmeans', not {how!r}")
    return out


def pid_by_group(
    cues: Mapping[str, np.ndarray],
    y: np.ndarray,
    groups: np.ndarray | None = None,
    group_names: Sequence[str] | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
    measure: str = "broja",
) -> pd.DataFrame:
    """PID per modality pair, overall and within each group (e.g. sentiment's recipe).

    groups: one group id per sample (None: all samples together); group_names: names for the
    ids 0..G-1. Returns one row per (group, pair).
    """
    y = np.asarray(y).ravel()
    pairs = list(pairs) if pairs is not None else list(itertools.combinations(cues, 2))
    if groups is None:
        sets = [("all", np.arange(len(y)))]
    else:
        g = np.asarray(groups).ravel()
        ids = np.unique(g)
        sets = [
            (
                str(group_names[int(i)]) if group_names is not None else str(i),
                np.flatnonzero(g == i),
            )
            for i in ids
        ]
    rows = []
    for name, idx in sets:
        for a, b in pairs:
            r = pid_from_samples(cues[a][idx], cues[b][idx], y[idx], measure)
            rows.append({"group": name, "modality1": a, "modality2": b, **r.as_dict()})
    return pd.DataFrame(rows)


def default_cue_methods(ds: MultimodalDataset) -> dict[str, str]:
    """A predictor for discrete modalities (words carry the label's sign directly), k-means
    for real-valued ones (so that cues which matter only jointly, like a sarcastic voice,
    survive)."""
    return {
        m: ("predictor" if s.kind in ("tokens", "categorical") else "kmeans")
        for m, s in ds.specs.items()
    }


def pid_by_recipe(
    ds: MultimodalDataset,
    split: str = "test",
    group_factor: str | None = "interaction",
    modalities: Sequence[str] | None = None,
    method: str | Mapping[str, str] | None = None,
    k: int = 3,
    measure: str = "broja",
    seed: int = 0,
) -> pd.DataFrame:
    """PID of every modality pair about the binary target (or the default target), per value
    of a ground-truth factor (sentiment: the interaction recipe) and overall.

    Cues come from `unimodal_cues` (method default: `default_cue_methods`). Group names come
    from `ds.info["interactions"]` for sentiment's recipe factor; a dataset without
    `group_factor` gets the overall rows only.
    """
    idx = ds.indices(split)
    mods = list(modalities) if modalities is not None else ds.modalities
    how = method if method is not None else default_cue_methods(ds)
    cues = unimodal_cues(ds, split, mods, how, k=k, seed=seed)
    key = "binary" if "binary" in ds.targets else ds.target
    y = np.asarray(ds.targets[key])[idx]
    overall = pid_by_group(cues, y, measure=measure)
    if group_factor is None or group_factor not in ds.factors:
        return overall
    names = ds.info.get("interactions") if group_factor == "interaction" else None
    per = pid_by_group(cues, y, ds.factors[group_factor][idx], names, measure=measure)
    return pd.concat([per, overall], ignore_index=True)
