"""Fusion-lab figures: an utterance's traces, model scores, parameter counts, measured results.

Arrays and tables in, plotly figures out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mmviz.plots.charts import PALETTE, apply_layout, legend_below

MODEL_COLOURS = {
    "tfn": "#d62728",
    "lmf": "#1f77b4",
    "early_fusion": "#2ca02c",
    "late_fusion": "#9467bd",
}


def _layout(fig: go.Figure, title: str | None, height: int, bottom: int = 40) -> go.Figure:
    return apply_layout(fig, title, height, left=50, top=34, bottom=bottom)


def _below(fig: go.Figure, title: str | None, height: int, bottom: int = 40) -> go.Figure:
    """_layout with the legend in rows under the x axis: never under the title."""
    extra = legend_below(fig)
    return _layout(fig, title, height + extra, bottom + extra)


def traces_figure(
    values: np.ndarray,
    feature_names: Sequence[str],
    step_labels: Sequence[str] | None = None,
    clean: np.ndarray | None = None,
    title: str | None = None,
    height: int = 260,
) -> go.Figure:
    """One line per feature over the time steps (words); with `clean` given, the clean
    traces are drawn faintly behind the (noisy) ones."""
    a = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    t = a.shape[0]
    x = list(range(t))
    fig = go.Figure()
    if clean is not None:
        c = np.asarray(clean, dtype=np.float64).reshape(t, -1)
        for j, name in enumerate(feature_names):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=c[:, j],
                    mode="lines",
                    name=f"{name} (clean)",
                    showlegend=False,
                    line={"color": PALETTE[j % len(PALETTE)], "width": 1, "dash": "dot"},
                    opacity=0.45,
                    hoverinfo="skip",
                )
            )
    for j, name in enumerate(feature_names):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=a[:, j],
                mode="lines",
                name=str(name),
                line={"color": PALETTE[j % len(PALETTE)], "width": 1.6},
                hovertemplate=f"{name}<br>step %{{x}}: %{{y:.2f}}<extra></extra>",
            )
        )
    if step_labels is not None and len(step_labels) == t:
        fig.update_xaxes(tickvals=x, ticktext=list(step_labels), tickangle=-45)
    fig.update_layout(legend={"font": {"size": 9}})
    return _layout(fig, title, height)


def scores_figure(
    table: pd.DataFrame, truth: float | None = None, title: str | None = None, height: int = 260
) -> go.Figure:
    """Each model's score as set (solid) beside its clean score (outline), on [-3, 3]."""
    models = list(table["model"])
    colours = [MODEL_COLOURS.get(k, PALETTE[7]) for k in table["kind"]]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=models,
            y=list(table["clean score"]),
            name="clean, every modality",
            marker={"color": "rgba(0,0,0,0)", "line": {"color": colours, "width": 2}},
            hovertemplate="%{x} clean: %{y:+.2f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Bar(
            x=models,
            y=list(table["score"]),
            name="as set (toggles, noise)",
            marker={"color": colours},
            text=[f"{v:+.2f}" for v in table["score"]],
            textposition="none",  # written under the axis (below): never across the truth line
            hovertemplate="%{x}: %{y:+.2f}<extra></extra>",
        )
    )
    # each model's score under its name, where no bar or line can run through it
    fig.update_xaxes(
        tickvals=models,
        ticktext=[f"{m}<br><b>{v:+.2f}</b>" for m, v in zip(models, table["score"], strict=True)],
    )
    if truth is not None:
        fig.add_hline(
            y=float(truth),
            line={"color": "black", "dash": "dash"},
            annotation_text=f"true score {truth:+.2f}",
            annotation_position="top right",
            annotation_font={"size": 10},
        )
    fig.add_hline(y=0, line={"color": "#999", "width": 1})
    fig.update_yaxes(range=[-3.4, 3.4], title_text="sentiment score")
    fig.update_layout(barmode="group")
    return _below(fig, title, height, bottom=56)


def params_figure(
    table: pd.DataFrame,
    x: str,
    title: str | None = None,
    mark: float | None = None,
    height: int = 280,
) -> go.Figure:
    """TFN vs LMF fusion parameters (log scale) against column `x` (rank, or a size scale)."""
    fig = go.Figure()
    for name in ("tfn", "lmf"):
        fig.add_trace(
            go.Scatter(
                x=list(table[x]),
                y=list(table[name]),
                mode="lines+markers",
                name=name.upper(),
                line={"color": MODEL_COLOURS[name]},
                hovertemplate=f"{name.upper()}<br>{x} %{{x}}: %{{y:,}} parameters<extra></extra>",
            )
        )
    if mark is not None:
        fig.add_vline(x=mark, line={"color": "#555", "dash": "dot"})
    fig.update_yaxes(type="log", title_text="fusion parameters")
    fig.update_xaxes(title_text=x)
    return _below(fig, title, height)


def bench_figure(
    ratios: Mapping[str, float], title: str | None = None, height: int = 240
) -> go.Figure:
    """LMF's measured advantage over TFN (x times): parameters and samples per second."""
    labels = {
        "fusion_params": "fusion parameters (TFN/LMF)",
        "total_params": "total parameters (TFN/LMF)",
        "train": "training speed (LMF/TFN)",
        "inference": "inference speed (LMF/TFN)",
    }
    keys = [k for k in labels if k in ratios]
    vals = [float(ratios[k]) for k in keys]
    fig = go.Figure(
        go.Bar(
            x=vals,
            y=[labels[k] for k in keys],
            orientation="h",
            marker={"color": ["#1f77b4" if v >= 1 else "#d62728" for v in vals]},
            text=[f"{v:.2f}×" for v in vals],
            textposition="auto",
            hovertemplate="%{y}: %{x:.2f}×<extra></extra>",
        )
    )
    fig.add_vline(x=1, line={"color": "#555", "dash": "dot"})
    fig.update_xaxes(type="log", title_text="× (> 1: LMF better)")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, height)


def rank_figure(
    summary: pd.DataFrame,
    rows: pd.DataFrame | None = None,
    title: str | None = None,
    height: int = 280,
) -> go.Figure:
    """Binary accuracy against LMF's rank: mean ± std over seeds, each seed as a dot."""
    fig = go.Figure()
    if rows is not None:
        fig.add_trace(
            go.Scatter(
                x=list(rows["rank"]),
                y=list(rows["acc2"]),
                mode="markers",
                name="one seed",
                marker={"color": "#9ecae1", "size": 6},
                hovertemplate="rank %{x}: %{y:.3f}<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=list(summary["rank"]),
            y=list(summary["acc2"]),
            mode="lines+markers",
            name="mean over seeds",
            line={"color": "#1f77b4"},
            error_y={"type": "data", "array": list(summary["acc2_std"].fillna(0.0)), "width": 3},
            customdata=list(summary["fusion_params"]),
            hovertemplate="rank %{x}: acc2 %{y:.3f}<br>%{customdata:,} fusion parameters"
            "<extra></extra>",
        )
    )
    fig.update_xaxes(type="log", title_text="rank r", tickvals=list(summary["rank"]))
    fig.update_yaxes(title_text="binary accuracy (acc2)")
    return _below(fig, title, height)


def interaction_figure(
    table: pd.DataFrame,
    kinds: Mapping[str, str] | None = None,
    title: str | None = None,
    height: int = 300,
) -> go.Figure:
    """Binary accuracy per interaction recipe (x), one bar per model (rows of `table`)."""
    fig = go.Figure()
    for k, cid in enumerate(table.index):
        colour = MODEL_COLOURS.get((kinds or {}).get(cid, ""), PALETTE[k % len(PALETTE)])
        fig.add_trace(
            go.Bar(
                x=[str(c) for c in table.columns],
                y=list(table.loc[cid]),
                name=str(cid),
                marker={"color": colour},
                hovertemplate=f"{cid}<br>%{{x}}: %{{y:.1%}}<extra></extra>",
            )
        )
    fig.add_hline(y=0.5, line={"color": "#999", "dash": "dot"}, annotation_text="chance")
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", title_text="acc2")
    fig.update_layout(barmode="group")
    return _below(fig, title, height)
