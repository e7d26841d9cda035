"""What the analysis pages report, as pure functions of checkpoints, datasets and models.

Three groups, one per page that needs them (the pages only lay these results out):

1. Model report: a checkpoint's meta.json turned into tables (metrics in long form, the
   missing-modality robustness table, coherence source x target, log-likelihoods, training
   curves, config) and files (CSV, JSON), plus provenance with the weights checksum verified
   against the file on disk.
2. Information: latent codes against ground-truth factors (MI matrix, MIG, SAP, DCI), MFM's
   information- and gradient-based views over a slice of the test set, the PID of modality
   pairs per `sentiment` recipe beside the recipe's ground truth, and each fusion model's
   accuracy drop when a modality goes missing.
3. Attributions: which targets and methods apply to a model, building the `Target`, and the
   words of a token modality paired with their attributions.

Nothing here imports Streamlit; everything is deterministic for its arguments, so pages cache
results by checkpoint id and settings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from mmviz.checkpoint import WEIGHTS, sha256_file
from mmviz.data.base import MultimodalDataset
from mmviz.models.base import MultimodalModel

# =============================================================================================
# 1. Model report
# =============================================================================================


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def flatten_metrics(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """Every metric as one row (metric, key, value, text): nested dicts become a `/`-joined key.

    Numbers land in `value`; anything else (an unsupported subset's reason, a string) in `text`,
    so the CSV keeps it without mixing types in one column.
    """
    rows: list[dict[str, Any]] = []

    def walk(metric: str, path: list[str], v: Any) -> None:
        if isinstance(v, Mapping):
            if not v:
                rows.append({"metric": metric, "key": "/".join(path), "value": None, "text": "{}"})
            for k, sub in v.items():
                walk(metric, [*path, str(k)], sub)
            return
        num = _number(v)
        text = "" if num is not None else (json.dumps(v) if not isinstance(v, str) else v)
        rows.append({"metric": metric, "key": "/".join(path), "value": num, "text": text})

    for name, v in metrics.items():
        walk(str(name), [], v)
    return pd.DataFrame(rows, columns=["metric", "key", "value", "text"])


def metrics_csv(metrics: Mapping[str, Any]) -> str:
    """The metrics as CSV text (columns metric, key, value, text)."""
    return flatten_metrics(metrics).to_csv(index=False)


PROVENANCE_FIELDS = (
    "dataset",
    "dataset_version",
    "seed",
    "code_version",
    "wall_time_s",
    "weights_sha256",
)


def metrics_json(cid: str, meta: Mapping[str, Any]) -> str:
    """The metrics as JSON, with the checkpoint's id, model and provenance alongside."""
    doc = {
        "id": cid,
        "model": meta.get("model"),
        **{k: meta.get(k) for k in PROVENANCE_FIELDS},
        "metrics": meta.get("metrics", {}),
    }
    return json.dumps(doc, indent=2, default=str)


@dataclass
class RobustnessTable:
    """Accuracy per observed subset of input modalities (the missing-modality table).

    table: one row per observed subset (label like "hand+print"), a bool column per modality
        (observed or not) and `accuracy` (NaN where the model has no inference path).
    metric: which meta.json entry it came from; notes: reasons for unsupported subsets.
    """

    metric: str
    modalities: list[str]
    table: pd.DataFrame
    notes: dict[str, str] = field(default_factory=dict)


def _subset_rows(
    entries: Mapping[str, Any], modalities: list[str], parse: Any
) -> tuple[list[dict[str, Any]], list[str]]:
    rows, order = [], []
    for key, value in entries.items():
        observed = parse(key)
        if observed is None:
            continue
        extra = sorted(set(observed) - set(modalities))
        mods = modalities + [m for m in extra if m not in modalities]
        for m in extra:
            if m not in order:
                order.append(m)
        row = {m: (m in observed) for m in mods}
        num = _number(value)
        row["accuracy"] = float("nan") if num is None else num
        row["subset"] = "+".join(m for m in mods if m in observed)
        rows.append(row)
    return rows, order


def robustness_tables(
    metrics: Mapping[str, Any], modalities: Sequence[str]
) -> list[RobustnessTable]:
    """The missing-modality tables found in `metrics`: label_accuracy (and MFM's
    label_accuracy_mean_imputed) keyed by observed subset "a+b", or sentiment's `missing`
    keyed by the modalities taken away ("-visual-acoustic"), with `acc2` as the full row.

    Rows are sorted by how many modalities are observed (all first), then in modality order.
    """
    mods = list(modalities)
    out: list[RobustnessTable] = []
    for metric in ("label_accuracy", "label_accuracy_mean_imputed"):
        entries = metrics.get(metric)
        if not isinstance(entries, Mapping) or not entries:
            continue
        rows, extra = _subset_rows(entries, mods, lambda k: [m for m in str(k).split("+") if m])
        notes = metrics.get(f"{metric}_unsupported") or {}
        out.append(_finish(metric, mods + extra, rows, dict(notes)))
    missing = metrics.get("missing")
    if isinstance(missing, Mapping) and missing:

        def parse(k: str) -> list[str] | None:
            gone = [m for m in str(k).split("-") if m]
            return [m for m in mods if m not in gone]

        rows, extra = _subset_rows(missing, mods, parse)
        full = _number(metrics.get("acc2"))
        if full is not None:
            rows.append({**{m: True for m in mods}, "accuracy": full, "subset": "+".join(mods)})
        out.append(_finish("missing", mods + extra, rows, {}))
    return out


def interaction_robustness(
    metrics: Mapping[str, Any], modalities: Sequence[str]
) -> pd.DataFrame | None:
    """Binary accuracy per observed subset (rows, all observed first) and interaction recipe
    (columns), from `by_interaction` and `missing_by_interaction`; None when not measured.

    This is where "with the face missing, face-only utterances fall to chance while redundant
    ones stay right" can be read off.
    """
    full = metrics.get("by_interaction")
    by = metrics.get("missing_by_interaction")
    if not isinstance(full, Mapping) or not isinstance(by, Mapping) or not by:
        return None
    mods = list(modalities)
    rows: dict[str, dict[str, float]] = {"+".join(mods): dict(full)}
    for key, accs in by.items():
        if not isinstance(accs, Mapping):
            continue
        gone = [m for m in str(key).split("-") if m]
        rows["+".join(m for m in mods if m not in gone) or "(none)"] = dict(accs)
    df = pd.DataFrame.from_dict(rows, orient="index", columns=list(full))
    df = df.apply(pd.to_numeric, errors="coerce").astype(float)
    order = sorted(
        df.index,
        key=lambda k: (-len(k.split("+")), [mods.index(m) for m in k.split("+") if m in mods]),
    )
    return df.loc[order]


def _finish(
    metric: str, mods: list[str], rows: list[dict], notes: dict[str, str]
) -> RobustnessTable:
    df = pd.DataFrame(rows, columns=[*mods, "accuracy", "subset"])
    for m in mods:
        df[m] = df[m].fillna(False).astype(bool)
    df["n_observed"] = df[mods].sum(axis=1)
    rank = {m: i for i, m in enumerate(mods)}
    df["_order"] = [tuple(rank[m] for m in mods if r[m]) for _, r in df[mods].iterrows()]
    df = df.sort_values(["n_observed", "_order"], ascending=[False, True], kind="stable")
    df = df.drop(columns="_order").set_index("subset")
    df["accuracy"] = df["accuracy"].astype(float)
    return RobustnessTable(metric, mods, df, notes)


def coherence_matrix(coherence: Mapping[str, Any]) -> pd.DataFrame:
    """Coherence keyed "source->target" as a source x target table (NaN where not measured).

    Sources keep their first-seen order (single modalities first as the evaluation writes
    them, then "a+b+c"); targets likewise.
    """
    sources: list[str] = []
    targets: list[str] = []
    values: dict[tuple[str, str], float] = {}
    for key, v in coherence.items():
        src, sep, tgt = str(key).partition("->")
        num = _number(v)
        if not sep or num is None:
            continue
        if src not in sources:
            sources.append(src)
        if tgt not in targets:
            targets.append(tgt)
        values[(src, tgt)] = num
    df = pd.DataFrame(np.nan, index=sources, columns=targets, dtype=float)
    for (s, t), v in values.items():
        df.loc[s, t] = v
    df.index.name, df.columns.name = "source", "target"
    return df


def loglik_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """Importance-weighted log-likelihoods ("loglik") as rows (query, log-likelihood, K)."""
    ll = metrics.get("loglik")
    if not isinstance(ll, Mapping):
        return pd.DataFrame(columns=["query", "log-likelihood", "K"])
    k = metrics.get("loglik_k")
    rows = [
        {"query": f"log p({q})", "log-likelihood": _number(v), "K": k}
        for q, v in ll.items()
        if _number(v) is not None
    ]
    return pd.DataFrame(rows, columns=["query", "log-likelihood", "K"])


def training_curves(meta: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """Per training phase: epoch, train_loss, valid_loss (epochs start at 1).

    Phases without curves (or with malformed ones) are left out; lengths may differ (a
    validation loss per epoch, a training loss per epoch), shorter lists are NaN-padded.
    """
    phases = ((meta.get("training") or {}).get("phases") or {}) if isinstance(meta, Mapping) else {}
    out: dict[str, pd.DataFrame] = {}
    if not isinstance(phases, Mapping):
        return out
    for name, ph in phases.items():
        if not isinstance(ph, Mapping):
            continue
        curves = {
            k: [float(x) if _number(x) is not None else float("nan") for x in ph.get(k) or []]
            for k in ("train_loss", "valid_loss")
            if isinstance(ph.get(k), list)
        }
        n = max((len(v) for v in curves.values()), default=0)
        if n == 0:
            continue
        df = pd.DataFrame({"epoch": np.arange(1, n + 1)})
        for k, v in curves.items():
            df[k] = v + [float("nan")] * (n - len(v))
        out[str(name)] = df
    return out


def config_table(config: Mapping[str, Any]) -> pd.DataFrame:
    """config.json's model settings as (field, value) rows; nested values as JSON text."""
    cfg = config.get("config", {}) if isinstance(config, Mapping) else {}
    rows = [{"field": "model", "value": str(config.get("model", "?"))}]
    for k, v in (cfg or {}).items():
        rows.append({"field": str(k), "value": v if isinstance(v, str) else json.dumps(v)})
    specs = config.get("specs") or []
    if isinstance(specs, list):
        for s in specs:
            if isinstance(s, Mapping):
                shape = "x".join(str(d) for d in s.get("shape", ())) or "scalar"
                rows.append(
                    {
                        "field": f"modality {s.get('name', '?')}",
                        "value": f"{s.get('kind', '?')} {shape}, {s.get('likelihood', '?')}",
                    }
                )
    return pd.DataFrame(rows, columns=["field", "value"])


@dataclass
class WeightsCheck:
    """The recorded weights checksum against the file: ok None when nothing was recorded."""

    recorded: str | None
    actual: str | None
    ok: bool | None
    message: str


def verify_weights(path: str | Path, recorded: str | None) -> WeightsCheck:
    """sha256 of `path/model.safetensors` compared with the checksum meta.json recorded."""
    weights = Path(path) / WEIGHTS
    if not weights.is_file():
        return WeightsCheck(recorded, None, False, f"{weights.name} is missing")
    actual = sha256_file(weights)
    if not recorded:
        return WeightsCheck(None, actual, None, "meta.json records no checksum to compare with")
    if actual == recorded:
        return WeightsCheck(recorded, actual, True, "the file matches the recorded checksum")
    return WeightsCheck(
        recorded,
        actual,
        False,
        "the file does NOT match the recorded checksum: the weights changed after training "
        "(or the file is damaged); retrain or restore it",
    )


def provenance(path: str | Path, meta: Mapping[str, Any]) -> tuple[pd.DataFrame, WeightsCheck]:
    """Where a checkpoint came from (dataset, version, seed, code, wall time, checksum) and
    whether its weights file still matches the recorded checksum."""
    check = verify_weights(path, meta.get("weights_sha256"))
    rows = []
    for k in PROVENANCE_FIELDS:
        v = meta.get(k)
        rows.append({"field": k, "value": "not recorded" if v is None else str(v)})
    mark = {True: "✓", False: "✗", None: "?"}[check.ok]
    rows.append({"field": "weights file sha256", "value": f"{check.actual or '—'} {mark}"})
    return pd.DataFrame(rows, columns=["field", "value"]), check


# =============================================================================================
# 2. Information
# =============================================================================================


def _slice(ds: MultimodalDataset, split: str, limit: int | None) -> np.ndarray:
    idx = ds.indices(split)
    return idx if limit is None else idx[: int(limit)]


@torch.inference_mode()
def latent_codes(
    model: MultimodalModel,
    ds: MultimodalDataset,
    split: str = "test",
    limit: int | None = 1000,
    batch: int = 500,
) -> tuple[np.ndarray, list[str]]:
    """Posterior means of every latent group given all inputs, concatenated: (n, D) and the
    dimension names ("z[3]", MFM: "y[0]", "hand[2]")."""
    if not model.latent_groups:
        raise ValueError(f"{model.name} has no latent space: MI against factors needs one")
    idx = _slice(ds, split, limit)
    parts: list[np.ndarray] = []
    for start in range(0, len(idx), batch):
        b = idx[start : start + batch]
        x = {m: torch.from_numpy(np.ascontiguousarray(ds.data[m][b])) for m in model.modalities}
        post = model.encode(x, None)
        parts.append(
            np.concatenate([post[g].mean.double().cpu().numpy() for g in model.latent_groups], 1)
        )
    names = [f"{g}[{i}]" for g, d in model.latent_groups.items() for i in range(d)]
    return np.concatenate(parts, axis=0), names


def ground_truth_factors(
    ds: MultimodalDataset, split: str = "test", limit: int | None = 1000
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The dataset's style factors plus its targets, without bookkeeping ids (digits'
    `hand_index`, `sound_seed`: which source image / noise seed, not a style)."""
    idx = _slice(ds, split, limit)
    skip = set(ds.info.get("id_factors", []))
    factors = {k: np.asarray(v)[idx] for k, v in ds.factors.items() if k not in skip}
    kinds = {k: ds.factor_kinds.get(k, "categorical") for k in factors}
    for k, v in ds.targets.items():
        if k in factors:
            continue
        a = np.asarray(v)[idx]
        factors[k] = a
        kinds[k] = "categorical" if np.issubdtype(a.dtype, np.integer) else "continuous"
    return factors, kinds


def disentanglement_report(
    model: MultimodalModel, ds: MultimodalDataset, limit: int | None = 1000, seed: int = 0
):
    """MI matrix, MIG, SAP and DCI of the model's test codes against the ground truth."""
    from mmviz.interpret.information import disentanglement

    z, names = latent_codes(model, ds, "test", limit)
    factors, kinds = ground_truth_factors(ds, "test", limit)
    return disentanglement(z, factors, kinds, seed=seed, latent_names=names)


def disentanglement_dlib_report(
    model: MultimodalModel, ds: MultimodalDataset, limit: int | None = 1000, seed: int = 0
) -> dict[str, Any]:
    """SAP and DCI of the model's test codes as disentanglement_lib defines them (the
    Information page's comparable mode): {"sap", "sap_scores", "dci", "sap_estimator",
    "dci_estimator"}."""
    from mmviz.interpret.information import DLIB_DCI, DLIB_SAP, dci_dlib, sap_dlib

    z, names = latent_codes(model, ds, "test", limit)
    factors, kinds = ground_truth_factors(ds, "test", limit)
    score, matrix = sap_dlib(z, factors, kinds, seed=seed, latent_names=names)
    return {
        "sap": score,
        "sap_scores": matrix,
        "dci": dci_dlib(z, factors, kinds, seed=seed, latent_names=names),
        "sap_estimator": DLIB_SAP,
        "dci_estimator": DLIB_DCI,
    }


def disentanglement_row(cid: str, result: Any, n: int | None = None) -> dict[str, Any]:
    """One row of the per-checkpoint table: MIG, SAP, DCI (D, C, I) and the MI estimator."""
    return {
        "checkpoint": cid,
        "MIG": result.mig,
        "SAP": result.sap,
        "DCI disentanglement": result.dci.disentanglement,
        "DCI completeness": result.dci.completeness,
        "DCI informativeness": result.dci.informativeness,
        "latent dims": int(result.mi.mi.shape[0]),
        "samples": n,
        "MI estimator": result.mi.estimator,
    }


def first_test_samples(
    ds: MultimodalDataset, modalities: Sequence[str], n: int, offset: int = 0
) -> dict[str, torch.Tensor]:
    """The first `n` test samples (from `offset`) of some modalities, as tensors."""
    idx = ds.indices("test")[offset : offset + int(n)]
    return {m: torch.from_numpy(np.ascontiguousarray(ds.data[m][idx])) for m in modalities}


def mfm_information(
    model: MultimodalModel, ds: MultimodalDataset, n: int = 500, estimator: str = "gaussian"
) -> pd.DataFrame:
    """I(F_y; X^_i) and I(F_a_i; X^_i) per input modality over `n` test samples (nats)."""
    from mmviz.interpret.mfm import factor_information

    inputs = model.input_modalities
    batch = first_test_samples(ds, model.modalities, n)
    return factor_information(model, batch, estimator=estimator, modalities=inputs)


def mfm_gradients(model: MultimodalModel, inputs: dict[str, torch.Tensor]):
    """||dF_y / dX_i||^2 per input position for a batch (MFM's gradient-based view)."""
    from mmviz.interpret.mfm import shared_factor_gradients

    obs = [m for m in model.input_modalities if m in inputs]
    return shared_factor_gradients(model, {m: inputs[m] for m in obs}, obs)


# ---- PID per recipe -------------------------------------------------------------------------
PID_TERMS = ("redundancy", "unique1", "unique2", "synergy")
DOMINANT_MIN_BITS = 0.05  # below this a pair tells (almost) nothing: "none"


def recipe_truth(recipe: str, m1: str, m2: str) -> tuple[str, str]:
    """What a `sentiment` recipe puts into the pair (m1, m2) about the label, by construction.

    Returns (term, note): term one of "redundancy", "unique1", "unique2", "synergy", "none",
    "mixture"; note says why in words.
    """
    pair = (m1, m2)
    if recipe == "redundant":
        return "redundancy", "words, face and voice all show the polarity"
    if recipe.startswith("unique_"):
        m = recipe[len("unique_") :]
        if m == m1:
            return "unique1", f"only {m} shows the polarity"
        if m == m2:
            return "unique2", f"only {m} shows the polarity"
        return "none", f"only {m} shows the polarity, and it is not in this pair"
    if recipe == "synergy":
        if "language" in pair:
            return "synergy", "the sign is the words' polarity flipped by sarcasm (voice, face)"
        return "none", "voice and face show only sarcasm, not the polarity"
    if recipe == "negation":
        if "language" in pair:
            term = "unique1" if m1 == "language" else "unique2"
            return term, "in the words' order only ('not good'): a bag-of-words cue misses it"
        return "none", "only the words (their order) carry the sign"
    return "mixture", "all recipes together"


def dominant_term(row: Mapping[str, float]) -> str:
    """The largest of the four PID terms, or "none" if the pair tells less than 0.05 bits."""
    if float(row.get("total", 0.0)) < DOMINANT_MIN_BITS:
        return "none"
    return max(PID_TERMS, key=lambda t: float(row.get(t, 0.0)))


def term_name(term: str, m1: str, m2: str) -> str:
    """ "unique1" -> "unique(language)" for display."""
    return {"unique1": f"unique({m1})", "unique2": f"unique({m2})"}.get(term, term)


def pid_with_truth(pid: pd.DataFrame) -> pd.DataFrame:
    """`pid_by_recipe`'s table plus, per row, the recipe's ground truth and the measured
    dominant term (both spelled like "unique(language)") and whether they agree."""
    df = pid.copy()
    truth, notes, measured, agree = [], [], [], []
    for _, r in df.iterrows():
        t, note = recipe_truth(str(r["group"]), str(r["modality1"]), str(r["modality2"]))
        d = dominant_term(r)
        truth.append(term_name(t, r["modality1"], r["modality2"]))
        notes.append(note)
        measured.append(term_name(d, r["modality1"], r["modality2"]))
        agree.append(None if t == "mixture" else t == d)
    df["truth"], df["truth_note"], df["measured"], df["agrees"] = truth, notes, measured, agree
    return df


def missing_drop_table(metas: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Binary accuracy lost when modalities go missing, per fusion checkpoint (rows) and
    missing set (columns "-language", ...): acc2 - acc2 with them missing, from meta.json.

    Checkpoints without `acc2` and `missing` metrics are left out.
    """
    rows = {}
    for cid, meta in metas.items():
        m = meta.get("metrics") or {}
        full, missing = _number(m.get("acc2")), m.get("missing")
        if full is None or not isinstance(missing, Mapping):
            continue
        rows[cid] = {k: full - v for k, v in missing.items() if _number(v) is not None}
    df = pd.DataFrame.from_dict(rows, orient="index")
    if df.empty:
        return df
    cols = sorted(df.columns, key=lambda c: (str(c).count("-"), str(c)))
    return df[cols]


# =============================================================================================
# 3. Attributions
# =============================================================================================
TARGET_KINDS: dict[str, str] = {
    "prediction": "the prediction (the predicted class, or the score)",
    "class": "another class of the prediction",
    "generated": "a class's log-probability in a cross-modal generation",
    "latent": "a latent dimension",
    "region": "a region of a generated image",
}


@dataclass(frozen=True)
class TargetChoice:
    """A target as plain values (hashable, cacheable); `build()` makes the `Target`."""

    kind: str
    index: int | None = None
    modality: str | None = None
    group: str | None = None
    dim: int = 0
    rows: tuple[int, int] = (0, 1)
    cols: tuple[int, int] = (0, 1)

    def build(self):  # noqa: ANN201 - a Target union
        from mmviz.interpret.attributions import GeneratedClass, ImageRegion, LatentDim, Prediction

        if self.kind in ("prediction", "class"):
            return Prediction(index=self.index if self.kind == "class" else None)
        if self.kind == "generated":
            return GeneratedClass(str(self.modality), self.index)
        if self.kind == "latent":
            return LatentDim(str(self.group), int(self.dim))
        if self.kind == "region":
            return ImageRegion(str(self.modality), tuple(self.rows), tuple(self.cols))
        raise ValueError(f"unknown target kind {self.kind!r}; choose from {list(TARGET_KINDS)}")


def prediction_kind(model: MultimodalModel, inputs: dict[str, torch.Tensor]) -> str | None:
    """ "classes", "score", or None when the model has no `predict` (or cannot from these)."""
    from mmviz.interpret.attributions import Prediction, default_observed

    try:
        obs = default_observed(model, inputs, Prediction())
        with torch.inference_mode():
            out = model.predict(inputs, obs)
    except (NotImplementedError, ValueError):
        return None
    return "score" if out.dim() == 1 else "classes"


def target_options(
    model: MultimodalModel, inputs: dict[str, torch.Tensor]
) -> dict[str, str | None]:
    """Each target kind -> None if it applies to `model`, else the reason it does not."""
    pred = prediction_kind(model, inputs)
    generative = bool(model.latent_groups)
    categorical = [m for m, s in model.specs.items() if s.kind == "categorical"]
    pictures = [m for m, s in model.specs.items() if len(s.shape) == 3]
    return {
        "prediction": None if pred else f"{model.name} has no prediction",
        "class": None
        if pred == "classes"
        else (
            "the prediction is a score, not classes" if pred else f"{model.name} has no prediction"
        ),
        "generated": None
        if generative and categorical
        else ("no generator" if not generative else "no categorical modality to generate"),
        "latent": None if generative else f"{model.name} has no latent space",
        "region": None
        if generative and pictures
        else ("no generator" if not generative else "no image modality to generate"),
    }


def generated_images(model: MultimodalModel) -> list[str]:
    """Modalities a region target can read: (C, H, W) ones."""
    return [m for m, s in model.specs.items() if len(s.shape) == 3]


def method_options(model: MultimodalModel, observed: Sequence[str]) -> dict[str, str | None]:
    """Each attribution method -> None if it applies with these observed modalities, else why.

    Discrete inputs are attributed through an `nn.Embedding` (gradient methods, and every
    method for a categorical input) or by replacing ids (perturbation methods, tokens only).
    """
    from mmviz.interpret.attributions import METHODS, embedding_modules

    out: dict[str, str | None] = {}
    for name, spec in METHODS.items():
        why = None
        for m in observed:
            kind = model.specs[m].kind
            if kind not in ("tokens", "categorical"):
                continue
            needs_embedding = spec.kind == "gradient" or kind == "categorical"
            if needs_embedding and not embedding_modules(model, m):
                why = (
                    f"{model.name} reads `{m}` without an nn.Embedding that gradients could go "
                    "through" + ("; use a perturbation method" if kind == "tokens" else "")
                )
                break
        out[name] = why
    return out


def token_words(
    ids: np.ndarray, values: np.ndarray, vocab: Sequence[str] | None
) -> tuple[list[str], np.ndarray]:
    """The words of one token sequence (PAD dropped) and their attributions, position-aligned."""
    ids = np.asarray(ids).reshape(-1)
    vals = np.asarray(values, dtype=np.float64).reshape(-1)
    keep = ids != 0
    vocab = tuple(vocab or ())
    words = [vocab[i] if 0 <= i < len(vocab) else "<unk>" for i in ids[keep].tolist()]
    return words, vals[keep]


def shapley_check(values: Mapping[str, float], v_all: float, v_empty: float) -> dict[str, float]:
    """Sum of the Shapley values against v(all) - v(empty) (efficiency: they are equal)."""
    total = float(sum(values.values()))
    expected = float(v_all - v_empty)
    return {
        "sum": total,
        "v_all": float(v_all),
        "v_empty": float(v_empty),
        "expected": expected,
        "gap": abs(total - expected) if math.isfinite(total) else float("nan"),
    }
