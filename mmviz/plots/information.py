"""Information figures: MI matrices, MFM's shared vs specific views, PID per recipe.

Tables in (pandas), plotly figures out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mmviz.plots.charts import PALETTE, apply_layout, colour_of, legend_below

# Inferno starts at (0, 0, 4), and Streamlit's chart theme uses colours 0x000001..0x0000ff as
# placeholders it swaps for theme colours in the browser: the map's darkest cells came out pink.
# The same scale with its first colour nudged off the placeholder range:
INFERNO = [[i / 9, c] for i, c in enumerate(
    ["#010004", "#1b0c41", "#4a0c6b", "#781c6d", "#a52c60", "#cf4446", "#ed6925", "#fb9b06",
     "#f7d13d", "#fcffa4"]
)]  # fmt: skip

PID_COLOURS = {
    "redundancy": "#7f7f7f",
    "unique1": "#1f77b4",
    "unique2": "#ff7f0e",
    "synergy": "#d62728",
}


def _layout(fig: go.Figure, title: str | None, height: int, bottom: int = 40) -> go.Figure:
    return apply_layout(fig, title, height, left=50, top=34, bottom=bottom)


def _below(fig: go.Figure, title: str | None, height: int, bottom: int = 40) -> go.Figure:
    """_layout with the legend in rows under the x axis: never under the title."""
    extra = legend_below(fig)
    return _layout(fig, title, height + extra, bottom + extra)


def mi_heatmap(
    normalized: pd.DataFrame, title: str | None = None, height: int | None = None
) -> go.Figure:
    """MI(latent dimension; factor) / H(factor): dimensions as rows, factors as columns."""
    z = normalized.to_numpy(dtype=np.float64)
    h = height or int(min(900, max(260, 14 * z.shape[0] + 140)))
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(c) for c in normalized.columns],
            y=[str(i) for i in normalized.index],
            colorscale="Viridis",
            zmin=0,
            zmax=max(1e-9, float(np.nanmax(z)) if z.size else 1.0),
            colorbar={"title": {"text": "MI / H"}, "thickness": 10},
            hovertemplate="%{y} · %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(tickangle=-45)
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, h)


def factor_information_figure(
    table: pd.DataFrame, title: str | None = None, height: int = 280
) -> go.Figure:
    """I(F_y; X^_i) vs I(F_a_i; X^_i) per generated modality, one bar pair per estimator."""
    fig = go.Figure()
    estimators = list(dict.fromkeys(table["estimator"]))
    for k, est in enumerate(estimators):
        t = table[table["estimator"] == est]
        short = est.split(" (")[0]
        suffix = f" · {short}" if len(estimators) > 1 else ""
        for col, name, colour in (
            ("I_shared", "shared F_y", "#7f7f7f"),
            ("I_specific", "specific F_a", "#1f77b4"),
        ):
            fig.add_trace(
                go.Bar(
                    x=list(t["modality"]),
                    y=list(t[col]),
                    name=name + suffix,
                    marker={"color": colour, "opacity": 1.0 - 0.4 * k},
                    hovertemplate=f"{name}{suffix}<br>%{{x}}: %{{y:.3f}} nats<extra></extra>",
                )
            )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="nats")
    fig.update_xaxes(title_text="generated modality")
    return _below(fig, title, height)


def gradient_time_figure(
    curves: Mapping[str, Mapping[str, np.ndarray]],
    step_labels: Sequence[str] | None = None,
    title: str | None = None,
    height: int = 300,
) -> go.Figure:
    """||dF_y/dX_i(t)||^2 over time, per modality: curves[label][modality] -> (T,).

    Labels are e.g. "average" and "this sample" (dashed).
    """
    fig = go.Figure()
    mods: list[str] = []
    for per in curves.values():
        mods += [m for m in per if m not in mods]
    for k, (label, per) in enumerate(curves.items()):
        for m, v in per.items():
            v = np.asarray(v, dtype=np.float64).reshape(-1)
            fig.add_trace(
                go.Scatter(
                    x=list(range(len(v))),
                    y=v,
                    mode="lines+markers",
                    name=f"{m} · {label}",
                    line={"color": colour_of(m, mods), "dash": "solid" if k == 0 else "dash"},
                    marker={"size": 4},
                    hovertemplate=f"{m} · {label}<br>step %{{x}}: %{{y:.3g}}<extra></extra>",
                )
            )
    if step_labels is not None:
        n = len(step_labels)
        fig.update_xaxes(tickvals=list(range(n)), ticktext=list(step_labels), tickangle=-45)
    fig.update_xaxes(title_text="time step (word)")
    fig.update_yaxes(title_text="‖∂F_y/∂x(t)‖²", type="log")
    return _below(fig, title, height, bottom=90 if step_labels is not None else 40)


def gradient_map_figure(
    maps: Mapping[str, np.ndarray], title: str | None = None, height: int = 240
) -> go.Figure:
    """||dF_y/dx||^2 as maps over pixels, one panel per entry (e.g. average, this sample)."""
    names = list(maps)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.04)
    for k, name in enumerate(names):
        a = np.asarray(maps[name], dtype=np.float64)
        a = a.reshape(a.shape[-2], a.shape[-1])
        fig.add_trace(
            go.Heatmap(
                z=a,
                colorscale=INFERNO,
                showscale=False,
                hovertemplate=f"{name}<br>x %{{x}}, y %{{y}}: %{{z:.3g}}<extra></extra>",
            ),
            row=1,
            col=k + 1,
        )
        fig.update_yaxes(
            autorange="reversed",
            scaleanchor=f"x{k + 1 if k else ''}",
            showticklabels=False,
            row=1,
            col=k + 1,
        )
        fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, row=1, col=k + 1)
    fig.update_yaxes(showgrid=False, zeroline=False)
    fig.update_layout(plot_bgcolor="#d9d9d9")  # NaN cells (pixels left out) show as grey
    return _layout(fig, title, height)


def pid_figure(table: pd.DataFrame, title: str | None = None, height: int = 420) -> go.Figure:
    """Stacked PID terms (bits) per modality pair, one panel per recipe; a marker above each
    bar names the recipe's ground truth (✓ where the largest measured term agrees)."""
    groups = list(dict.fromkeys(table["group"]))
    fig = make_subplots(
        rows=1, cols=len(groups), subplot_titles=groups, shared_yaxes=True, horizontal_spacing=0.015
    )
    for k, g in enumerate(groups):
        t = table[table["group"] == g]
        pairs = [
            f"{a[:1].upper()}+{b[:1].upper()}"
            for a, b in zip(t["modality1"], t["modality2"], strict=True)
        ]
        for term, colour in PID_COLOURS.items():
            label = {"unique1": "unique (first)", "unique2": "unique (second)"}.get(term, term)
            fig.add_trace(
                go.Bar(
                    x=pairs,
                    y=list(t[term]),
                    name=label,
                    marker={"color": colour},
                    legendgroup=term,
                    showlegend=k == 0,
                    customdata=np.stack([t["modality1"], t["modality2"]], axis=1),
                    hovertemplate=f"{g} · %{{customdata[0]}} + %{{customdata[1]}}<br>{term}: "
                    "%{y:.3f} bits<extra></extra>",
                ),
                row=1,
                col=k + 1,
            )
        if "truth" in t:
            marks = [
                f"{tr}{' ✓' if ok is True else (' ✗' if ok is False else '')}"
                for tr, ok in zip(t["truth"], t["agrees"], strict=True)
            ]
            fig.add_trace(
                go.Scatter(
                    x=pairs,
                    y=[float(v) + 0.04 for v in t["total"]],
                    mode="text",
                    text=marks,
                    textposition="top center",
                    textfont={"size": 9},
                    showlegend=False,
                    hoverinfo="skip",
                ),
                row=1,
                col=k + 1,
            )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text="bits", row=1, col=1)
    return _below(fig, title, height)


def missing_drop_figure(
    table: pd.DataFrame, title: str | None = None, height: int | None = None
) -> go.Figure:
    """Accuracy lost (acc2 points) per model (rows) and missing set (columns)."""
    z = table.to_numpy(dtype=np.float64)
    r = max(1e-9, float(np.nanmax(np.abs(z)))) if z.size else 1.0
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(c) for c in table.columns],
            y=[str(i) for i in table.index],
            colorscale="RdBu_r",
            zmin=-r,
            zmax=r,
            # a model that cannot run without a modality has no figure there: "n/a", not "+nan%"
            text=[[f"{v:+.1%}" if np.isfinite(v) else "n/a" for v in row] for row in z],
            texttemplate="%{text}",
            colorbar={"title": {"text": "drop"}, "thickness": 10, "tickformat": ".0%"},
            hovertemplate="%{y}, missing %{x}: accuracy −%{z:.1%}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="modalities missing")
    return _layout(fig, title, height or 90 + 40 * max(1, z.shape[0]))


def metric_bars(
    table: pd.DataFrame, columns: Sequence[str], title: str | None = None, height: int = 260
) -> go.Figure:
    """Grouped bars of some numeric columns (e.g. MIG, SAP, DCI) per row (checkpoint)."""
    fig = go.Figure()
    for k, c in enumerate(columns):
        fig.add_trace(
            go.Bar(
                x=[str(i) for i in table.index],
                y=list(table[c]),
                name=c,
                marker={"color": PALETTE[k % len(PALETTE)]},
            )
        )
    fig.update_layout(barmode="group")
    return _below(fig, title, height)
