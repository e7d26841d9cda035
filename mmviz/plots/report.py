"""Model-report figures: training curves, the robustness table, coherence, log-likelihoods.

Tables in (pandas, from `mmviz.report`), plotly figures out.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mmviz.plots.charts import PALETTE, apply_layout, legend_below


def _layout(fig: go.Figure, title: str | None, height: int, bottom: int = 40) -> go.Figure:
    return apply_layout(fig, title, height, left=50, top=34, bottom=bottom)


def _below(fig: go.Figure, title: str | None, height: int, bottom: int = 40) -> go.Figure:
    """_layout with the legend in rows under the x axis: never under the title."""
    extra = legend_below(fig)
    return _layout(fig, title, height + extra, bottom + extra)


def curves_figure(
    phases: Mapping[str, pd.DataFrame], title: str | None = None, height: int = 300
) -> go.Figure:
    """Training (solid) and validation (dashed) loss per epoch, one colour per phase."""
    fig = go.Figure()
    for k, (phase, df) in enumerate(phases.items()):
        colour = PALETTE[k % len(PALETTE)]
        for col, dash in (("train_loss", "solid"), ("valid_loss", "dash")):
            if col not in df:
                continue
            fig.add_trace(
                go.Scatter(
                    x=list(df["epoch"]),
                    y=list(df[col]),
                    mode="lines+markers",
                    name=f"{phase} · {col.split('_')[0]}",
                    line={"color": colour, "dash": dash},
                    marker={"size": 4},
                    hovertemplate=f"{phase} {col}<br>epoch %{{x}}: %{{y:.4g}}<extra></extra>",
                )
            )
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="loss")
    return _below(fig, title, height)


def robustness_heatmap(
    table: pd.DataFrame, modalities: list[str], title: str | None = None, height: int | None = None
) -> go.Figure:
    """Accuracy per observed subset (rows), told once per row: on the left which modalities
    the row observes (a filled ● cell each, the others empty), on the right one bar with the
    row's accuracy written beside it (n/a where it was not measured)."""
    acc = table["accuracy"].to_numpy(dtype=np.float64)
    obs = table[modalities].to_numpy(dtype=bool)
    rows = [str(i) for i in table.index]
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        column_widths=[0.55, 0.45],
        horizontal_spacing=0.03,
    )
    fig.add_trace(
        go.Heatmap(
            z=obs.astype(np.float64),
            x=list(modalities),
            y=rows,
            zmin=0,
            zmax=1,
            colorscale=[[0.0, "#f2f2f2"], [1.0, "#4c78a8"]],
            showscale=False,
            text=[["●" if o else "" for o in row] for row in obs],
            texttemplate="%{text}",
            textfont={"color": "white"},
            xgap=2,
            ygap=2,
            customdata=[["observed" if o else "not observed" for o in row] for row in obs],
            hovertemplate="%{y}: %{x} %{customdata}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    shown = np.where(np.isfinite(acc), acc, 0.0)
    fig.add_trace(
        go.Bar(
            x=shown,
            y=rows,
            orientation="h",
            marker={"color": PALETTE[0]},
            text=[f"{a:.1%}" if np.isfinite(a) else "n/a" for a in acc],
            textposition="outside",
            cliponaxis=False,
            showlegend=False,
            hovertemplate="observed %{y}: accuracy %{x:.1%}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.update_xaxes(side="top", title_text="observed modality", row=1, col=1)
    fig.update_xaxes(
        side="top", title_text="accuracy", range=[0, 1.2], tickformat=".0%", row=1, col=2
    )
    fig.update_xaxes(tickvals=[0, 0.5, 1], row=1, col=2)
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    # the axes' labels and titles sit on top, under the chart's title: room for both
    return apply_layout(
        fig, title, height or 150 + 26 * len(table), left=50, top=34 + 60, untitled_top=60
    )


def _percent_heatmap(
    table: pd.DataFrame, colorbar: str, hover: str, colorscale: str = "Viridis", **z_range: float
) -> go.Figure:
    """A table of fractions as a heatmap with each cell's percentage written in it (empty
    where NaN), rows top to bottom in table order."""
    z = table.to_numpy(dtype=np.float64)
    return go.Figure(
        go.Heatmap(
            z=z,
            x=[str(c) for c in table.columns],
            y=[str(i) for i in table.index],
            zmin=0,
            zmax=1,
            **z_range,
            colorscale=colorscale,
            text=[[f"{v:.0%}" if np.isfinite(v) else "" for v in row] for row in z],
            texttemplate="%{text}",
            xgap=2,
            ygap=2,
            colorbar={"title": {"text": colorbar}, "thickness": 10, "tickformat": ".0%"},
            hovertemplate=hover,
        )
    )


def interaction_robustness_heatmap(
    table: pd.DataFrame, title: str | None = None, height: int | None = None
) -> go.Figure:
    """Binary accuracy per observed subset (rows) and interaction recipe (columns); the
    colour scale is centred on chance (50%), so a recipe that lost its only informative
    modality shows as a pale cell."""
    fig = _percent_heatmap(
        table, "acc2", "observed %{y}<br>%{x}: %{z:.1%}<extra></extra>", "RdBu", zmid=0.5
    )
    fig.update_xaxes(side="top", title_text="interaction recipe")
    fig.update_yaxes(autorange="reversed", title_text="observed")
    # the axis's labels and title sit on top, under the chart's title: room for both
    return apply_layout(
        fig, title, height or 170 + 28 * len(table), left=50, top=34 + 60, untitled_top=60
    )


def coherence_heatmap(
    matrix: pd.DataFrame, title: str | None = None, height: int | None = None
) -> go.Figure:
    """Coherence (oracle agreement) of generated target modalities (columns) per source."""
    fig = _percent_heatmap(matrix, "coherence", "%{y} → %{x}: %{z:.1%}<extra></extra>")
    fig.update_xaxes(title_text="generated (target)", side="top")
    fig.update_yaxes(title_text="given (source)", autorange="reversed")
    return apply_layout(
        fig, title, height or 160 + 34 * len(matrix), left=50, top=34 + 60, untitled_top=60
    )
