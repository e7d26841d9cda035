"""Figures of the reproduction studies: a results dict (results/<study>.json) in, plotly out.

One function per study, and `study_figure` to pick it, so the page never branches on names.
Points are individual seeds; lines join the means over seeds, so spread stays visible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mmviz.plots.charts import PALETTE, apply_layout

Result = dict[str, Any]
OURS, BASELINE, PAPER = PALETTE[0], PALETTE[1], PALETTE[3]


def _layout(fig: go.Figure, title: str | None, height: int = 340) -> go.Figure:
    return apply_layout(
        fig,
        title,
        height,
        left=50,
        top=40,
        bottom=40,
        untitled_top=20,
        legend={"orientation": "h", "y": -0.2},
    )


def _means(rows: list[dict], key: str, value: str, order: list | None = None) -> tuple[list, list]:
    """Keys (in `order`, else first-seen) and the mean of `value` over rows with that key."""
    keys = order or list(dict.fromkeys(r[key] for r in rows))
    means = []
    for k in keys:
        vals = [r[value] for r in rows if r[key] == k and r.get(value) is not None]
        means.append(float(np.mean(vals)) if vals else None)
    return keys, means


def weak_supervision_figure(result: Result) -> go.Figure:
    """Label accuracy from the image against the paired fraction (log axis), both models."""
    rows = sorted(result["rows"], key=lambda r: r["fraction"])
    x = [r["fraction"] for r in rows]
    pairs = [f"{r['n_paired']} pairs" for r in rows]
    fig = go.Figure()
    for key, name, colour in (
        ("mvae_accuracy", "MVAE (paired + unpaired data)", OURS),
        ("supervised_accuracy", "classifier on the pairs only", BASELINE),
    ):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[r[key] for r in rows],
                mode="lines+markers",
                name=name,
                line={"color": colour},
                text=pairs,
                hovertemplate="%{x:.1%} paired (%{text}): %{y:.1%}<extra></extra>",
            )
        )
    fig.add_hline(y=0.1, line={"dash": "dot", "color": "#9e9e9e"}, annotation_text="chance")
    fig.update_xaxes(type="log", title="fraction of training examples paired", tickformat=".1%")
    fig.update_yaxes(title="label accuracy from the image", range=[0, 1], tickformat=".0%")
    return _layout(fig, "Weak supervision: label from hand")


def _seed_panels(
    result: Result,
    key: str,
    order: list,
    labels: list[str],
    panels: list[tuple[str, str]],
    title: str,
) -> go.Figure:
    """One panel per metric: a bar per variant (mean over seeds) with each seed as a dot."""
    rows = result["rows"]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for _, t in panels])
    for col, (value, _) in enumerate(panels, start=1):
        _, means = _means(rows, key, value, order)
        fig.add_trace(
            go.Bar(
                x=labels,
                y=means,
                marker={"color": OURS},
                name="mean over seeds",
                showlegend=col == 1,
                hovertemplate="%{x}: %{y:.3f}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        dots = [(labels[order.index(r[key])], r[value]) for r in rows if r[key] in order]
        fig.add_trace(
            go.Scatter(
                x=[d[0] for d in dots],
                y=[d[1] for d in dots],
                mode="markers",
                marker={"color": "#111111", "size": 6},
                name="one seed",
                showlegend=col == 1,
                hovertemplate="%{x}: %{y:.3f}<extra>seed</extra>",
            ),
            row=1,
            col=col,
        )
    return _layout(fig, title, height=360)


def poe_figure(result: Result) -> go.Figure:
    order = ["product", "quotient", "nosub"]
    present = [v for v in order if any(r["variant"] == v for r in result["rows"])]
    names = {"product": "MVAE", "quotient": "MVAE-Q", "nosub": "MVAE, no sub-sampling"}
    fig = _seed_panels(
        result,
        "variant",
        present,
        [names[v] for v in present],
        [("log_p_hand", "log p(hand), nats"), ("accuracy_from_hand", "label accuracy from hand")],
        "Product vs quotient of experts",
    )
    paper = ((result.get("paper") or {}).get("log_p_hand")) or {}
    for v, value in paper.items():
        if v in present:
            fig.add_trace(
                go.Scatter(
                    x=[names[v]],
                    y=[value],
                    mode="markers",
                    marker={"symbol": "diamond", "color": PAPER, "size": 10},
                    name="paper (MNIST, not comparable in value)",
                    showlegend=v == "product",
                    hovertemplate="paper: %{y:.2f}<extra></extra>",
                ),
                row=1,
                col=1,
            )
    return fig


def jmvae_alpha_figure(result: Result) -> go.Figure:
    order = [
        v for v in ("zero", "0.01", "0.1", "1") if any(r["variant"] == v for r in result["rows"])
    ]
    labels = ["JMVAE-zero" if v == "zero" else f"α = {v}" for v in order]
    return _seed_panels(
        result,
        "variant",
        order,
        labels,
        [
            ("log_p_joint", "joint log p(hand, label)"),
            ("log_p_hand_given_label", "conditional log p(hand | label)"),
        ],
        "JMVAE-kl: the effect of alpha",
    )


def mfm_figure(result: Result) -> go.Figure:
    """Per dataset: accuracy with all inputs and with one missing, per variant that ran."""
    ran = [r for r in result["rows"] if r.get("status") == "run"]
    datasets = list(dict.fromkeys(r["dataset"] for r in ran))
    fig = make_subplots(rows=1, cols=max(len(datasets), 1), subplot_titles=datasets)
    for col, d in enumerate(datasets, start=1):
        rr = [r for r in ran if r["dataset"] == d]
        for value, name, colour in (
            ("accuracy", "all inputs", OURS),
            ("accuracy_missing_mean", "one input missing (mean)", BASELINE),
        ):
            fig.add_trace(
                go.Bar(
                    x=[r["name"] for r in rr],
                    y=[r[value] for r in rr],
                    name=name,
                    marker={"color": colour},
                    showlegend=col == 1,
                    hovertemplate="%{x}: %{y:.1%}<extra>" + name + "</extra>",
                ),
                row=1,
                col=col,
            )
        fig.update_yaxes(range=[0, 1], tickformat=".0%", row=1, col=col)
    fig.update_layout(barmode="group")
    return _layout(fig, "MFM and its ablations: accuracy", height=380)


def lmf_rank_figure(result: Result) -> go.Figure:
    """Binary accuracy per rank: the mean with its spread over seeds, and every seed."""
    rows = result["rows"]
    ranks = sorted({int(r["rank"]) for r in rows})
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[r["rank"] for r in rows],
            y=[r["acc2"] for r in rows],
            mode="markers",
            marker={"color": "#111111", "size": 6},
            name="one seed",
            hovertemplate="rank %{x}: %{y:.1%}<extra>seed</extra>",
        )
    )
    acc = [[r["acc2"] for r in rows if int(r["rank"]) == k] for k in ranks]
    fig.add_trace(
        go.Scatter(
            x=ranks,
            y=[float(np.mean(a)) for a in acc],
            error_y={"type": "data", "array": [float(np.std(a)) for a in acc]},
            mode="lines+markers",
            line={"color": OURS},
            name="mean ± std over seeds",
            hovertemplate="rank %{x}: %{y:.1%}<extra>mean</extra>",
        )
    )
    fig.add_vrect(x0=min(ranks) * 0.9, x1=9.9, fillcolor="#2ca02c", opacity=0.07, line_width=0)
    fig.update_xaxes(type="log", title="rank r", tickvals=ranks)
    fig.update_yaxes(title="binary accuracy (Acc-2)", tickformat=".0%")
    return _layout(fig, "LMF: accuracy against rank (shaded: ranks below 10)")


def scaling_figure(result: Result) -> go.Figure:
    """Parameters and time per epoch against the number of modalities, log scale."""
    rows = result["rows"]
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=["parameters", "seconds per epoch (extrapolated)"]
    )
    for col, value in ((1, "parameters"), (2, "seconds_per_epoch")):
        for model, name, colour in (
            ("mvae", "MVAE (one expert per modality)", OURS),
            ("jmvae", "JMVAE, an encoder per subset", BASELINE),
        ):
            rr = sorted((r for r in rows if r["model"] == model), key=lambda r: r["modalities"])
            fig.add_trace(
                go.Scatter(
                    x=[r["modalities"] for r in rr],
                    y=[r[value] for r in rr],
                    text=[f"{r['encoders']} encoders" for r in rr],
                    mode="lines+markers",
                    name=name,
                    line={"color": colour},
                    showlegend=col == 1,
                    hovertemplate="M=%{x}: %{y:.3s} (%{text})<extra></extra>",
                ),
                row=1,
                col=col,
            )
        fig.update_yaxes(type="log", row=1, col=col)
        fig.update_xaxes(title="modalities M", dtick=1, row=1, col=col)
    return _layout(fig, "Scaling with the number of modalities", height=360)


def aggregation_figure(result: Result) -> go.Figure:
    """Cross-modal coherence against the number of observed modalities, and log p(all), for
    PoE, MoE and MoPoE."""
    rows = result["rows"]
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.65, 0.35],
        subplot_titles=["coherence of generated modalities", "log p(all five)"],
    )
    colours = {"poe": BASELINE, "moe": "#2ca02c", "mopoe": OURS}
    for r in rows:
        by = r["coherence_by_subset_size"]
        sizes = sorted(by, key=int)
        fig.add_trace(
            go.Scatter(
                x=[int(k) for k in sizes],
                y=[by[k] for k in sizes],
                mode="lines+markers",
                name=r["name"],
                line={"color": colours.get(r["aggregator"], OURS)},
                hovertemplate="%{x} observed: %{y:.1%}<extra>" + r["name"] + "</extra>",
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Bar(
            x=[r["name"] for r in rows],
            y=[r["log_p_all"] for r in rows],
            marker_color=[colours.get(r["aggregator"], OURS) for r in rows],
            text=[f"{r['log_p_all']:,.0f}" for r in rows],
            textposition="outside",
            cliponaxis=False,
            showlegend=False,
            hovertemplate="%{x}: %{y:,.1f} nats<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.update_xaxes(title="observed modalities", dtick=1, row=1, col=1)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05], row=1, col=1)
    fig.update_yaxes(title="nats", row=1, col=2)
    return _layout(fig, "PoE vs MoE vs MoPoE", height=360)


FIGURES: dict[str, Callable[[Result], go.Figure]] = {
    "weak-supervision": weak_supervision_figure,
    "poe-vs-quotient": poe_figure,
    "jmvae-alpha": jmvae_alpha_figure,
    "mfm-ablations": mfm_figure,
    "lmf-rank": lmf_rank_figure,
    "scaling-modalities": scaling_figure,
    "aggregation": aggregation_figure,
}


def study_figure(result: Result) -> go.Figure | None:
    """The figure for a study's results, or None if it has no rows to draw."""
    fn = FIGURES.get(result.get("study", ""))
    if fn is None or not result.get("rows"):
        return None
    return fn(result)
