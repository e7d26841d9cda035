"""Charts of numbers: class probabilities, oracle agreement, posteriors and experts, latent maps."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

# one colour per modality, stable across pages (Plotly's qualitative "D3" palette)
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
PRIOR_COLOUR = "#9e9e9e"
PRODUCT_COLOUR = "#111111"


def colour_of(name: str, names: Sequence[str]) -> str:
    if name == "prior":
        return PRIOR_COLOUR
    return PALETTE[list(names).index(name) % len(PALETTE)] if name in names else PALETTE[-1]


def apply_layout(
    fig: go.Figure,
    title: str | None,
    height: int,
    left: int = 40,
    top: int = 30,
    bottom: int = 30,
    untitled_top: int = 10,
    right: int = 10,
    **extra,
) -> go.Figure:
    """The house style shared by every figure module: small title, tight margins."""
    fig.update_layout(
        title={"text": title, "font": {"size": 13}} if title else None,
        height=height,
        margin={"l": left, "r": right, "t": top if title else untitled_top, "b": bottom},
        **extra,
    )
    return fig


def legend_below(fig: go.Figure, width_px: int = 600) -> int:
    """Lay the legend out in rows at the very bottom of the figure (in the figure's own
    coordinates), under the x axis and its title, so it never meets the chart's title; returns
    the bottom margin the rows take (add it to the figure's height and bottom margin)."""
    shown = [t for t in fig.data if t.name and t.showlegend is not False]
    names = [str(t.name) for t in shown if t.type != "heatmap"]
    # ~7 px a character plus the symbol and gap, rows of about the chart's width
    rows = 1 + sum(7 * len(n) + 45 for n in names) // max(200, width_px)
    fig.update_layout(
        legend={
            "orientation": "h",
            "x": 0.0,
            "xanchor": "left",
            "yref": "container",
            "y": 0.0,
            "yanchor": "bottom",
        }
    )
    return 22 * rows + 6


def _layout(fig: go.Figure, title: str | None, height: int) -> go.Figure:
    return apply_layout(fig, title, height)


def probability_figure(
    probs: np.ndarray,
    classes: Sequence[str],
    truth: int | None = None,
    title: str | None = "predicted class",
    height: int = 220,
) -> go.Figure:
    """Bar per class; the most probable one dark, the true class (if known) outlined."""
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    top = int(p.argmax())
    colours = ["#1f4e79" if k == top else "#9ecae1" for k in range(len(p))]
    line = [3 if truth is not None and k == truth else 0 for k in range(len(p))]
    fig = go.Figure(
        go.Bar(
            x=list(classes),
            y=p,
            marker={"color": colours, "line": {"width": line, "color": "#d62728"}},
            hovertemplate="class %{x}: %{y:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(range=[0, 1], title_text="p")
    fig.update_xaxes(type="category")
    return _layout(fig, title, height)


def agreement_figure(
    agreement: dict[str, float], title: str | None = None, height: int = 200
) -> go.Figure:
    """Fraction of draws each oracle judged as the reference class, one bar per modality."""
    names = list(agreement)
    fig = go.Figure(
        go.Bar(
            x=names,
            y=[agreement[m] for m in names],
            marker={"color": [PALETTE[k % len(PALETTE)] for k in range(len(names))]},
            text=[f"{agreement[m]:.0%}" for m in names],
            textposition="outside",
            hovertemplate="%{x}: %{y:.0%} of draws<extra></extra>",
        )
    )
    fig.update_yaxes(range=[0, 1.15], tickformat=".0%", title_text="agree")
    return _layout(fig, title, height)


def posterior_figure(
    means: dict[str, np.ndarray],
    stds: dict[str, np.ndarray | None],
    title: str | None = None,
    height: int = 260,
) -> go.Figure:
    """Mean ± std per latent dimension for one or more posteriors (e.g. observed vs all); a
    deterministic encoder's point codes (std None everywhere) are drawn as "code" values.

    The axes are fitted to the whole error bars (and the outermost points' offsets), so no bar
    is cut at the plot's edge."""
    fig = go.Figure()
    names = list(means)
    n = len(names)
    points = not any(stds.get(name) is not None for name in names)
    lo, hi = 0.0, 0.0
    for k, name in enumerate(names):
        m = np.asarray(means[name], dtype=np.float64).reshape(-1)
        s = stds.get(name)
        s = None if s is None else np.asarray(s, dtype=np.float64).reshape(-1)
        x = np.arange(len(m)) + (k - (n - 1) / 2) * (0.8 / max(n, 1))
        reach = m if s is None else np.concatenate([m - s, m + s])
        if reach.size:
            lo, hi = min(lo, float(np.min(reach))), max(hi, float(np.max(reach)))
        spread = "" if s is None else " ± %{error_y.array:.2f}"
        fig.add_trace(
            go.Scatter(
                x=x,
                y=m,
                mode="markers",
                name=name,
                marker={"size": 6, "color": PALETTE[k % len(PALETTE)]},
                error_y=None
                if s is None
                else {"type": "data", "array": s, "thickness": 1, "width": 0},
                hovertemplate=f"{name}<br>dim %{{x:.0f}}: %{{y:.2f}}{spread}<extra></extra>",
            )
        )
    d = len(next(iter(means.values()))) if means else 1
    pad = 0.08 * max(hi - lo, 1e-6)
    fig.update_xaxes(title_text="latent dimension", dtick=max(1, d // 16), range=[-0.7, d - 0.3])
    fig.update_yaxes(
        title_text="code" if points else "mean ± std", range=[lo - pad, hi + pad], zeroline=True
    )
    fig.update_layout(legend={"orientation": "h", "x": 0.0, "y": -0.3, "yanchor": "top"})
    return apply_layout(fig, title, height, bottom=70)


EXPERTS_CLIP = 5.0  # prior units: the experts figure's axis never reaches further


def experts_figure(
    names: Sequence[str],
    means: np.ndarray,
    stds: np.ndarray,
    product_mean: np.ndarray,
    product_std: np.ndarray,
    dims: Sequence[int] | None = None,
    title: str | None = None,
    height: int = 300,
    combined: str = "product",
) -> go.Figure:
    """Each expert's mean ± std beside their product, per latent dimension (MVAE); with
    `combined="mixture"`, a mixture's components beside the mixture (MoPoE, MMVAE)."""
    d = means.shape[1]
    dims = list(range(d)) if dims is None else list(dims)
    e = len(names) + 1
    width = 0.8 / e
    fig = go.Figure()
    modal = [n for n in names if n != "prior"]
    for k, name in enumerate([*names, combined]):
        if k == len(names):
            m, s, colour = product_mean[dims], product_std[dims], PRODUCT_COLOUR
        else:
            m, s, colour = means[k, dims], stds[k, dims], colour_of(name, modal)
        x = np.arange(len(dims)) + (k - (e - 1) / 2) * width
        fig.add_trace(
            go.Scatter(
                x=x,
                y=m,
                mode="markers",
                name=name,
                marker={
                    "size": 7 if k == len(names) else 5,
                    "color": colour,
                    "symbol": "diamond" if k == len(names) else "circle",
                },
                error_y={
                    "type": "data",
                    "array": s,
                    "thickness": 1.5 if k == len(names) else 1,
                    "width": 0,
                    "color": colour,
                },
                customdata=np.asarray(dims),
                hovertemplate=f"{name}<br>dim %{{customdata}}: %{{y:.2f}} ± %{{error_y.array:.2f}}"
                "<extra></extra>",
            )
        )
    # the axis holds every whole error bar up to ±CLIP; only a very broad expert (one that knows
    # nothing of a dimension, std of several prior units) would flatten the rest: its bar is cut
    # at ±CLIP, and a note on the figure says so
    reach = np.abs(np.concatenate([means[:, dims], product_mean[None, dims]])) + np.concatenate(
        [stds[:, dims], product_std[None, dims]]
    )
    peak = float(np.max(reach)) if reach.size else 1.0
    lim = min(EXPERTS_CLIP, max(1.0, peak) * 1.08)
    fig.update_yaxes(range=[-lim, lim], title_text="mean ± std")
    fig.update_xaxes(
        tickvals=list(range(len(dims))),
        ticktext=[str(i) for i in dims],
        title_text="latent dimension",
        range=[-0.7, len(dims) - 0.3],
    )
    if peak > lim:
        fig.add_annotation(
            text=f"bars longer than ±{lim:.0f} are cut: a very vague expert",
            xref="paper",
            yref="paper",
            x=1.0,
            y=1.0,
            xanchor="right",
            yanchor="bottom",
            showarrow=False,
            font={"size": 10, "color": "#666"},
        )
    fig.update_layout(legend={"orientation": "h", "x": 0.0, "y": -0.25, "yanchor": "top"})
    return apply_layout(fig, title, height, bottom=80)


def shares_figure(
    names: Sequence[str], shares: np.ndarray, title: str | None = None, height: int = 190
) -> go.Figure:
    """Each expert's share of the product's precision: one stacked horizontal bar.

    Every segment is named in the legend below the bar (with its share), so a sliver too
    narrow for its text is still labelled; the text inside shows where it fits."""
    modal = [n for n in names if n != "prior"]
    fig = go.Figure()
    for name, s in zip(names, np.asarray(shares).reshape(-1), strict=True):
        fig.add_trace(
            go.Bar(
                x=[float(s)],
                y=["precision"],
                orientation="h",
                name=f"{name} {s:.0%}",
                marker={"color": colour_of(name, modal)},
                text=[f"{name} {s:.0%}"],
                textposition="inside",
                insidetextanchor="middle",
                hovertemplate=f"{name}: %{{x:.1%}}<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="stack",
        showlegend=True,
        uniformtext={"minsize": 9, "mode": "hide"},
        legend={"orientation": "h", "x": 0.0, "y": -0.35, "yanchor": "top", "traceorder": "normal"},
    )
    fig.update_xaxes(range=[0, 1], tickformat=".0%")
    fig.update_yaxes(showticklabels=False)
    return apply_layout(fig, title, height, bottom=60)


def activity_figure(
    activity: np.ndarray, chosen: Sequence[int] = (), height: int = 160
) -> go.Figure:
    """Variance of each dimension's posterior mean over samples: which dimensions are used."""
    a = np.asarray(activity).reshape(-1)
    colours = ["#d62728" if k in set(chosen) else "#9ecae1" for k in range(len(a))]
    fig = go.Figure(
        go.Bar(
            x=list(range(len(a))),
            y=a,
            marker={"color": colours},
            hovertemplate="dim %{x}: %{y:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="dimension", dtick=max(1, len(a) // 16))
    fig.update_yaxes(title_text="activity")
    return _layout(fig, None, height)


LINK_COLOUR = "#3a3a3a"  # the latent map's links: a colour no class or level takes
LINK_STYLES = (  # (dash, marker) per modality on the latent map
    ("solid", "circle-open"),
    ("dot", "square-open"),
    ("dash", "diamond-open"),
    ("dashdot", "triangle-up-open"),
    ("longdash", "x-thin-open"),
    ("longdashdot", "cross-thin-open"),
)


def latent_map_figure(
    coords: np.ndarray,
    index: np.ndarray,
    classes: np.ndarray,
    colour: np.ndarray,
    colour_name: str,
    categorical: bool,
    links: Sequence[tuple[int, np.ndarray, dict[str, np.ndarray]]] = (),
    modality_names: Sequence[str] = (),
    selected: int | None = None,
    title: str | None = None,
    height: int = 560,
    positions: np.ndarray | None = None,
) -> go.Figure:
    """Scatter of the projected posterior means; hover shows the sample (its test position,
    given `positions`, else its index) and class; the sample index is each point's customdata
    (what a selection returns).

    The links' lines are told apart by dash and marker (LINK_STYLES), in one dark colour that
    no class or factor level uses, so a modality's lines never read as a class."""
    fig = go.Figure()
    c = np.asarray(colour)
    if positions is not None:
        pos = np.asarray(positions)
        hover = "test sample %{hovertext}<br>class %{text}"
    else:
        pos = np.asarray(index)
        hover = "sample %{hovertext}<br>class %{text}"
    hover += (
        "<extra></extra>"
        if colour_name == "class"
        else f"<br>{colour_name} %{{meta}}<extra></extra>"
    )
    if categorical:
        levels = sorted(np.unique(c).tolist(), key=lambda v: (str(type(v)), v))
        for k, lev in enumerate(levels):
            m = c == lev
            fig.add_trace(
                go.Scattergl(
                    x=coords[m, 0],
                    y=coords[m, 1],
                    mode="markers",
                    name=f"{colour_name} {lev}",
                    customdata=index[m],
                    hovertext=[str(v) for v in pos[m]],
                    text=[str(v) for v in classes[m]],
                    meta=str(lev),
                    marker={"size": 5, "color": PALETTE[k % len(PALETTE)], "opacity": 0.75},
                    hovertemplate=hover.replace("%{meta}", str(lev)),
                )
            )
    else:
        fig.add_trace(
            go.Scattergl(
                x=coords[:, 0],
                y=coords[:, 1],
                mode="markers",
                name=colour_name,
                customdata=index,
                hovertext=[str(v) for v in pos],
                text=[str(v) for v in classes],
                marker={
                    "size": 5,
                    "color": c.astype(float),
                    "colorscale": "Viridis",
                    "showscale": True,
                    "colorbar": {"title": {"text": colour_name}},
                    "opacity": 0.75,
                },
                hovertemplate=hover.replace("%{meta}", "%{marker.color:.3f}"),
            )
        )
    modal = list(modality_names)
    for n, (i, joint, singles) in enumerate(links):
        for m, p in singles.items():
            dash, symbol = LINK_STYLES[(modal.index(m) if m in modal else 0) % len(LINK_STYLES)]
            fig.add_trace(
                go.Scatter(
                    x=[p[0], joint[0]],
                    y=[p[1], joint[1]],
                    mode="lines+markers",
                    line={"color": LINK_COLOUR, "width": 2, "dash": dash},
                    marker={"size": [10, 0], "symbol": symbol, "color": LINK_COLOUR},
                    name=f"q(z | {m})",
                    legendgroup=m,
                    showlegend=n == 0,
                    hovertemplate=f"sample {i}: q(z | {m})<extra></extra>",
                )
            )
        fig.add_trace(
            go.Scatter(
                x=[joint[0]],
                y=[joint[1]],
                mode="markers",
                name="q(z | all)",
                legendgroup="joint",
                showlegend=n == 0,
                marker={"size": 12, "symbol": "star", "color": "black"},
                hovertemplate=f"sample {i}: q(z | all)<extra></extra>",
            )
        )
    if selected is not None:
        m = np.asarray(index) == selected
        if m.any():
            fig.add_trace(
                go.Scatter(
                    x=coords[m, 0],
                    y=coords[m, 1],
                    mode="markers",
                    name=f"selected {selected}",
                    marker={
                        "size": 16,
                        "symbol": "circle-open",
                        "color": "red",
                        "line": {"width": 3},
                    },
                    hoverinfo="skip",
                )
            )
    # no dragmode here: with point selection on, Streamlit then sets clickmode "event+select",
    # so a click selects the point under it (a "select" dragmode would turn that off)
    fig.update_layout(legend={"itemsizing": "constant"})
    return _layout(fig, title, height)
