"""Figures of the step-by-step explainers (mmviz/steppers.py): one frame of a stepper each.

Pure functions: a stepper's arrays and the step to draw in, a plotly figure out. Every figure
keeps its axes fixed across the steps of one stepper, so playing the steps shows the posterior
(or the score) move, not the axes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from mmviz.data.base import ModalitySpec
from mmviz.plots.charts import PALETTE, PRIOR_COLOUR, PRODUCT_COLOUR
from mmviz.plots.images import is_pictorial, png_uri, to_rgb
from mmviz.steppers import LMFRanks, MFMFlow, PoESteps, TFNBlocks, order_name

GRID_POINTS = 241
MAX_CURVES = 8  # earlier experts drawn one by one up to this many, then as one trace
X_REACH = 6.0  # prior units: a density axis never reaches further than ±this
TILE_GAP = 12  # px between the thumbnails
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


def _running_densities(steps: PoESteps, x: np.ndarray) -> np.ndarray:
    """(S, len(x)) the running posterior's density in `dim` after each step: a Gaussian for a
    product, the true mixture density (not its moment-matched Gaussian) for a mixture."""
    d = steps.dim
    if steps.kind == "product":
        return _normal(x[None], steps.means[:, d, None], steps.stds[:, d, None])
    parts = _normal(x[None], steps.added_means[1:, d, None], steps.added_stds[1:, d, None])
    running = np.cumsum(parts, axis=0) / np.arange(1, len(parts) + 1)[:, None]
    return np.concatenate([_normal(x, 0.0, 1.0)[None], running])


def _figure(
    data: list[dict],
    layout: dict,
    title: str | None,
    height: int,
    left: int = 40,
    right: int = 10,
    top: int = 30,
    bottom: int = 30,
) -> go.Figure:
    """A figure built and validated once, in the house style (`charts.apply_layout`'s title
    and margins). A playing stepper draws one per frame: each `add_trace` or `update_*`
    call would validate the figure again."""
    return go.Figure(
        data=data,
        layout={
            **layout,
            "title": {"text": title, "font": {"size": 13}} if title else None,
            "height": height,
            "margin": {"l": left, "r": right, "t": top if title else 10, "b": bottom},
        },
    )


def density_figure(
    steps: PoESteps, s: int, title: str | None = None, height: int = 300
) -> go.Figure:
    """The densities in one latent dimension at step s: the prior, the experts (components)
    multiplied in so far (faint), the one added at this step (bold) and the running product
    (mixture) in black, with its mean ± std marked. Axes fixed across steps."""
    d, x = steps.dim, _density_axis(steps)
    combined = "product" if steps.kind == "product" else "mixture"
    running = _running_densities(steps, x)
    peak = float(running.max())  # the tallest running posterior of any step: the axis holds all
    data = []
    if s > MAX_CURVES:  # many components: the earlier ones as one faint trace, in one colour
        coarse = x[::2]  # faint curves: half the points do
        earlier = _normal(
            coarse[None], steps.added_means[1:s, d, None], steps.added_stds[1:s, d, None]
        )
        gaps = np.full((s - 1, 1), np.nan)  # lift the pen between curves
        data.append(
            {
                "type": "scatter",
                "x": np.concatenate([np.tile(coarse, (s - 1, 1)), gaps], axis=1).reshape(-1),
                "y": np.concatenate([earlier, gaps], axis=1).reshape(-1),
                "mode": "lines",
                "name": f"steps 1 to {s - 1}",
                "line": {"color": PALETTE[0], "width": 1},
                "opacity": 0.35,
                "hoverinfo": "skip",
            }
        )
    for j in [s] if s > MAX_CURVES else range(1, s + 1):
        now = j == s
        mu, sd = steps.added_means[j, d], steps.added_stds[j, d]
        data.append(
            {
                "type": "scatter",
                "x": x,
                "y": _normal(x, mu, sd),
                "mode": "lines",
                "name": steps.names[j] + (" (added now)" if now else ""),
                "line": {"color": _colour(steps.names, j), "width": 3 if now else 1.3},
                "opacity": 1.0 if now else 0.45,
                "hovertemplate": f"{steps.names[j]}: N({mu:.2f}, {sd:.2f}²)<extra></extra>",
            }
        )
    mean, std = steps.means[s, d], steps.stds[s, d]
    data += [
        {
            "type": "scatter",
            "x": x,
            "y": _normal(x, 0.0, 1.0),
            "mode": "lines",
            "name": "prior N(0, 1)",
            "line": {"color": PRIOR_COLOUR, "width": 1.5, "dash": "dash"},
            "hovertemplate": "prior N(0, 1)<extra></extra>",
        },
        {
            "type": "scatter",
            "x": x,
            "y": running[s],
            "mode": "lines",
            "name": f"{combined} after step {s}",
            "line": {"color": PRODUCT_COLOUR, "width": 3},
            "fill": "tozeroy",
            "fillcolor": "rgba(0,0,0,0.08)",
            "hovertemplate": f"{combined}: mean {mean:.2f}, std {std:.2f}<extra></extra>",
        },
        {
            "type": "scatter",
            "x": [mean],
            "y": [peak * 1.04],
            "mode": "markers",
            "name": "mean ± std",
            "marker": {"color": PRODUCT_COLOUR, "symbol": "diamond", "size": 9},
            "error_x": {"type": "data", "array": [std], "color": PRODUCT_COLOUR, "width": 4},
            "hovertemplate": f"mean {mean:.3f} ± std {std:.3f}<extra></extra>",
        },
    ]
    layout = {
        "xaxis": {"range": [x[0], x[-1]], "title": {"text": f"z[{d}]"}},
        "yaxis": {"range": [0, peak * 1.12], "title": {"text": "density"}},
        "legend": {"orientation": "h", "x": 0.0, "y": -0.25, "yanchor": "top"},
    }
    return _figure(data, layout, title, height, left=50, bottom=90)


def shares_figure(steps: PoESteps, s: int, title: str | None = None, height: int = 0) -> go.Figure:
    """One bar per step up to s: each contributor's share of the running product's precision
    (or of the mixture's variance) in the chosen dimension, with the total at the bar's end.
    Steps not reached yet keep an empty row, so the figure's size does not change.

    Every segment of every bar is one element of a single bar trace (placed by `base`): a
    32-step mixture is one trace to validate and send, not 32."""
    d = steps.dim
    rows = [f"{k}: {'prior' if k == 0 else '+ ' + steps.names[k]}" for k in range(steps.steps)]
    ys, widths, bases, who, texts, hovers = [], [], [], [], [], []
    for k in range(s + 1):
        left = 0.0
        for j in range(k + 1):
            share = float(steps.shares[k, j])
            if share > 0:
                ys.append(rows[k])
                widths.append(share)
                bases.append(left)
                who.append(j)
                texts.append(_share_text(steps.names[j], share))
                hovers.append(f"{steps.names[j]}: {share:.1%} of the {steps.share_of}")
            left += share
    # colours by contributor index through a stepped colour scale: numbers validate far
    # faster than hundreds of colour strings (a 32-step mixture has ~500 segments)
    n = steps.steps
    scale = []
    for j in range(n):
        colour = _colour(steps.names, j)
        scale += [[j / n, colour], [(j + 1) / n, colour]]
    if steps.kind == "product":
        totals = [f"T = {steps.stds[k, d] ** -2:.3g}" for k in range(steps.steps)]
    else:
        totals = [f"var = {steps.stds[k, d] ** 2:.3g}" for k in range(steps.steps)]
    data = [
        {
            "type": "bar",
            "y": ys,
            "x": np.asarray(widths),
            "base": np.asarray(bases),
            "orientation": "h",
            "marker": {
                "color": np.asarray(who, dtype=float) + 0.5,
                "colorscale": scale,
                "cmin": 0,
                "cmax": n,
                "line": {"color": "white", "width": 0.5},
            },
            "text": texts,
            "textposition": "inside",
            "insidetextanchor": "middle",
            "hovertext": hovers,
            "hovertemplate": "%{hovertext}<extra>%{y}</extra>",
        },
        {
            "type": "scatter",
            "y": rows,
            "x": [1.01] * steps.steps,
            "mode": "text",
            "text": [t if k <= s else "" for k, t in enumerate(totals)],
            "textposition": "middle right",
            "hoverinfo": "skip",
        },
    ]
    layout = {
        "barmode": "overlay",
        "showlegend": False,
        "uniformtext": {"minsize": 9, "mode": "hide"},
        "xaxis": {"range": [0, 1.22], "tickformat": ".0%", "tickvals": [0, 0.25, 0.5, 0.75, 1.0]},
        "yaxis": {
            "autorange": "reversed",
            "tickfont": {"size": 10},
            "categoryorder": "array",
            "categoryarray": rows,
        },
    }
    return _figure(data, layout, title, height or 60 + 24 * steps.steps, left=110)


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
    tile_px: int = 96,
) -> go.Figure:
    """Every modality decoded from the running posterior's mean after step s, side by side:
    pictures for images and spectrograms, the words for a label or a phrase.

    One PNG for the whole row (words are annotations on blank tiles): a frame of a playing
    stepper stays a few milliseconds to build and a few kilobytes to send."""
    observed = set(steps.observed)
    tiles, centres, words = [], [], []
    x = 0
    for m in steps.outputs:
        spec = specs[m]
        if is_pictorial(spec):
            rgb = to_rgb(steps.outputs[m][s], spec)
            scale = max(1, round(tile_px / rgb.shape[0]))
            tile = np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)
        else:
            tile = np.full((tile_px, int(tile_px * 1.5), 3), 255, dtype=np.uint8)
            words.append((x + tile.shape[1] / 2, steps.captions.get(m, [""] * steps.steps)[s]))
        h = tile.shape[0]
        if h != tile_px:  # centre a tile of another height on the row
            pad = np.full((tile_px, tile.shape[1], 3), 255, dtype=np.uint8)
            top = max(0, (tile_px - h) // 2)
            pad[top : top + min(h, tile_px)] = tile[: tile_px - top]
            tile = pad
        centres.append((x + tile.shape[1] / 2, f"{m}{'' if m in observed else ' (generated)'}"))
        tiles.append(tile)
        tiles.append(np.full((tile_px, TILE_GAP, 3), 255, dtype=np.uint8))
        x += tile.shape[1] + TILE_GAP
    row = np.concatenate(tiles[:-1], axis=1)
    notes = [
        {
            "x": cx,
            "y": -4,
            "text": name,
            "showarrow": False,
            "yanchor": "bottom",
            "font": {"size": 11},
        }
        for cx, name in centres
    ] + [
        {
            "x": cx,
            "y": tile_px / 2,
            "text": "<br>".join(_wrap(text, 16)),
            "showarrow": False,
            "font": {"size": 14},
            "hovertext": text,
        }
        for cx, text in words
    ]
    image = {"type": "image", "source": png_uri(row), "hoverinfo": "skip"}
    layout = {
        "annotations": notes,
        "xaxis": {"visible": False, "range": [-0.5, row.shape[1] - 0.5]},
        "yaxis": {"visible": False, "range": [tile_px - 0.5, -24], "scaleanchor": "x"},
        "plot_bgcolor": "white",
        "showlegend": False,
    }
    return _figure([image], layout, title, tile_px + 70, left=4, right=4, bottom=4)


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
    x = np.arange(ranks.rank + 1)
    labels = ["bias"] + [f"+ rank {i}" for i in ranks.order]
    data = [
        {
            "type": "bar",
            "x": x,
            "y": ranks.params,
            "yaxis": "y2",
            "name": "fusion parameters (rank k)",
            "marker": {"color": ["#9ecae1" if i <= k else "#e5e5e5" for i in x]},
            "hovertemplate": "rank %{x}: %{y:,} parameters<extra></extra>",
            "opacity": 0.6,
        },
        {
            "type": "scatter",
            "x": x[: k + 1],
            "y": ranks.scores[: k + 1],
            "mode": "lines+markers",
            "name": "score after k ranks",
            "line": {"color": PRODUCT_COLOUR, "width": 2.5},
            "marker": {"size": 8},
            "customdata": labels[: k + 1],
            "hovertemplate": "%{customdata}: score %{y:.4f}<extra></extra>",
        },
        {
            "type": "scatter",
            "x": [x[0], x[-1]],
            "y": [ranks.scores[-1]] * 2,
            "mode": "lines",
            "name": f"full rank {ranks.rank}: {ranks.scores[-1]:.4f}",
            "line": {"color": "#d62728", "dash": "dash", "width": 1.5},
            "hoverinfo": "skip",
        },
    ]
    lo, hi = float(np.min(ranks.scores)), float(np.max(ranks.scores))
    pad = max(1e-3, 0.12 * (hi - lo))
    layout = {
        "xaxis": {
            "tickvals": list(x),
            "ticktext": [str(i) for i in x],
            "title": {"text": "ranks added"},
        },
        "yaxis": {"range": [lo - pad, hi + pad], "title": {"text": "score"}},
        "yaxis2": {
            "range": [0, float(ranks.params[-1]) * 1.15],
            "title": {"text": "parameters"},
            "showgrid": False,
            "overlaying": "y",
            "side": "right",
        },
        "legend": {"orientation": "h", "x": 0.0, "y": -0.3, "yanchor": "top"},
    }
    return _figure(data, layout, title, height, left=55, right=60, bottom=90)


def lmf_fused_figure(
    ranks: LMFRanks, k: int, title: str | None = None, height: int = 240
) -> go.Figure:
    """The fused vector after k ranks (bars) against the full-rank one (outlines), entry by
    entry: how the rank-one terms build it up."""
    j = np.arange(ranks.fused.shape[1])
    data = [
        {
            "type": "bar",
            "x": j,
            "y": ranks.fused[-1],
            "name": f"full rank {ranks.rank}",
            "marker": {"color": "rgba(0,0,0,0)", "line": {"color": PRODUCT_COLOUR, "width": 1.2}},
            "hovertemplate": "h[%{x}] at full rank: %{y:.3f}<extra></extra>",
        },
        {
            "type": "bar",
            "x": j,
            "y": ranks.fused[k],
            "name": f"after {k} rank(s)",
            "marker": {"color": "#1f77b4"},
            "opacity": 0.75,
            "hovertemplate": f"h[%{{x}}] after {k}: %{{y:.3f}}<extra></extra>",
        },
    ]
    reach = float(np.max(np.abs(ranks.fused))) * 1.1 or 1.0
    layout = {
        "barmode": "overlay",
        "legend": {"orientation": "h", "x": 0, "y": 1.12},
        "yaxis": {"range": [-reach, reach], "title": {"text": "fused h"}},
        "xaxis": {"title": {"text": "entry of the fused vector"}},
    }
    return _figure(data, layout, title, height, left=55, top=50, bottom=40)


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
    heat = {
        "type": "heatmap",
        "z": z,
        "text": text,
        "colorscale": "RdBu",
        "zmid": 0,
        "zmin": -reach,
        "zmax": reach,
        "colorbar": {"title": {"text": "value", "side": "right"}, "thickness": 10},
        "hovertemplate": "%{text}<br>value %{z:.3f}<extra></extra>",
    }
    # outline and name each block: row group (first modality's 1 or h) x column group
    col_edges, start = [], 0
    for g in groups:
        n = sum(1 for c in combos if tuple(i > 0 for i in c) == g)
        col_edges.append((g, start, start + n))
        start += n
    shapes, notes = [], []
    for row_uses, r0, r1 in ((False, 0, 1), (True, 1, z.shape[0])):
        for g, c0, c1 in col_edges:
            k = sum([row_uses, *g])
            veiled = upto is not None and k > upto
            shapes.append(
                {
                    "type": "rect",
                    "x0": c0 - 0.5,
                    "x1": c1 - 0.5,
                    "y0": r0 - 0.5,
                    "y1": r1 - 0.5,
                    "line": {"color": ORDER_COLOURS.get(k, "#333"), "width": 1 if veiled else 2},
                    "fillcolor": "rgba(255,255,255,0.85)" if veiled else None,
                    "layer": "above",
                }
            )
            if not row_uses:  # name the column groups once, above the plot
                notes.append(
                    {
                        "x": (c0 + c1 - 1) / 2,
                        "y": -0.6,
                        "yanchor": "bottom",
                        "text": _block_of([False, *g], mods).replace("constant", "1"),
                        "showarrow": False,
                        "font": {"size": 10, "color": ORDER_COLOURS.get(sum(g), "#333")},
                    }
                )
    if any(n < d for n, d in zip(shown, dims, strict=True)):
        drawn = ", ".join(f"{n} of {d}" for n, d in zip(shown, dims, strict=True))
        notes.append(
            {
                "text": f"first entries of each h drawn ({drawn})",
                "xref": "paper",
                "yref": "paper",
                "x": 1.0,
                "y": -0.08,
                "xanchor": "right",
                "yanchor": "top",
                "showarrow": False,
                "font": {"size": 10, "color": "#666"},
            }
        )
    layout = {
        "shapes": shapes,
        "annotations": notes,
        "yaxis": {
            "autorange": "reversed",
            "tickvals": [0, z.shape[0] / 2],
            "ticktext": ["1", mods[0]],
            "title": {"text": mods[0]},
        },
        "xaxis": {
            "showticklabels": False,
            "title": {"text": " × ".join(mods[j] for j in rest)},
        },
    }
    return _figure([heat], layout, title, height, left=70, top=60, bottom=40)


def tfn_blocks_figure(blocks: TFNBlocks, title: str | None = None, height: int = 300) -> go.Figure:
    """Each block's size (entries of the outer product, log scale) and the size of its
    contribution to the fused vector, coloured by order (constant, unimodal, bimodal, ...);
    hover adds the score without that block."""
    names = blocks.blocks
    orders = [blocks.order(b) for b in names]
    colours = [ORDER_COLOURS.get(k, "#333") for k in orders]
    norms = np.linalg.norm(blocks.contributions, axis=1)
    custom = [
        [order_name(k), blocks.sizes[b], float(n), float(w)]
        for b, k, n, w in zip(names, orders, norms, blocks.scores_without, strict=True)
    ]
    hover = (
        "<b>%{y}</b> (%{customdata[0]})<br>%{customdata[1]:,} entries<br>"
        "‖contribution‖ %{customdata[2]:.4f}<br>score without it %{customdata[3]:.4f}"
        "<extra></extra>"
    )
    bar = {
        "type": "bar",
        "y": names,
        "orientation": "h",
        "marker": {"color": colours},
        "customdata": custom,
        "hovertemplate": hover,
        "showlegend": False,
    }
    data = [
        {**bar, "x": [blocks.sizes[b] for b in names], "xaxis": "x", "yaxis": "y"},
        {**bar, "x": norms, "xaxis": "x2", "yaxis": "y2"},
    ]

    def heading(text: str, x: float) -> dict:
        return {
            "text": text,
            "xref": "paper",
            "yref": "paper",
            "x": x,
            "y": 1.0,
            "yanchor": "bottom",
            "showarrow": False,
            "font": {"size": 11},
        }

    layout = {
        "xaxis": {"domain": [0.0, 0.48], "type": "log"},
        "xaxis2": {"domain": [0.52, 1.0]},
        "yaxis": {"autorange": "reversed"},
        "yaxis2": {"autorange": "reversed", "showticklabels": False, "anchor": "x2"},
        "annotations": [
            heading("entries (weights per output)", 0.24),
            heading("‖contribution to h‖", 0.76),
        ],
    }
    return _figure(data, layout, title, height, left=170, top=50)


# ---- MFM's data flow --------------------------------------------------------------------------
ROW = 15  # canvas units between modality rows (the canvas is 164 units wide)
THUMB = 11  # a thumbnail's side, canvas units
FAINT = 0.12  # what is not reached yet at this stage


def _thumb(x: np.ndarray, spec: ModalitySpec, cx: float, cy: float, opacity: float) -> dict:
    rgb = to_rgb(x, spec)
    scale = max(1, round(64 / rgb.shape[0]))
    return {
        "source": png_uri(rgb, scale),
        "xref": "x",
        "yref": "y",
        "x": cx - THUMB / 2,
        "y": cy - THUMB / 2,
        "sizex": THUMB,
        "sizey": THUMB,
        "xanchor": "left",
        "yanchor": "top",
        "sizing": "stretch",
        "opacity": opacity,
        "layer": "above",
    }


def _arrow(x0: float, y0: float, x1: float, y1: float, on: bool, colour: str) -> dict:
    return {
        "x": x1,
        "y": y1,
        "ax": x0,
        "ay": y0,
        "xref": "x",
        "yref": "y",
        "axref": "x",
        "ayref": "y",
        "text": "",
        "showarrow": True,
        "arrowhead": 2,
        "arrowsize": 1,
        "arrowwidth": 2 if on else 1,
        "arrowcolor": colour if on else "rgba(0,0,0,0.12)",
    }


def mfm_flow_figure(
    flow: MFMFlow,
    stage: int,
    specs: Mapping[str, ModalitySpec],
    title: str | None = None,
    partner: str = "the partner",
) -> go.Figure:
    """MFM's data flow at `stage` (see `steppers.MFM_STAGES`): one row per modality, its input
    on the left, its own factor Z_a in the middle, its reconstruction on the right; the shared
    Z_y on top, reached from every observed input and read by every output. What the stage
    has not reached yet is faint; at the swap stage the swapped modalities' Z_a are the
    partner's and the outputs are what the model decodes from them."""
    rows = {m: (k + 1) * ROW for k, m in enumerate(flow.outputs)}
    x_in, x_code, x_out = 8.0, 80.0, 152.0
    code_w, y_top = 44.0, 0.0
    swap_on = stage >= 4
    codes = [flow.shared, *flow.private.values(), *flow.partner_private.values()]
    every = np.abs(np.concatenate(codes))
    reach = float(np.percentile(every, 90)) or float(every.max()) or 1.0  # a few saturate
    data, images, notes = [], [], []

    def strip(values: np.ndarray, cy: float, name: str, opacity: float) -> dict:
        d = len(values)
        return {
            "type": "heatmap",
            "z": [values],
            "x0": x_code - code_w / 2 + code_w / (2 * d),
            "dx": code_w / d,
            "y0": cy,
            "dy": 5,
            "coloraxis": "coloraxis",
            "opacity": opacity,
            "customdata": [[f"{name}[{k}]" for k in range(d)]],
            "hovertemplate": "%{customdata}: %{z:.3f}<extra></extra>",
        }

    data.append(strip(flow.shared, y_top, "Z_y", 1.0 if stage >= 1 else FAINT))
    notes.append(_label(x_code - code_w / 2 - 1, y_top, "Z_y (shared)", "right"))
    for m, cy in rows.items():
        spec = specs[m]
        seen = m in flow.observed
        # the input
        if m in flow.given:
            if is_pictorial(spec):
                images.append(_thumb(flow.given[m], spec, x_in, cy, 1.0 if seen else 0.25))
            else:
                notes.append(_word(x_in, cy, flow.given_captions.get(m, ""), 1.0 if seen else 0.3))
            notes.append(
                _label(x_in, cy - THUMB / 2 - 1, m + ("" if seen else " (missing)"), "center")
            )
            notes.append(
                _arrow(
                    x_in + THUMB / 2 + 1,
                    cy,
                    x_code - code_w / 4,
                    y_top + 4,
                    stage == 1 and seen,
                    "#1f77b4",
                )
            )
        else:
            notes.append(_word(x_in, cy, "target of the head, not an input", 0.6, size=10))
        # its own factor
        if m in flow.private:
            from_mate = swap_on and m in flow.swapped
            values = flow.partner_private[m] if from_mate else flow.private[m]
            on = stage >= 2
            data.append(strip(values, cy, f"Z_a[{m}]", 1.0 if on else FAINT))
            who = f" ← {partner}" if from_mate else ""
            notes.append(_label(x_code, cy - 3.5, f"Z_a ({m}){who}", "center"))
            notes.append(
                _arrow(
                    x_in + THUMB / 2 + 1,
                    cy,
                    x_code - code_w / 2 - 1,
                    cy,
                    stage == 2 and seen,
                    "#ff7f0e",
                )
            )
            notes.append(
                _arrow(
                    x_code + code_w / 2 + 1, cy, x_out - THUMB / 2 - 1, cy, stage >= 3, "#2ca02c"
                )
            )
        # the output, from [Z_y, Z_a] (the label: from Z_y alone, through the head)
        out = flow.swap_outputs if swap_on else flow.reconstruction
        shown = 1.0 if stage >= 3 else FAINT
        if is_pictorial(spec):
            images.append(_thumb(out[m], spec, x_out, cy, shown))
        else:
            words = (flow.swap_captions if swap_on else flow.captions).get(m, "")
            notes.append(_word(x_out, cy, words, shown))
        notes.append(_label(x_out, cy - THUMB / 2 - 1, m, "center"))
        notes.append(
            _arrow(x_code + code_w / 4, y_top + 4, x_out - THUMB / 2 - 1, cy, stage >= 3, "#2ca02c")
        )
    bottom = max(rows.values()) + ROW / 2
    layout = {
        "images": images,
        "annotations": notes,
        "coloraxis": {
            "colorscale": "RdBu",
            "cmid": 0,
            "cmin": -reach,
            "cmax": reach,
            "colorbar": {"thickness": 8, "len": 0.4, "title": {"text": "code"}},
        },
        "xaxis": {"visible": False, "range": [-2, 162]},
        "yaxis": {"visible": False, "range": [bottom, -ROW / 2], "scaleanchor": "x"},
        "plot_bgcolor": "white",
        "showlegend": False,
    }
    height = int(60 + 5.6 * (bottom + ROW / 2))  # square canvas units at ~900 px wide
    return _figure(data, layout, title, height, left=4, right=4, top=36, bottom=4)


def _label(x: float, y: float, text: str, align: str) -> dict:
    return {
        "x": x,
        "y": y,
        "xref": "x",
        "yref": "y",
        "text": text,
        "showarrow": False,
        "xanchor": {"right": "right", "center": "center"}[align],
        "yanchor": "bottom",
        "font": {"size": 11},
    }


def _word(x: float, y: float, text: str, opacity: float, size: int = 13) -> dict:
    return {
        "x": x,
        "y": y,
        "xref": "x",
        "yref": "y",
        "text": "<br>".join(_wrap(text, 16)),
        "showarrow": False,
        "font": {"size": size},
        "opacity": opacity,
        "hovertext": text,
    }


__all__ = [
    "density_figure",
    "lmf_convergence_figure",
    "lmf_fused_figure",
    "mfm_flow_figure",
    "shares_figure",
    "tfn_blocks_figure",
    "tfn_cube_figure",
    "thumbnails_figure",
]
