"""The Information page's view, one piece per section (each computed, timed and cached on its
own, so a section shows as soon as its own numbers are ready): the MI matrix and the
MIG/SAP/DCI table of every generative checkpoint (`build_mi_view`, `build_metrics_view`),
disentanglement_lib's SAP and DCI beside this app's (`build_comparable_view`), MFM's
information and gradients (`build_mfm_information_view`, `build_gradients_view`), the PID per
sentiment recipe and the missing-modality drop (`build_pid_view`, `build_drop_view`). Each
builder takes the numbers already computed (mmviz.report) and returns what the page draws:
figures from mmviz.plots.information, tables and the numbers its captions name.

Gradient maps ||dF_y/dx||^2 over pixels: pixels that are blank in every test image (the hand
images' border) have gradients too, from weights that no data ever moved; drawn as they are they
frame the map in the colour scale's upper half and push the digit's own pixels into the dark
end. They are left out (NaN, drawn grey). A strided convolution's gradient alternates between
neighbouring pixels (a checkerboard over `print`); when that alternation carries a large part of
the map, it is smoothed over 2x2 pixels, and the view says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mmviz.plots import information as figs

CHECKERBOARD_SHARE = 0.2  # alternating energy / total energy above which the map is smoothed


@dataclass
class GradientMaps:
    maps: dict[str, np.ndarray]  # panel name -> (H, W), NaN where pixels never vary
    blank_pixels: int
    smoothed: bool
    checkerboard_share: float


def checkerboard_share(a: np.ndarray) -> float:
    """How much of the map's (mean-removed) energy is the pixel-to-pixel alternation."""
    h, w = (a.shape[0] // 2) * 2, (a.shape[1] // 2) * 2
    b = a[:h, :w] - a[:h, :w].mean()
    alt = b[0::2, 0::2] + b[1::2, 1::2] - b[0::2, 1::2] - b[1::2, 0::2]
    total = float((b**2).sum())
    return float((alt**2).sum() / 4 / total) if total > 0 else 0.0


def smooth_2x2(a: np.ndarray) -> np.ndarray:
    """Mean over each pixel's 2x2 neighbourhood (edge-padded): removes the alternation."""
    p = np.pad(a, ((0, 1), (0, 1)), mode="edge")
    return (p[:-1, :-1] + p[1:, :-1] + p[:-1, 1:] + p[1:, 1:]) / 4


def gradient_maps(maps: Mapping[str, np.ndarray], images: np.ndarray) -> GradientMaps:
    """`maps` (panel -> (H, W) or (1, H, W)) made ready to draw, given the modality's test
    images (n, C, H, W) that say which pixels ever vary."""
    varies = np.asarray(images, dtype=np.float64).std(axis=0)
    varies = varies.reshape(-1, *varies.shape[-2:]).max(axis=0) > 1e-6
    arrays = {k: np.asarray(v, dtype=np.float64).reshape(varies.shape) for k, v in maps.items()}
    share = max(checkerboard_share(a) for a in arrays.values())
    smoothed = share > CHECKERBOARD_SHARE
    out = {}
    for name, a in arrays.items():
        a = smooth_2x2(a) if smoothed else a.copy()
        a[~varies] = np.nan
        out[name] = a
    return GradientMaps(out, int((~varies).sum()), smoothed, share)


# ---- 1. latent dimensions against the factors ----------------------------------------------------
METRICS_SHOWN = ["MIG", "SAP", "DCI disentanglement"]
COMPARED = ["SAP", "DCI disentanglement", "DCI completeness", "DCI informativeness"]


@dataclass
class MIView:
    """The MI matrix of one checkpoint: the heatmap and the estimator it names."""

    figure: go.Figure
    estimator: str


def build_mi_view(cid: str, result: Any) -> MIView:
    """`result`: the checkpoint's disentanglement report (mmviz.report)."""
    estimator = result.mi.estimator
    figure = figs.mi_heatmap(
        result.mi.normalized,
        f"{cid}: MI(dimension; factor) / H(factor) · estimator: {estimator}",
    )
    return MIView(figure, estimator)


@dataclass
class MetricsView:
    """MIG, SAP and DCI of every generative checkpoint of a dataset.

    table: one row per checkpoint (index "checkpoint"), None when none could be measured.
    bars: the disentanglement scores per checkpoint, None with the table.
    left_out: checkpoints that could not be measured, and why.
    """

    table: pd.DataFrame | None
    bars: go.Figure | None
    left_out: dict[str, str] = field(default_factory=dict)


def build_metrics_view(results: Mapping[str, Any], limit: int) -> MetricsView:
    """`results`: checkpoint -> its disentanglement report, or the exception that stopped it
    (that checkpoint is left out and named)."""
    from mmviz import report as rep

    rows, left_out = [], {}
    for cid, r in results.items():
        if isinstance(r, BaseException):
            left_out[cid] = f"{type(r).__name__}: {r}"
            continue
        rows.append(rep.disentanglement_row(cid, r, limit))
    if not rows:
        return MetricsView(None, None, left_out)
    table = pd.DataFrame(rows).set_index("checkpoint")
    bars = figs.metric_bars(
        table,
        METRICS_SHOWN,
        "disentanglement per checkpoint, this app's estimators (higher: one factor per dimension)",
    )
    return MetricsView(table, bars, left_out)


def build_comparable_view(ours: Any, dlib: Mapping[str, Any]) -> pd.DataFrame:
    """This app's SAP and DCI (`ours`, a disentanglement report) beside disentanglement_lib's
    (`dlib`, mmviz.report.disentanglement_dlib_report)."""
    d = dlib["dci"]
    return pd.DataFrame(
        {
            "this app": [ours.sap, ours.dci.disentanglement, ours.dci.completeness,
                         ours.dci.informativeness],
            "disentanglement_lib": [dlib["sap"], d.disentanglement, d.completeness,
                                    d.informativeness],
        },
        index=COMPARED,
    )  # fmt: skip


# ---- 2. MFM --------------------------------------------------------------------------------------
MFM_COLUMNS = ["modality", "estimator", "I_shared", "I_specific", "ratio", "n"]


@dataclass
class MFMInformationView:
    """I(F_y; X^) against I(F_a; X^) per generated modality: the figure and the table."""

    figure: go.Figure
    table: pd.DataFrame


def build_mfm_information_view(table: pd.DataFrame) -> MFMInformationView:
    """`table`: mmviz.report.mfm_information's."""
    figure = figs.factor_information_figure(
        table, "information about each generated modality (nats)"
    )
    return MFMInformationView(figure, table[MFM_COLUMNS])


def sample_words(
    inputs: Mapping[str, Any], specs: Mapping[str, Any], dataset: str
) -> list[str] | None:
    """The words of a sentiment sample's token modality (to label the time axis), else None."""
    from mmviz.fusionlab import words_of

    tok = next((m for m, s in specs.items() if s.kind == "tokens"), None)
    if tok is None or dataset != "sentiment" or tok not in inputs:
        return None
    return list(words_of(np.asarray(inputs[tok][0]), specs[tok].vocab))


@dataclass
class GradientsView:
    """Where MFM's shared factor looks: ||dF_y/dX||^2 averaged and for one sample.

    time: the curves over time of the sequence inputs (None without any).
    maps: per image input (in the model's input order), its figure and its maps made ready
        to draw (blank pixels left out, a checkerboard smoothed).
    totals: inputs without positions, one number each (the gradient's sum).
    """

    time: go.Figure | None
    maps: dict[str, tuple[go.Figure, GradientMaps]]
    totals: dict[str, float]


def build_gradients_view(
    average: Mapping[str, np.ndarray],
    one: Mapping[str, np.ndarray],
    position: int,
    order: Sequence[str],
    test_images: Callable[[str], np.ndarray],
    words: Sequence[str] | None = None,
) -> GradientsView:
    """`average`/`one`: per input, the gradient averaged over test samples and for sample
    `position`; `order`: the model's inputs; `test_images(m)`: modality m's test images (which
    pixels ever vary); `words`: the sample's words, to label the time axis (sentiment)."""
    arrays = {m: np.asarray(v) for m, v in average.items()}
    curves = [m for m, v in arrays.items() if v.ndim == 1 and v.size > 1]
    images = [m for m, v in arrays.items() if v.ndim == 2]
    time = None
    if curves:
        labels = [f"{i}·{w}" for i, w in enumerate(words)] if words is not None else None
        time = figs.gradient_time_figure(
            {
                "average": {m: average[m] for m in curves},
                f"sample {position}": {m: one[m] for m in curves},
            },
            labels,
            "‖∂F_y/∂X_i(t)‖² over time (solid: average; dashed: this sample)",
        )
    maps = {}
    for m in sorted(images, key=list(order).index):
        shown = gradient_maps(
            {f"{m}: average": average[m], f"{m}: sample {position}": one[m]}, test_images(m)
        )
        maps[m] = (figs.gradient_map_figure(shown.maps, f"‖∂F_y/∂{m}‖² per pixel"), shown)
    totals = {m: float(v.sum()) for m, v in arrays.items() if m not in curves and m not in images}
    return GradientsView(time, maps, totals)


# ---- 3. PID per recipe, missing-modality drop ----------------------------------------------------
PID_COLUMNS = [
    "group",
    "modality1",
    "modality2",
    "redundancy",
    "unique1",
    "unique2",
    "synergy",
    "total",
    "truth",
    "measured",
    "agrees",
    "truth_note",
]


@dataclass
class PIDView:
    """The PID of every modality pair per recipe beside the recipe's truth.

    measure: the PID measure named in the table. agree/checked: in how many recipe-pairs the
    largest measured term matches the truth, of how many have a truth to match.
    """

    figure: go.Figure
    table: pd.DataFrame
    measure: str
    agree: int
    checked: int


def build_pid_view(pid: pd.DataFrame) -> PIDView:
    """`pid`: mmviz.report.pid_with_truth's table."""
    figure = figs.pid_figure(
        pid,
        "PID terms (bits) per recipe; above each bar: "
        "the recipe's ground truth (✓ = largest measured term)",
    )
    agrees = pid["agrees"].dropna()
    return PIDView(
        figure, pid[PID_COLUMNS], str(pid["measure"].iloc[0]), int(agrees.sum()), len(agrees)
    )


@dataclass
class DropView:
    """Each model's accuracy drop per missing modality set (from meta.json), and its figure
    (None when no checkpoint has the metrics)."""

    table: pd.DataFrame
    figure: go.Figure | None


def build_drop_view(metas: Mapping[str, Mapping[str, Any]]) -> DropView:
    """`metas`: checkpoint -> its meta.json."""
    from mmviz import report as rep

    drop = rep.missing_drop_table(metas)
    if drop.empty:
        return DropView(drop, None)
    figure = figs.missing_drop_figure(drop, "acc2 lost (from meta.json metrics 'missing')")
    return DropView(drop, figure)
