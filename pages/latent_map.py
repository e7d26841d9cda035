"""Latent map: the test set's posterior means in 2-D, coloured by class or any style factor."""

from __future__ import annotations

import streamlit as st

from mmviz.pagestate import LatentMapState
from mmviz.views.latent_map import colour_options
from ui.cache import latent_map_view
from ui.scenarios import try_these
from ui.sidebar import (
    CHART,
    chart,
    choose_sample,
    explainer,
    generative_only,
    guard,
    page_checkpoint,
    show_value,
    through_app,
)
from ui.state import RESET, PageRun

through_app()
page = PageRun("latent_map")

st.title("🗺️ Latent map")
explainer(
    "Every dot is one test sample, placed on a flat map by how the model sums it up. Samples "
    "the model finds alike land close together, so colour the dots by digit or by style to see "
    "what it groups them by.",
    "Each dot is one test sample: the mean of its posterior $q(z \\mid x_1..x_M)$ given all "
    "modalities, projected to 2-D. **PCA** keeps the two directions of largest variance "
    "(distances are faithful, clusters may overlap); **t-SNE** keeps neighbourhoods (clusters "
    "separate, distances between them mean little). Colour by the class to see whether the "
    "digit is organised in $z$, or by a style factor (ink, hue, language, loudness…) to see "
    "whether the same latent also holds it.",
    [
        r"\mu(x) = \mathbb{E}_{q(z \mid x_1, \dots, x_M)}[z]"
        r"\;\longmapsto\; \mathrm{PCA}(\mu(x)) \in \mathbb{R}^2"
    ],
    "Lines link a few samples' **single-modality** posteriors $q(z\\mid x_i)$ (circles) to "
    "their joint one (star): short lines mean each modality alone already lands where all of "
    "them do. Click a dot to decode it in every modality.",
)
try_these(page)

info, ck, ds = page_checkpoint(page, generative_only)
model = ck.model
choice = choose_sample(page, ds)
groups = model.latent_groups

# ---- controls -------------------------------------------------------------------------------
colour_names = colour_options(ds)
c1, c2, c3, c4 = st.columns([1, 1, 2, 1])
with c1:
    group = page.widget(
        st.selectbox,
        "Latent group",
        list(groups),
        field="group",
        key="map_group",
        default=next(iter(groups)),
        valid=lambda g: g in groups,
    )
with c2:
    method = page.widget(
        st.radio,
        "Projection",
        ["pca", "tsne"],
        field="method",
        key="method",
        default="pca",
        valid=lambda v: v in ("pca", "tsne"),
        horizontal=True,
        format_func=lambda v: {"pca": "PCA", "tsne": "t-SNE"}[v],
    )
with c3:
    colour = page.widget(
        st.selectbox,
        "Colour by",
        colour_names,
        field="colour",
        key="colour",
        default=colour_names[0],
        valid=lambda v: v in colour_names,
        help="the class, or any ground-truth style factor the dataset records",
    )
with c4:
    n_links = page.widget(
        st.slider,
        "Linked samples",
        0,
        8,
        field="links",
        key="links",
        default=3,
        valid=lambda v: isinstance(v, int) and 0 <= v <= 8,
    )

test = ds.indices("test")

# ---- the point picked on the map: kept across projections, in the URL as ?pick=<position> --
# a new click picks (the selection stays in the widget's state across reruns, so only a change
# counts); choosing another sample in the sidebar drops the pick; a shared link restores it
event = st.session_state.get("map")
clicked = None
if event is not None:
    with guard("Selection"):
        points = list(event.get("selection", {}).get("points", []))
        cd = points[0].get("customdata") if points else None
        clicked = cd[0] if isinstance(cd, list) and cd else cd
if clicked != st.session_state.get("_map_seen"):
    st.session_state["_map_seen"] = clicked
    if clicked is not None:
        st.session_state["map_pick"] = int(clicked)
if st.session_state.get("_map_sample", choice.position) != choice.position:
    st.session_state["map_pick"] = None
st.session_state["_map_sample"] = choice.position
url_pick = page.external("pick")
if url_pick is RESET:
    st.session_state["map_pick"] = None
elif url_pick is not None:
    if url_pick < len(test):
        st.session_state["map_pick"] = int(test[url_pick])
    else:
        page.notes.append(f"The link's pick={url_pick} is past the test set's end ({len(test)}).")
picked = st.session_state.get("map_pick")
if picked is not None and picked not in set(test.tolist()):
    picked = None

view = None
with guard("Projection"):
    settings = LatentMapState(
        ckpt=info.id,
        sample=choice.position,
        group=group,
        method=method,
        colour=colour,
        links=n_links,
    )
    view = latent_map_view(info.id, settings, picked)
if view is None:
    page.stop()
if view.picked:
    page.publish("pick", view.position)
else:
    page.forget("pick")

chart(view.figure, key="map", on_select="rerun", selection_mode="points", config=CHART)
if view.links_incomplete:
    st.caption(
        "Some single-modality posteriors are missing: this model cannot infer from "
        "every modality alone."
    )
st.download_button(
    f"⬇ The {len(view.map.index)} latent codes shown (CSV)",
    data=view.csv,
    file_name=view.file_name(info.id),
    mime="text/csv",
    on_click="ignore",
    key="dl_codes",
    help="One row per point: test sample position, dataset index, class, style factors, "
    "the 2-D projection and the posterior means.",
)

# ---- decode the selected point --------------------------------------------------------------
st.subheader(f"Test sample {view.position}, decoded from its posterior mean")
if view.picked and view.selected != choice.index:
    st.caption(
        f"Picked on the map (dataset index {view.selected}); the sidebar's test sample is "
        f"{choice.position}: choose one there to go back to it. Top: the data, bottom: what "
        "the model decodes."
    )
else:
    st.caption(
        f"The sidebar's test sample (dataset index {view.selected}). Click a dot to pick "
        "another; top: the data, bottom: what the model decodes."
    )
with guard("Decoding"):
    cols = st.columns(len(model.modalities))
    for col, m in zip(cols, model.modalities, strict=True):
        with col:
            st.markdown(f"**{m}**")
            show_value(m, ds.specs[m], view.data[m], f"sel_in_{m}", "data", height=150)
            show_value(m, ds.specs[m], view.decoded[m], f"sel_out_{m}", "decoded", height=150)

page.finish()
