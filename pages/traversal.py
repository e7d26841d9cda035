"""Latent traversal: move one or two latent dimensions and watch every modality change."""

from __future__ import annotations

import numpy as np
import streamlit as st

from mmviz import explore, plots
from ui.cache import digest, dimension_activity, row_sound, traversal
from ui.sidebar import (
    CHART,
    choose_sample,
    explainer,
    generative_only,
    guard,
    page_checkpoint,
    publish,
    restore,
    through_app,
)

through_app()

st.title("🎚️ Latent traversal")
explainer(
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


def applies(info) -> str | None:
    return generative_only(info)


info, ck, ds = page_checkpoint(applies)
model = ck.model
choice = choose_sample(ds)
groups = model.latent_groups

# ---- controls -------------------------------------------------------------------------------
c1, c2, c3 = st.columns([1, 1, 2])
with c1:
    restore("group", next(iter(groups)), valid=lambda g: g in groups)
    group = st.selectbox(
        "Latent group",
        list(groups),
        key="group",
        format_func=lambda g: (
            (f"{g} (shared)" if g in ("y", "z") else f"{g}'s own factor") + f", {groups[g]} dims"
        ),
    )
    publish("group", group)
with c2:
    modes = ["grid", "animation", "sweep"]
    restore("mode", "grid", valid=lambda v: v in modes)
    mode = st.radio(
        "View",
        modes,
        key="mode",
        horizontal=True,
        format_func=lambda v: {"sweep": "2-D sweep"}.get(v, v),
    )
    publish("mode", mode)
with c3:
    starts = ["sample's posterior", "prior mean"]
    restore(
        "start",
        starts[0],
        valid=lambda v: v in starts,
        parse=lambda s: starts[1] if s == "prior" else starts[0],
    )
    start = st.radio("Start from", starts, key="start", horizontal=True)
    publish("start", "prior" if start == starts[1] else "posterior")

d = groups[group]
activity = None
with guard("Dimension activity"):
    activity = dimension_activity(info.id, group)
order = list(np.argsort(-activity)) if activity is not None else list(range(d))
order = [int(i) for i in order]


def _dims(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


c1, c2, c3 = st.columns([2, 1, 1])
with c1:
    if mode == "grid":
        restore(
            f"dims_{group}",
            sorted(order[: min(8, d)]),
            parse=_dims,
            param="dims",
            valid=lambda v: isinstance(v, list) and len(v) > 0 and all(0 <= i < d for i in v),
        )
        dims = st.multiselect(
            "Dimensions (rows)",
            list(range(d)),
            key=f"dims_{group}",
            help="Suggested: the most active ones.",
        )
        publish(f"dims_{group}", ",".join(map(str, dims)), param="dims")
    elif mode == "animation":
        restore(f"dim_{group}", order[0], parse=int, param="dim", valid=lambda v: 0 <= v < d)
        dims = [st.selectbox("Dimension", list(range(d)), key=f"dim_{group}")]
        publish(f"dim_{group}", dims[0], param="dim")
    else:
        if d < 2:
            st.info(f"Group {group} has one dimension: a 2-D sweep needs two.")
            st.stop()
        a, b = st.columns(2)
        restore(f"dimx_{group}", order[0], parse=int, param="dimx", valid=lambda v: 0 <= v < d)
        restore(f"dimy_{group}", order[1], parse=int, param="dimy", valid=lambda v: 0 <= v < d)
        dx = a.selectbox("Rows: dimension", list(range(d)), key=f"dimx_{group}")
        dy = b.selectbox("Columns: dimension", list(range(d)), key=f"dimy_{group}")
        publish(f"dimx_{group}", dx, param="dimx")
        publish(f"dimy_{group}", dy, param="dimy")
        dims = [dx, dy]
with c2:
    restore(
        "range",
        (-3.0, 3.0),
        parse=lambda s: tuple(float(v) for v in s.split(":")),
        valid=lambda v: isinstance(v, tuple) and len(v) == 2 and -6 <= v[0] < v[1] <= 6,
    )
    lo, hi = st.slider("Range of values", -6.0, 6.0, step=0.25, key="range")
    publish("range", f"{lo}:{hi}")
with c3:
    restore("steps", 9, parse=int, valid=lambda v: isinstance(v, int) and 2 <= v <= 15)
    steps = st.slider("Steps", 2, 15, key="steps")
    publish("steps", steps)

if activity is not None:
    with st.expander("Which dimensions does the model use? (activity)"):
        st.caption(
            "Variance of each dimension's posterior mean over 500 test samples: near 0 means "
            "the encoder ignores it (a collapsed dimension)."
        )
        st.plotly_chart(plots.activity_figure(activity, dims), key="activity", config=CHART)

if not dims:
    st.info("Pick at least one dimension.")
    st.stop()
if mode == "sweep" and dims[0] == dims[1]:
    st.warning("Pick two different dimensions for the sweep.")
    st.stop()

x = explore.sample_batch(ds, choice.index)
source = "prior" if start == starts[1] else "posterior"
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
    st.stop()

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
    st.caption(f"Columns: {title_x}  ·  starting point: {start}")
    for m in model.modalities:
        spec = ds.specs[m]
        with guard(f"{m}"):
            if plots.is_pictorial(spec):
                st.plotly_chart(
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
        st.plotly_chart(
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
