"""The Fusion lab page's view: TFN, LMF, early and late fusion on one sentiment utterance.

The page lays out four parts, each built here from the page's settings (no Streamlit):

- `build_utterance_view`: the utterance as the models get it (noise at the chosen SNRs, the
  words replaced, one traces figure per sequence modality);
- `build_scores_view`: each model's score clean and as set, the figure, late fusion's
  per-modality predictions;
- `build_params_view`: TFN's and LMF's fusion-layer parameter counts for the sizes set, and
  their curves against the rank and the sizes;
- `build_bench_view`, `build_rank_view`, `build_recipes_view`: the measured results files.

`build_fusion_lab_view` puts the first three together (`FusionLabView`) for one call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from torch import Tensor

from mmviz import fusionlab as lab
from mmviz.data.noise import token_noise_fraction
from mmviz.models.base import MultimodalModel
from mmviz.models.fusion import FusionConfig, LMFConfig
from mmviz.plots import fusion as figs

SNR_STEPS = ["clean", 30, 20, 10, 5, 0, -5, -10, -20]
FUSION_BENCH, LMF_RANK = lab.FUSION_BENCH, lab.LMF_RANK  # the results files the lab reads


# ---- which checkpoints the lab takes -----------------------------------------------------------
def applies(info: Any) -> str | None:
    """Why checkpoint `info` (a CheckpointInfo) is not for the lab, None when it is."""
    if info.problem:
        return info.problem
    if info.model in lab.FUSION_MODELS:
        return None
    if info.oracle:
        return "it is an oracle classifier; the lab compares TFN, LMF, early and late fusion"
    return (
        f"it is a {info.model} model on {info.dataset}; the lab compares the sentiment fusion "
        "models (TFN, LMF, early and late fusion)"
    )


def comparable(
    models: Mapping[str, MultimodalModel], modalities: Sequence[str]
) -> dict[str, MultimodalModel]:
    """The models that read exactly `modalities`, in that order (the chosen model's)."""
    return {c: m for c, m in models.items() if list(m.modalities) == list(modalities)}


def snr_db(levels: Mapping[str, Any], observed: Sequence[str]) -> dict[str, float]:
    """The SNR (dB) of every observed modality whose slider is not on "clean"."""
    return {m: float(v) for m, v in levels.items() if m in observed and v != "clean"}


def noise_note(kind: str, level: Any) -> str | None:
    """What a noise slider's level does to a token modality (words replaced), else None."""
    if kind != "tokens" or level == "clean":
        return None
    return f"{token_noise_fraction(float(level)):.0%} of words replaced"


def sample_inputs(ds: Any, index: int, modalities: Sequence[str]) -> dict[str, Tensor]:
    """Sample `index` of the modalities the lab's models read, as a batch of one."""
    from mmviz.explore import sample_batch

    return {m: x for m, x in sample_batch(ds, index).items() if m in modalities}


def sample_truth(ds: Any, index: int) -> tuple[float, str]:
    """A test sample's true score and its interaction recipe ("?" when not recorded)."""
    truth = float(ds.targets["score"][index])
    recipe = ds.info.get("interactions", [])
    r = int(ds.factors["interaction"][index]) if "interaction" in ds.factors else -1
    return truth, (recipe[r] if 0 <= r < len(recipe) else "?")


def _vocab(specs: Mapping[str, Any]) -> dict[str, int]:
    return {m: s.num_classes for m, s in specs.items() if s.kind == "tokens"}


# ---- the utterance -------------------------------------------------------------------------------
@dataclass
class UtteranceView:
    """The utterance as the models get it.

    noisy: the inputs with noise at the chosen SNRs (what the models and the stepper read).
    token: the token modality (None without one); words: (clean, noisy) word pairs, PAD left
        out; traces: one figure per sequence modality (noisy traces, clean ones behind).
    """

    noisy: dict[str, Tensor]
    token: str | None
    words: list[tuple[str, str]]
    traces: dict[str, go.Figure]


def build_utterance_view(
    inputs: Mapping[str, Tensor],
    specs: Mapping[str, Any],
    ds_info: Mapping[str, Any],
    observed: Sequence[str],
    snr: Mapping[str, float],
    seed: int,
) -> UtteranceView:
    """The utterance with noise at `snr` dB per modality (seeded), words and traces."""
    mods = list(inputs)
    noisy = lab.perturb(dict(inputs), snr, _vocab({m: specs[m] for m in mods}), seed)
    tok = next((m for m in mods if specs[m].kind == "tokens"), None)
    words: list[tuple[str, str]] = []
    steps = None
    if tok:
        vocab = specs[tok].vocab
        steps = lab.words_of(inputs[tok][0].numpy(), vocab)
        noisy_w = lab.words_of(noisy[tok][0].numpy(), vocab)
        words = [(a, b) for a, b in zip(steps, noisy_w, strict=True) if a != "·"]
    traces = {}
    for m in mods:
        if m == tok:
            continue
        x = noisy[m][0].numpy()
        note = "" if m in observed else " · off: the models use its training mean"
        snr_note = f" · SNR {snr[m]:g} dB" if m in snr else ""
        traces[m] = figs.traces_figure(
            x,
            lab.feature_names(ds_info, m, x.shape[-1]),
            steps,
            inputs[m][0].numpy() if m in snr else None,
            f"{m}{snr_note}{note}",
        )
    return UtteranceView(noisy, tok, words, traces)


# ---- the scores ----------------------------------------------------------------------------------
@dataclass
class ScoresView:
    """Each model's score. table: one row per model (`fusionlab.lab_scores`); figure: as set
    vs clean; late: late fusion's per-modality predictions and weights, per late model."""

    table: pd.DataFrame
    figure: go.Figure
    late: dict[str, pd.DataFrame] = field(default_factory=dict)


def build_scores_view(
    models: Mapping[str, MultimodalModel],
    inputs: Mapping[str, Tensor],
    observed: Sequence[str],
    snr: Mapping[str, float],
    seed: int,
    truth: float | None = None,
) -> ScoresView:
    """Every model on the utterance, clean and as set (raises ValueError with nothing observed)."""
    table = lab.lab_scores(dict(models), dict(inputs), list(observed), dict(snr), seed, truth)
    late = {}
    for c, model in models.items():
        if model.combines_unimodal_predictions:
            own = {m: inputs[m] for m in model.modalities}
            noisy = lab.perturb(own, snr, _vocab(model.specs), seed)
            late[c] = lab.late_fusion_parts(model, noisy, observed)
    return ScoresView(table, figs.scores_figure(table, truth, "score as set vs clean"), late)


# ---- parameters ----------------------------------------------------------------------------------
@dataclass
class Sizes:
    """Sizes of the fusion layer: d_m per modality, the fused size d_h, LMF's rank."""

    dims: dict[str, int]
    d_h: int
    rank: int

    def text(self) -> str:
        return sizes_text(self.dims, self.d_h)


def sizes_text(dims: Mapping[str, int], d_h: int) -> str:
    return ", ".join(f"d_{m} = {v}" for m, v in dims.items()) + f", d_h = {d_h}"


def default_sizes(model: MultimodalModel, specs: Mapping[str, Any]) -> Sizes:
    """The chosen model's own sizes, or FusionConfig's defaults when it has none (early and
    late fusion read no per-modality sub-network sizes)."""
    mods = list(model.modalities)
    try:
        dims = lab.model_dims(model)
        d_h = int(model.config.fusion_dim)
    except (ValueError, AttributeError):
        cfg = FusionConfig()
        dims = {m: (cfg.token_dim if specs[m].kind == "tokens" else cfg.sequence_dim) for m in mods}
        d_h = cfg.fusion_dim
    # an LMF's own rank; the default rank for the others (they have none)
    rank = int(model.config.rank if isinstance(model.config, LMFConfig) else LMFConfig().rank)
    return Sizes({m: int(dims.get(m, 32)) for m in mods}, d_h, rank)


@dataclass
class ParamsView:
    """TFN's and LMF's fusion-layer parameters for the sizes set.

    counts: "tfn", "lmf" and their "ratio" (closed forms); own: the sizes are the checkpoint's
    own; by_rank, by_size: the two figures (LMF against the rank, both against every d_m
    scaled).
    """

    sizes: Sizes
    counts: dict[str, float]
    own: bool
    by_rank: go.Figure
    by_size: go.Figure


def build_params_view(sizes: Sizes, defaults: Sizes) -> ParamsView:
    dims = list(sizes.dims.values())
    counts = lab.param_counts(dims, sizes.d_h, sizes.rank)
    own = sizes.dims == defaults.dims and sizes.d_h == defaults.d_h
    ranks = sorted({1, 2, 4, 8, 16, 32, 64, sizes.rank})
    by_rank = figs.params_figure(
        lab.params_vs_rank(dims, sizes.d_h, ranks),
        "rank",
        "against the rank (sizes as set)",
        mark=sizes.rank,
    )
    by_size = figs.params_figure(
        lab.params_vs_size(dims, sizes.d_h, sizes.rank),
        "scale",
        "every d_m scaled (rank as set)",
        mark=1,
    )
    return ParamsView(sizes, counts, own, by_rank, by_size)


def check_against_modules(view: ParamsView) -> tuple[bool, str]:
    """The counts of the real TensorFusion and LowRankFusion layers of these sizes (built on
    the meta device) against the formulas: (equal, what to say)."""
    s = view.sizes
    real = lab.module_param_counts(list(s.dims.values()), s.d_h, s.rank)
    ok = real["tfn"] == view.counts["tfn"] and real["lmf"] == view.counts["lmf"]
    return ok, (
        f"modules: TFN {real['tfn']:,}, LMF {real['lmf']:,} parameters "
        + ("✓ equal to the formulas" if ok else "✗ differ from the formulas")
    )


# ---- measured results ----------------------------------------------------------------------------
@dataclass
class BenchView:
    """The fusion benchmark: LMF vs TFN ratios (figure), the raw numbers (table) and what it
    measured (caption)."""

    figure: go.Figure
    table: pd.DataFrame
    caption: str


def build_bench_view(bench: Mapping[str, Any]) -> BenchView:
    table = pd.DataFrame(
        {
            k: {
                "fusion params": bench[k].get("fusion_params"),
                "total params": bench[k].get("total_params"),
                "train samples/s": bench[k].get("train_samples_per_s"),
                "inference samples/s": bench[k].get("infer_samples_per_s"),
            }
            for k in ("tfn", "lmf")
            if isinstance(bench.get(k), dict)
        }
    )
    caption = (
        f"sizes `{bench.get('sizes', '?')}`, batch {bench.get('batch_size', '?')}, "
        f"{bench.get('threads', '?')} thread(s), median of {bench.get('repeats', '?')} "
        "repeats; TFN and LMF share sub-networks and output layers, so differences "
        "come from the fusion layer alone."
    )
    return BenchView(
        figs.bench_figure(bench["ratios"], "LMF vs TFN, measured here"), table, caption
    )


def bench_sizes_note(
    bench: Mapping[str, Any], specs: Mapping[str, Any], params: ParamsView
) -> str | None:
    """Why the benchmark's TFN count differs from (or equals) the one for the sizes set; None
    when the benchmark records no TFN sizes. Raises KeyError/ValueError on a malformed one."""
    cfg = (bench.get("config") or {}).get("tfn")
    if not (isinstance(cfg, dict) and isinstance(bench.get("tfn"), dict)):
        return None
    mods = list(params.sizes.dims)
    kind_dim = {m: "token_dim" if specs[m].kind == "tokens" else "sequence_dim" for m in mods}
    bench_dims = {m: int((cfg.get("dims") or {}).get(m, cfg[kind_dim[m]])) for m in mods}
    n_tfn = bench["tfn"].get("fusion_params")
    theirs = sizes_text(bench_dims, int(cfg["fusion_dim"]))
    if n_tfn != params.counts["tfn"]:
        return (
            f"Why TFN has {n_tfn:,} fusion parameters here and {params.counts['tfn']:,} above: "
            f"the benchmark builds both models at its `{bench.get('sizes', '?')}` sizes "
            f"({theirs}), the parameter counts above use the sizes set there "
            f"({params.sizes.text()}). TFN's count grows with the product of the (d_m + 1), "
            "so a few sizes make a large difference."
        )
    return f"The benchmark's sizes ({theirs}) are the ones set above: the same TFN count."


@dataclass
class RankView:
    """LMF's accuracy against its rank: the mean and std over seeds per rank, and the figure."""

    summary: pd.DataFrame
    figure: go.Figure


def build_rank_view(rows: pd.DataFrame) -> RankView:
    summary = lab.rank_summary(rows)
    return RankView(summary, figs.rank_figure(summary, rows, "binary accuracy (test) against rank"))


@dataclass
class RecipesView:
    """Binary accuracy per interaction recipe (columns) per checkpoint (rows); figure None
    when no checkpoint records it."""

    table: pd.DataFrame
    figure: go.Figure | None


def build_recipes_view(
    metas: Mapping[str, Mapping[str, Any]], kinds: Mapping[str, str]
) -> RecipesView:
    """From the checkpoints' meta.json (`metas`) and their model names (`kinds`)."""
    table = lab.interaction_table(metas)
    if table.empty:
        return RecipesView(table, None)
    return RecipesView(
        table, figs.interaction_figure(table, dict(kinds), "acc2 per recipe (test split)")
    )


# ---- all of it -----------------------------------------------------------------------------------
@dataclass
class FusionLabView:
    """What the lab shows for one utterance and one set of sizes (scores None with nothing
    observed or no model)."""

    utterance: UtteranceView
    scores: ScoresView | None
    params: ParamsView


def build_fusion_lab_view(
    models: Mapping[str, MultimodalModel],
    inputs: Mapping[str, Tensor],
    specs: Mapping[str, Any],
    ds_info: Mapping[str, Any],
    observed: Sequence[str],
    snr: Mapping[str, float],
    seed: int,
    sizes: Sizes,
    defaults: Sizes,
    truth: float | None = None,
) -> FusionLabView:
    utterance = build_utterance_view(inputs, specs, ds_info, observed, snr, seed)
    scores = (
        build_scores_view(models, inputs, observed, snr, seed, truth)
        if observed and models
        else None
    )
    return FusionLabView(utterance, scores, build_params_view(sizes, defaults))
