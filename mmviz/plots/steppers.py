"""Figures of the step-by-step explainers (mmviz/steppers.py): one frame of a stepper each.

Pure functions: a stepper's arrays and the step to draw in, a plotly figure out. Every figure
keeps its axes fixed across the steps of one stepper, so playing the steps shows the posterior
(or the score) move, not the axes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mmviz.data.base import ModalitySpec
from mmviz.plots.charts import PALETTE, PRIOR_COLOUR, PRODUCT_COLOUR, apply_layout
from mmviz.plots.images import is_pictorial, png_uri, to_rgb
from mmviz.steppers import LMFRanks, PoESteps, TFNBlocks, order_name

GRID_POINTS = 361
X_REACH = 6.0  # prior units: a density axis never reaches further than ±this
ORDER_COLOURS = {0: "#7f7f7f", 1: "#1f77b4", 2: "#ff7f0e", 3: "#d62728"}


def _colour(names: Sequence[str], j: int) -> str:
    return PRIOR_COLOUR if names[j] == "prior" else PALETTE[(j - 1) % len(PALETTE)]


def _normal(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))


def _density_axis(steps: PoESteps) -> np.ndarray:
    """One x grid for every step: the prior's ±3.5, every running posterior's and every added
    expert's mean ± 3.5 std, but never beyond ±X_REACH (a vague expert is cut)."""
    d = steps.dim
    means = np.concatenate([steps.means[:, d], steps.added_means[:, d]])
    stds = np.concatenate([steps.stds[:, d], steps.added_stds[:, d]])
    lo = float(np.clip(np.min(means - 3.5 * stds), -X_REACH, -3.5))
    hi = float(np.clip(np.max(means + 3.5 * stds), 3.5, X_REACH))
    return np.linspace(lo, hi, GRID_POINTS)


def _running_density(steps: PoESteps, s: int, x: np.ndarray) -> np.ndarray:
    """The running posterior's density in `dim` after step s: a Gaussian for a product, the
    true mixture density (not its moment-matched Gaussian) for a mixture."""
    d = steps.dim
    if steps.kind == "product" or s == 0:
        return _normal(x, steps.means[s, d], steps.stds[s, d])
    parts = [_normal(x, steps.added_means[j, d], steps.added_stds[j, d]) for j in range(1, s + 1)]
    return np.mean(parts, axis=0)


def density_figure(
    steps: PoESteps, s: int, title: str | None = None, height: int = 300
) -> go.Figure:
    """The densities in one latent dimension at step s: the prior, the experts (components)
    multiplied in so far (faint), the one added at this step (bold) and the running product
    (mixture) in black, with its mean ± std marked. Axes fixed across steps."""
    d, x = steps.dim, _density_axis(steps)
    combined = "product" if steps.kind == "product" else "mixture"
    peak = max(
        float(np.max(_running_density(steps, k, x))) for k in range(steps.steps)
    )  # the tallest running posterior of any step: the y axis holds them all
    fig = go.Figure()
    for j in range(1, s + 1):
        now = j == s
        y = _normal(x, steps.added_means[j, d], steps.added_stds[j, d])
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                name=steps.names[j] + (" (added now)" if now else ""),
                line={"color": _colour(steps.names, j), "width": 3 if now else 1.3},
                opacity=1.0 if now else 0.45,
                hovertemplate=f"{steps.names[j]}: N({steps.added_means[j, d]:.2f}, "
                f"{steps.added_stds[j, d]:.2f}²)<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=_normal(x, 0.0, 1.0),
            mode="lines",
            name="prior N(0, 1)",
            line={"color": PRIOR_COLOUR, "width": 1.5, "dash": "dash"},
            hovertemplate="prior N(0, 1)<extra></extra>",
        )
    )
    mean, std = steps.means[s, d], steps.stds[s, d]
    running = _running_density(steps, s, x)
    fig.add_trace(
        go.Scatter(
            x=x,
            y=running,
            mode="lines",
            name=f"{combined} after step {s}",
            line={"color": PRODUCT_COLOUR, "width": 3},
            fill="tozeroy",
            fillcolor="rgba(0,0,0,0.08)",
            hovertemplate=f"{combined}: mean {mean:.2f}, std {std:.2f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[mean],
            y=[peak * 1.04],
            mode="markers",
            name="mean ± std",
            marker={"color": PRODUCT_COLOUR, "symbol": "diamond", "size": 9},
            error_x={"type": "data", "array": [std], "color": PRODUCT_COLOUR, "width": 4},
            hovertemplate=f"mean {mean:.3f} ± std {std:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(range=[x[0], x[-1]], title_text=f"z[{d}]")
    fig.update_yaxes(range=[0, peak * 1.12], title_text="density")
    fig.update_layout(legend={"orientation": "h", "x": 0.0, "y": -0.25, "yanchor": "top"})
    return apply_layout(fig, title, height, left=50, bottom=90)


def shares_figure(steps: PoESteps, s: int, title: str | None = None, height: int = 0) -> go.Figure:
    """One bar per step up to s: each contributor's share of the running product's precision
    (or of the mixture's variance) in the chosen dimension, with the total at the bar's end.
    Steps not reached yet keep an empty row, so the figure's size does not change."""
    d = steps.dim
    rows = [f"{k}: {'prior' if k == 0 else '+ ' + steps.names[k]}" for k in range(steps.steps)]
    fig = go.Figure()
    for j in range(steps.steps):
        shares = np.where(np.arange(steps.steps) <= s, steps.shares[:, j], 0.0)
        if not shares.any():
            continue
        fig.add_trace(
            go.Bar(
                y=rows,
                x=shares,
                orientation="h",
                name=steps.names[j],
                marker={"color": _colour(steps.names, j)},
                text=[_share_text(steps.names[j], v) for v in shares],
                textposition="inside",
                insidetextanchor="middle",
                hovertemplate=f"{steps.names[j]}: %{{x:.1%}} of the {steps.share_of}"
                "<extra>%{y}</extra>",
            )
        )
    totals = []
    for k in range(steps.steps):
        if k > s:
            totals.append("")
        elif steps.kind == "product":
            totals.append(f"T = {steps.stds[k, d] ** -2:.3g}")
        else:
            totals.append(f"var = {steps.stds[k, d] ** 2:.3g}")
    fig.add_trace(
        go.Scatter(
            y=rows,
            x=[1.01] * steps.steps,
            mode="text",
            text=totals,
            textposition="middle right",
            showlegend=False,
            hoverinfo="skip",
        )
    )
    fig.update_layout(barmode="stack", showlegend=False, uniformtext={"minsize": 9, "mode": "hide"})
    fig.update_xaxes(range=[0, 1.22], tickformat=".0%", tickvals=[0, 0.25, 0.5, 0.75, 1.0])
    fig.update_yaxes(autorange="reversed", tickfont={"size": 10})
    h = height or 60 + 24 * steps.steps
    return apply_layout(fig, title, h, left=110, bottom=30)


def _share_text(name: str, share: float) -> str:
    """A bar segment's label: the name where it fits, the share where only that fits."""
    if share >= 0.14:
        return f"{name} {share:.0%}"
    return f"{share:.0%}" if share >= 0.06 else ""


def thumbnails_figure(
    steps: PoESteps,
    s: int,
    specs: Mapping[str, ModalitySpec],
    title: str | None = None,
    height: int = 170,
    scale: int = 3,
) -> go.Figure:
    """Every modality decoded from the running posterior's mean after step s, side by side:
    pictures for images and spectrograms, the words for a label or a phrase."""
    mods = list(steps.outputs)
    observed = set(steps.observed)
    titles = [f"{m}{'' if m in observed else ' (generated)'}" for m in mods]
    fig = make_subplots(rows=1, cols=len(mods), subplot_titles=titles, horizontal_spacing=0.02)
    for c, m in enumerate(mods, start=1):
        spec = specs[m]
        if is_pictorial(spec):
            rgb = to_rgb(steps.outputs[m][s], spec)
            fig.add_trace(go.Image(source=png_uri(rgb, scale), hoverinfo="skip"), row=1, col=c)
            fig.update_xaxes(visible=False, row=1, col=c)
            fig.update_yaxes(visible=False, scaleanchor=f"x{c}" if c > 1 else "x", row=1, col=c)
        else:
            text = steps.captions.get(m, [""] * steps.steps)[s]
            fig.add_trace(
                go.Scatter(
                    x=[0.5],
                    y=[0.5],
                    mode="text",
                    text=["<br>".join(_wrap(text, 14))],
                    textfont={"size": 14},
                    hovertext=[text],
                    hoverinfo="text",
                    showlegend=False,
                ),
                row=1,
                col=c,
            )
            fig.update_xaxes(visible=False, range=[0, 1], row=1, col=c)
            fig.update_yaxes(visible=False, range=[0, 1], row=1, col=c)
    fig.update_annotations(font={"size": 11})
    fig.update_layout(showlegend=False, plot_bgcolor="white")
    return apply_layout(fig, title, height, left=4, right=4, top=40, bottom=4, untitled_top=24)


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line] if line else lines or [""]


# ---- LMF, rank by rank ------------------------------------------------------------------------
def lmf_convergence_figure(
    ranks: LMFRanks, k: int, title: str | None = None, height: int = 300
) -> go.Figure:
    """The score after each added rank (the full-rank score dashed) and, on the right axis,
    the fusion parameters an LMF of that rank has; step k is marked."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    x = np.arange(ranks.rank + 1)
    labels = ["bias"] + [f"+ rank {i}" for i in ranks.order]
    fig.add_trace(
        go.Bar(
            x=x,
            y=ranks.params,
            name="fusion parameters (rank k)",
            marker={"color": ["#9ecae1" if i <= k else "#e5e5e5" for i in x]},
            customdata=labels,
            hovertemplate="rank %{x}: %{y:,} parameters<extra></extra>",
            opacity=0.6,
        ),
        secondary_y=True,
    )
    fig.add_trace(
        go.Scatter(
            x=x[: k + 1],
            y=ranks.scores[: k + 1],
            mode="lines+markers",
            name="score after k ranks",
            line={"color": PRODUCT_COLOUR, "width": 2.5},
            marker={"size": 8},
            customdata=labels[: k + 1],
            hovertemplate="%{customdata}: score %{y:.4f}<extra></extra>",
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=[x[0], x[-1]],
            y=[ranks.scores[-1]] * 2,
            mode="lines",
            name=f"full rank {ranks.rank}: {ranks.scores[-1]:.4f}",
            line={"color": "#d62728", "dash": "dash", "width": 1.5},
            hoverinfo="skip",
        ),
        secondary_y=False,
    )
    lo, hi = float(np.min(ranks.scores)), float(np.max(ranks.scores))
    pad = max(1e-3, 0.12 * (hi - lo))
    fig.update_yaxes(range=[lo - pad, hi + pad], title_text="score", secondary_y=False)
    fig.update_yaxes(
        range=[0, float(ranks.params[-1]) * 1.15],
        title_text="parameters",
        showgrid=False,
        secondary_y=True,
    )
    fig.update_xaxes(tickvals=list(x), ticktext=[str(i) for i in x], title_text="ranks added")
    fig.update_layout(legend={"orientation": "h", "x": 0.0, "y": -0.3, "yanchor": "top"})
    return apply_layout(fig, title, height, left=55, right=60, bottom=90)


def lmf_fused_figure(
    ranks: LMFRanks, k: int, title: str | None = None, height: int = 240
) -> go.Figure:
    """The fused vector after k ranks (bars) against the full-rank one (outlines), entry by
    entry: how the rank-one terms build it up."""
    j = np.arange(ranks.fused.shape[1])
    full, now = ranks.fused[-1], ranks.fused[k]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=j,
            y=full,
            name=f"full rank {ranks.rank}",
            marker={"color": "rgba(0,0,0,0)", "line": {"color": PRODUCT_COLOUR, "width": 1.2}},
            hovertemplate="h[%{x}] at full rank: %{y:.3f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Bar(
            x=j,
            y=now,
            name=f"after {k} rank(s)",
            marker={"color": "#1f77b4"},
            opacity=0.75,
            hovertemplate=f"h[%{{x}}] after {k}: %{{y:.3f}}<extra></extra>",
        )
    )
    reach = float(np.max(np.abs(ranks.fused))) * 1.1 or 1.0
    fig.update_layout(barmode="overlay", legend={"orientation": "h", "x": 0, "y": 1.12})
    fig.update_yaxes(range=[-reach, reach], title_text="fused h")
    fig.update_xaxes(title_text="entry of the fused vector")
    return apply_layout(fig, title, height, left=55, top=50, bottom=40)


# ---- TFN's blocks -----------------------------------------------------------------------------
def _block_of(members: Sequence[bool], mods: Sequence[str]) -> str:
    used = [m for m, u in zip(mods, members, strict=True) if u]
    return "×".join(used) if used else "constant"


def tfn_cube_figure(
    blocks: TFNBlocks,
    max_per_axis: int = 8,
    title: str | None = None,
    height: int = 380,
    upto: int | None = None,
) -> go.Figure:
    """The outer product [1; h_1] (x) [1; h_2] (x) ... unfolded to a heat-map: rows are the first
    modality's entries, columns every combination of the others', sorted so that each block
    (constant, unimodal, bimodal, ...) is one rectangle, outlined and named; hovering a cell
    names its entries and its block. At most `max_per_axis` entries of each h are drawn (the
    blocks' sizes and contributions elsewhere count them all). With `upto`, blocks of higher
    order than `upto` are veiled: the step "interactions of order <= upto added"."""
    mods, dims = blocks.modalities, blocks.dims
    if len(mods) < 2:
        raise ValueError("tensor fusion of one modality has no cube to draw")
    shown = [min(d, max_per_axis) for d in dims]
    cube = blocks.cube[tuple(slice(0, n + 1) for n in shown)]
    rest = list(range(1, len(mods)))
    # columns: every index combination of the other modalities, grouped by which use their h
    combos = [()]
    for j in rest:
        combos = [(*c, i) for c in combos for i in range(shown[j] + 1)]
    groups = sorted({tuple(i > 0 for i in c) for c in combos}, key=lambda g: (sum(g), g[::-1]))
    combos = sorted(combos, key=lambda c: (groups.index(tuple(i > 0 for i in c)), c))
    z = np.stack([cube[(slice(None), *c)] for c in combos], axis=1)  # (rows, cols)

    def entry(m: int, i: int) -> str:
        return f"{mods[m]}: 1" if i == 0 else f"{mods[m]}[{i - 1}]"

    text = [
        [
            "<br>".join([entry(0, r), *[entry(j, c[n]) for n, j in enumerate(rest)]])
            + "<br><b>block: "
            + _block_of([r > 0, *[i > 0 for i in c]], mods)
            + f"</b> ({order_name(int(r > 0) + sum(i > 0 for i in c))})"
            for c in combos
        ]
        for r in range(z.shape[0])
    ]
    # the constant 1 would take the whole colour range: saturate it, show the products
    reach = float(np.percentile(np.abs(z), 98)) or float(np.max(np.abs(z))) or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=z,
            text=text,
            colorscale="RdBu",
            zmid=0,
            zmin=-reach,
            zmax=reach,
            colorbar={"title": {"text": "value", "side": "right"}, "thickness": 10},
            hovertemplate="%{text}<br>value %{z:.3f}<extra></extra>",
        )
    )
    # outline and name each block: row group (first modality's 1 or h) x column group
    col_edges, start = [], 0
    for g in groups:
        n = sum(1 for c in combos if tuple(i > 0 for i in c) == g)
        col_edges.append((g, start, start + n))
        start += n
    for row_uses, r0, r1 in ((False, 0, 1), (True, 1, z.shape[0])):
        for g, c0, c1 in col_edges:
            used = [row_uses, *g]
            k = sum(used)
            colour = ORDER_COLOURS.get(k, "#333")
            veiled = upto is not None and k > upto
            fig.add_shape(
                type="rect",
                x0=c0 - 0.5,
                x1=c1 - 0.5,
                y0=r0 - 0.5,
                y1=r1 - 0.5,
                line={"color": colour, "width": 1 if veiled else 2},
                fillcolor="rgba(255,255,255,0.85)" if veiled else None,
                layer="above",
            )
            if row_uses:  # name the column groups once, above the plot
                continue
            fig.add_annotation(
                x=(c0 + c1 - 1) / 2,
                y=-0.6,
                yanchor="bottom",
                text=_block_of([False, *g], mods).replace("constant", "1"),
                showarrow=False,
                font={"size": 10, "color": ORDER_COLOURS.get(sum(g), "#333")},
            )
    fig.update_yaxes(
        autorange="reversed",
        tickvals=[0, (z.shape[0]) / 2],
        ticktext=["1", f"{mods[0]}"],
        title_text=mods[0],
    )
    fig.update_xaxes(showticklabels=False, title_text=" × ".join(mods[j] for j in rest))
    cut = any(n < d for n, d in zip(shown, dims, strict=True))
    if cut:
        note = ", ".join(f"{n} of {d}" for n, d in zip(shown, dims, strict=True))
        fig.add_annotation(
            text=f"first entries of each h drawn ({note})",
            xref="paper",
            yref="paper",
            x=1.0,
            y=-0.08,
            xanchor="right",
            yanchor="top",
            showarrow=False,
            font={"size": 10, "color": "#666"},
        )
    return apply_layout(fig, title, height, left=70, top=60, bottom=40, untitled_top=30)


def tfn_blocks_figure(blocks: TFNBlocks, title: str | None = None, height: int = 300) -> go.Figure:
    """Each block's size (entries of the outer product, log scale) and the size of its
    contribution to the fused vector, coloured by order (constant, unimodal, bimodal, ...);
    hover adds the score without that block."""
    names = blocks.blocks
    orders = [blocks.order(b) for b in names]
    colours = [ORDER_COLOURS.get(k, "#333") for k in orders]
    norms = np.linalg.norm(blocks.contributions, axis=1)
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=["entries (weights per output)", "‖contribution to h‖"]
    )
    custom = np.array(
        [
            [order_name(k), blocks.sizes[b], float(n), float(w)]
            for b, k, n, w in zip(names, orders, norms, blocks.scores_without, strict=True)
        ],
        dtype=object,
    )
    hover = (
        "<b>%{y}</b> (%{customdata[0]})<br>%{customdata[1]:,} entries<br>"
        "‖contribution‖ %{customdata[2]:.4f}<br>score without it %{customdata[3]:.4f}"
        "<extra></extra>"
    )
    fig.add_trace(
        go.Bar(
            y=names,
            x=[blocks.sizes[b] for b in names],
            orientation="h",
            marker={"color": colours},
            customdata=custom,
            hovertemplate=hover,
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            y=names,
            x=norms,
            orientation="h",
            marker={"color": colours},
            customdata=custom,
            hovertemplate=hover,
            showlegend=False,
        ),
        row=1,
        col=2,
    )
    fig.update_xaxes(type="log", row=1, col=1)
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    fig.update_yaxes(autorange="reversed", showticklabels=False, row=1, col=2)
    fig.update_annotations(font={"size": 11})
    return apply_layout(fig, title, height, left=170, top=50, bottom=30)


__all__ = [
    "density_figure",
    "lmf_convergence_figure",
    "lmf_fused_figure",
    "shares_figure",
    "tfn_blocks_figure",
    "tfn_cube_figure",
    "thumbnails_figure",
]
