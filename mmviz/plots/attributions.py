"""Attribution figures: heatmaps over pictures, coloured words, sequence maps, modality bars.

Arrays in, plotly figures out. One colour convention everywhere: red pushes the target up,
blue pushes it down, white is no effect; the colour range is symmetric around zero so the
two directions compare honestly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mmviz.data.base import ModalitySpec
from mmviz.plots.charts import apply_layout, colour_of
from mmviz.plots.images import to_rgb

DIVERGING = "RdBu_r"  # low (negative) blue, high (positive) red


def _layout(fig: go.Figure, title: str | None, height: int) -> go.Figure:
    return apply_layout(fig, title, height, top=34)


def symmetric_range(values: np.ndarray) -> float:
    """max |value| (1e-12 if all zero), so colour scales are centred on zero."""
    a = np.abs(np.asarray(values, dtype=np.float64))
    m = float(np.nanmax(a)) if a.size else 0.0
    return m if m > 0 else 1e-12


def pixel_map(attribution: np.ndarray) -> np.ndarray:
    """(C, H, W) or (H, W) attributions -> (H, W), summed over channels."""
    a = np.asarray(attribution, dtype=np.float64)
    return a.sum(axis=0) if a.ndim == 3 else a.reshape(a.shape[-2], a.shape[-1])


def overlay_figure(
    x: np.ndarray,
    attribution: np.ndarray,
    spec: ModalitySpec,
    title: str | None = None,
    height: int = 260,
    opacity: float = 0.6,
) -> go.Figure:
    """A picture (image or spectrogram) with its pixel attributions laid over it.

    The attribution trace is the figure's second trace (z: (H, W), summed over channels);
    spectrograms are flipped like the picture, lowest frequency at the bottom.
    """
    rgb = to_rgb(np.asarray(x), spec)
    a = pixel_map(attribution)
    if spec.kind == "spectrogram":
        a = a[::-1]
    r = symmetric_range(a)
    fig = go.Figure(go.Image(z=rgb, hoverinfo="skip", name="input"))
    fig.add_trace(
        go.Heatmap(
            z=a,
            colorscale=DIVERGING,
            zmin=-r,
            zmax=r,
            opacity=opacity,
            name="attribution",
            colorbar={"thickness": 10, "len": 0.8},
            hovertemplate="x %{x}, y %{y}: %{z:.3g}<extra></extra>",
        )
    )
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, scaleanchor="x")
    return _layout(fig, title, height)


def words_figure(
    words: Sequence[str], values: np.ndarray, title: str | None = None, height: int = 120
) -> go.Figure:
    """Each word in a cell coloured by its attribution (one row, reading order)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    r = symmetric_range(v)
    fig = go.Figure(
        go.Heatmap(
            z=[v.tolist()],
            x=list(range(len(v))),
            text=[list(words)],
            texttemplate="%{text}",
            colorscale=DIVERGING,
            zmin=-r,
            zmax=r,
            xgap=2,
            colorbar={"thickness": 10},
            hovertemplate="%{text}: %{z:.3g}<extra></extra>",
        )
    )
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    return _layout(fig, title, height)


def sequence_figure(
    values: np.ndarray,
    feature_names: Sequence[str] | None = None,
    step_labels: Sequence[str] | None = None,
    title: str | None = None,
    height: int = 330,
) -> go.Figure:
    """(T, F) attributions: per-step totals (bars, top) over a features x time-steps heatmap.

    Trace 0 is the per-step bar (sum over features), trace 1 the heatmap (F x T).
    """
    a = np.asarray(values, dtype=np.float64)
    a = a.reshape(a.shape[0], -1)
    t, f = a.shape
    names = (
        list(feature_names)
        if feature_names is not None and len(feature_names) == f
        else [f"f{i}" for i in range(f)]
    )
    steps = list(range(t))
    labels = (
        list(step_labels)
        if step_labels is not None and len(step_labels) == t
        else [str(i) for i in steps]
    )
    per_step = a.sum(axis=1)
    r = symmetric_range(a)
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.3, 0.7], vertical_spacing=0.04
    )
    fig.add_trace(
        go.Bar(
            x=steps,
            y=per_step,
            name="per time step",
            marker={"color": ["#d62728" if v >= 0 else "#1f77b4" for v in per_step]},
            customdata=labels,
            hovertemplate="step %{x} (%{customdata}): %{y:.3g}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Heatmap(
            z=a.T,
            x=steps,
            y=names,
            colorscale=DIVERGING,
            zmin=-r,
            zmax=r,
            colorbar={"thickness": 10, "len": 0.65, "y": 0.35},
            hovertemplate="step %{x}, %{y}: %{z:.3g}<extra></extra>",
        ),
        row=2,
        col=1,
    )
    fig.update_xaxes(tickvals=steps, ticktext=labels, tickangle=-45, row=2, col=1)
    fig.update_yaxes(autorange="reversed", row=2, col=1)
    fig.update_layout(showlegend=False)
    return _layout(fig, title, height)


def shares_figure(
    shares: Mapping[str, float],
    names: Sequence[str] | None = None,
    title: str | None = "share of |attribution|",
    height: int = 200,
) -> go.Figure:
    """Each modality's share of the total absolute attribution (bars sum to 1)."""
    mods = list(shares)
    order = list(names) if names is not None else mods
    vals = [float(shares[m]) for m in mods]
    fig = go.Figure(
        go.Bar(
            x=vals,
            y=mods,
            orientation="h",
            marker={"color": [colour_of(m, order) for m in mods]},
            text=[f"{v:.0%}" for v in vals],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    # room on the right for a full bar's "100%" written outside it
    fig.update_xaxes(range=[0, 1.18], tickvals=[0, 0.25, 0.5, 0.75, 1], tickformat=".0%")
    fig.update_yaxes(autorange="reversed")
    fig.update_yaxes(automargin=True)
    return apply_layout(fig, title, height, top=34, right=20)


def shapley_figure(
    values: Mapping[str, float],
    v_all: float,
    v_empty: float,
    names: Sequence[str] | None = None,
    height: int = 200,
) -> go.Figure:
    """Exact modality Shapley values (signed bars); the title states their sum and
    v(all) - v(empty), which it equals (efficiency)."""
    mods = list(values)
    order = list(names) if names is not None else mods
    vals = [float(values[m]) for m in mods]
    total = float(sum(vals))
    fig = go.Figure(
        go.Bar(
            x=vals,
            y=mods,
            orientation="h",
            marker={"color": [colour_of(m, order) for m in mods]},
            text=[f"{v:+.3g}" for v in vals],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: φ = %{x:.4g}<extra></extra>",
        )
    )
    fig.add_vline(x=0, line={"color": "#555", "width": 1})
    # every label is written outside its bar (never squeezed into a short one and cut, never
    # losing its sign): the axis leaves room for it on both sides of 0
    lo, hi = min(0.0, *vals), max(0.0, *vals)
    pad = 0.35 * max(hi - lo, 1e-9)
    fig.update_xaxes(range=[lo - (pad if lo < 0 else 0.05 * pad), hi + pad])
    fig.update_yaxes(autorange="reversed")
    title = f"Shapley values: Σφ = {total:.4g} = v(all) − v(∅) = {v_all:.4g} − {v_empty:.4g}"
    fig.update_layout(meta={"sum": total, "v_all": float(v_all), "v_empty": float(v_empty)})
    fig.update_yaxes(automargin=True)
    return apply_layout(fig, title, height, top=34, right=20)
