"""Latent traversal: move one or two latent dimensions and watch every modality change."""

from __future__ import annotations

import numpy as np
import streamlit as st

from mmviz import explore, plots
from ui.cache import digest, dimension_activity, row_sound, traversal
from ui.scenarios import try_these
from ui.sidebar import (
    CHART,
    chart,
    choose_sample,
    explainer,
    generative_only,
    guard,
    page_checkpoint,
    through_app,
)
from ui.state import PageRun

through_app()
page = PageRun("traversal")

st.title("🎚️ Latent traversal")
explainer(
    "The model sums up each sample as a short list of numbers; here you turn one of those "
    "numbers up and down and watch what the model draws from it. Some numbers change which "
    "digit comes out in every form at once, others only the look of one form.",
    "Start from a point $z$ (a sample's posterior mean, or the prior mean $0$), set one latent "
    "dimension $z_d$ to a range of values while every other dimension stays put, and decode "
    "every modality. A dimension that holds the digit changes the class in *every* modality at "
    "once; a style dimension changes only how one modality looks (MFM keeps those in a "
    "modality's own factor $z_{a_i}$, apart from the shared $z_y$).",
    [
        r"\hat x_i(v) = \mathbb{E}\,p\big(x_i \mid z_{-d},\; z_d = v\big),"
        r"\qquad v \in [v_{\min}, v_{\max}]"
    ],
    "Values are in prior standard deviations: the prior is $N(0, I)$, so $\\pm 3$ covers almost "
    "all of it. Dimensions the encoder never uses (low *activity*, below) change nothing.",
)
try_these(page)


def applies(info) -> str | None:
    return generative_only(info)


info, ck, ds = page_checkpoint(page, applies)
model = ck.model
choice = choose_sample(page, ds)
groups = model.latent_groups

# ---- controls -------------------------------------------------------------------------------
c1, c2, c3 = st.columns([1, 1, 2])
with c1:
    group = page.widget(
        st.selectbox,
        "Latent group",
        list(groups),
        field="group",
        key="group",
        default=next(iter(groups)),
        valid=lambda g: g in groups,
        format_func=lambda g: (
            (f"{g} (shared)" if g in ("y", "z") else f"{g}'s own factor") + f", {groups[g]} dims"
        ),
    )
with c2:
    modes = ["grid", "animation", "sweep"]
    mode = page.widget(
        st.radio,
        "View",
        modes,
        field="mode",
        key="mode",
        default="grid",
        valid=lambda v: v in modes,
        horizontal=True,
        format_func=lambda v: {"sweep": "2-D sweep"}.get(v, v),
    )
with c3:
    starts = {"posterior": "sample's posterior", "prior": "prior mean"}
    start = page.widget(
        st.radio,
        "Start from",
        list(starts),
        field="start",
        key="start",
        default="posterior",
        valid=lambda v: v in starts,
        format_func=starts.get,
        horizontal=True,
    )

d = groups[group]
activity = None
with guard("Dimension activity"):
    activity = dimension_activity(info.id, group)
order = list(np.argsort(-activity)) if activity is not None else list(range(d))
order = [int(i) for i in order]


c1, c2, c3 = st.columns([2, 1, 1])
with c1:
    if mode == "grid":
        dims = page.widget(
            st.multiselect,
            "Dimensions (rows)",
            list(range(d)),
            field="dims",
            key=f"dims_{group}",
            default=sorted(order[: min(8, d)]),
            valid=lambda v: isinstance(v, list) and len(v) > 0 and all(0 <= i < d for i in v),
            to_widget=list,
            from_widget=tuple,
            help="Suggested: the most active ones.",
        )
    elif mode == "animation":
        dim = page.widget(
            st.selectbox,
            "Dimension",
            list(range(d)),
            field="dim",
            key=f"dim_{group}",
            default=order[0],
            valid=lambda v: 0 <= v < d,
        )
        dims = [dim]
    else:
        if d < 2:
            st.info(f"Group {group} has one dimension: a 2-D sweep needs two.")
            page.stop()
        a, b = st.columns(2)
        dx = page.widget(
            a.selectbox,
            "Rows: dimension",
            list(range(d)),
            field="dim_x",
            key=f"dimx_{group}",
            default=order[0],
            valid=lambda v: 0 <= v < d,
        )
        dy = page.widget(
            b.selectbox,
            "Columns: dimension",
            list(range(d)),
            field="dim_y",
            key=f"dimy_{group}",
            default=order[1],
            valid=lambda v: 0 <= v < d,
        )
        dims = [dx, dy]
with c2:
    lo, hi = page.widget(
        st.slider,
        "Range of values",
        -6.0,
        6.0,
        step=0.25,
        field="value_range",
        key="range",
        default=(-3.0, 3.0),
        valid=lambda v: isinstance(v, tuple) and len(v) == 2 and -6 <= v[0] < v[1] <= 6,
        from_widget=lambda v: (float(v[0]), float(v[1])),
    )
with c3:
    steps = page.widget(
        st.slider,
        "Steps",
        2,
        15,
        field="steps",
        key="steps",
        default=9,
        valid=lambda v: isinstance(v, int) and 2 <= v <= 15,
    )

if activity is not None:
    with st.expander("Which dimensions does the model use? (activity)"):
        st.caption(
            "Variance of each dimension's posterior mean over 500 test samples: near 0 means "
            "the encoder ignores it (a collapsed dimension)."
        )
        chart(plots.activity_figure(activity, dims), key="activity", config=CHART)

if not dims:
    st.info("Pick at least one dimension.")
    page.stop()
if mode == "sweep" and dims[0] == dims[1]:
    st.warning("Pick two different dimensions for the sweep.")
    page.stop()

x = explore.sample_batch(ds, choice.index)
source = start
grid = None
with guard("Traversal"):
    grid = traversal(
        info.id,
        digest(x) if source == "posterior" else "prior",
        None,
        source,
        group,
        tuple(int(i) for i in dims),
        float(lo),
        float(hi),
        int(steps),
        mode == "sweep",
        x,
    )
if grid is None:
    page.stop()

values = grid.values
row_labels = (
    [f"{group}[{grid.dims[0]}] = {v:+.2f}" for v in values]
    if grid.sweep
    else [f"{group}[{i}]" for i in grid.dims]
)
col_labels = [f"{v:+.1f}" for v in grid.col_values]


def cell_text(m: str, out: np.ndarray) -> str:
    spec = ds.specs[m]
    if spec.kind == "categorical":
        return f"{int(out.argmax())} ({out.max():.0%})"
    return explore.tokens_to_text(out, spec) or "∅"


# ---- grid / sweep --------------------------------------------------------------------------
if mode in ("grid", "sweep"):
    title_x = f"{group}[{grid.dims[1]}] →" if grid.sweep else "value →"
    st.caption(f"Columns: {title_x}  ·  starting point: {starts[start]}")
    for m in model.modalities:
        spec = ds.specs[m]
        with guard(f"{m}"):
            if plots.is_pictorial(spec):
                chart(
                    plots.grid_figure(grid.outputs[m], spec, row_labels, col_labels, m),
                    key=f"grid_{m}",
                    config=CHART,
                )
                if spec.kind == "spectrogram" and st.toggle(
                    f"🔊 listen along a row of `{m}`", key=f"listen_on_{m}"
                ):
                    r = st.selectbox(
                        "row",
                        range(len(row_labels)),
                        key=f"listen_{m}",
                        format_func=lambda k: row_labels[k],
                    )
                    st.audio(
                        row_sound(grid.outputs[m][r, :, 0].astype(np.float32)), format="audio/wav"
                    )
            else:
                table = {"": row_labels}
                for j, c in enumerate(col_labels):
                    table[c] = [cell_text(m, grid.outputs[m][i, j]) for i in range(len(row_labels))]
                st.markdown(f"**{m}**")
                st.dataframe(table, hide_index=True)

# ---- animation ------------------------------------------------------------------------------
else:
    with guard("Animation"):
        pictorial = [m for m in model.modalities if plots.is_pictorial(ds.specs[m])]
        others = [m for m in model.modalities if m not in pictorial]
        frames, captions = [], []
        for j in range(len(values)):
            frames.append(
                plots.strip(
                    [plots.to_rgb(grid.outputs[m][0, j], ds.specs[m]) for m in pictorial], height=64
                )
            )
            captions.append(
                " · ".join(f"{m}: {cell_text(m, grid.outputs[m][0, j])}" for m in others)
            )
        st.caption("Left to right: " + ", ".join(pictorial) + ". Press ▶ or drag the slider.")
        chart(
            plots.animation_figure(
                frames,
                [f"{v:+.2f}" for v in values],
                captions,
                f"{group}[{dims[0]}] from {lo:+.1f} to {hi:+.1f}",
                scale=3,
            ),
            key="animation",
            config=CHART,
        )

page.finish()
