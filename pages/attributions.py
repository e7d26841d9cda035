"""Attributions: which parts of the input drive a prediction, a generated class, a latent
dimension or a region of a generated image, by Captum methods and exact modality Shapley values."""

from __future__ import annotations

import streamlit as st

from mmviz import explore
from mmviz import report as rep
from mmviz.views import attributions as views
from ui.cache import attributions_view
from ui.inputs import own_sample
from ui.scenarios import try_these
from ui.sidebar import (
    CHART,
    chart,
    choose_sample,
    explainer,
    guard,
    page_checkpoint,
    through_app,
)
from ui.state import RESET, PageRun

through_app()
page = PageRun("attributions")

st.title("🔍 Attributions")
explainer(
    "Pick one number the model works out, such as how sure it is of its answer, and see which "
    "parts of the input pushed it up or down. Red marks the pixels, words or moments that "
    "raised it, blue those that lowered it.",
    "Pick a **target**, one number the model computes (the predicted class's "
    "log-probability, the sentiment score, a class of a label generated from an image, one "
    "latent dimension, the brightness of a region of a generated image), and a **method** "
    "that shares it out over the input: every pixel, word, time step and feature gets a "
    "value. Red pushes the target up, blue pushes it down. Integrated Gradients, for "
    "example, adds up the gradient along a straight path from a *baseline* $x'$ (zeros, or "
    "PAD words) to the input $x$, so the attributions add up to the change of the target:",
    [
        r"\mathrm{IG}_i(x) = (x_i - x'_i)\int_0^1 "
        r"\frac{\partial f\big(x' + \alpha (x - x')\big)}{\partial x_i}\,d\alpha,\qquad "
        r"\sum_i \mathrm{IG}_i(x) = f(x) - f(x') + \delta",
        r"\phi_m = \sum_{S \subseteq M\setminus\{m\}} \frac{|S|!\,(|M|-|S|-1)!}{|M|!}"
        r"\big(v(S \cup \{m\}) - v(S)\big),\qquad \sum_m \phi_m = v(M) - v(\varnothing)",
    ],
    "$\\delta$ is the **convergence delta**: how far the numerical integral is from exact "
    "(more steps, smaller delta). The second formula is a modality's **Shapley value**: its "
    "average contribution over every order in which modalities could be added, where "
    "$v(S)$ is the target when the model sees only the modalities in $S$ (its own "
    "missing-modality path). With a handful of modalities it is computed exactly.",
)
try_these(page)


def applies(info) -> str | None:
    if info.problem:
        return info.problem
    if info.model == "?":
        return "its model type is unknown"
    return None


info, ck, ds = page_checkpoint(page, applies)
model = ck.model
choice = choose_sample(page, ds, allow_own=True)
readable = explore.input_modalities(model)
base = {m: x for m, x in explore.sample_batch(ds, choice.index).items() if m in model.modalities}
inputs, given = base, list(readable)
if choice.own:
    st.subheader("Your input")
    st.caption(
        "Give any modalities you like; the others keep the test sample's values but "
        "cannot be observed."
    )
    with guard("Your input"):
        own = own_sample(ds.specs, readable, base, key="aown")
        inputs, given = {m: own.inputs[m] for m in model.modalities}, list(own.given)
    if not given:
        st.info("Give at least one modality above to attribute to.")
        page.stop()

# ---- target ------------------------------------------------------------------------------------
menu = views.target_menu(model, inputs)
kinds = menu.kinds
if menu.empty:
    st.warning(f"**{info.id}** has neither a prediction nor a generator to attribute.")
    page.stop()
st.subheader("What to explain")
c1, c2 = st.columns([2, 3])
kind = page.widget(
    c1.selectbox,
    "Target",
    kinds,
    field="target",
    key="att_target",
    default=kinds[0],
    valid=lambda v: v in kinds,
    format_func=lambda k: menu.labels[k],
    help="The number the attributions explain.",
)
if menu.not_here:
    c1.caption(menu.not_here)

target_choice: rep.TargetChoice
with c2:
    if kind == "prediction":
        target_choice = rep.TargetChoice("prediction")
    elif kind == "class":
        names, runner_up = views.class_menu(model, inputs, given)
        n_classes = len(names)
        k = page.widget(
            st.selectbox,
            "Class",
            list(range(n_classes)),
            field="class_index",
            key="att_class",
            default=runner_up,
            valid=lambda v: isinstance(v, int) and 0 <= v < n_classes,
            format_func=lambda i: names[i],
        )
        target_choice = rep.TargetChoice("class", index=int(k))
    elif kind == "generated":
        generated = views.generated_menu(model)
        cats = list(generated)
        gm = page.widget(
            st.selectbox,
            "Generated modality",
            cats,
            field="generated",
            key="att_gen_mod",
            default=cats[0],
            valid=lambda v: v in cats,
        )
        names = generated[gm]
        opts = [-1, *range(len(names))]
        k = page.widget(
            st.selectbox,
            "Class",
            opts,
            field="generated_class",
            key="att_gen_class",
            default=-1,
            valid=lambda v: v in opts,
            format_func=lambda i: "the generated class" if i < 0 else names[i],
        )
        target_choice = rep.TargetChoice("generated", index=None if k < 0 else int(k), modality=gm)
    elif kind == "latent":
        sizes = views.latent_menu(model)
        groups = list(sizes)
        cg, cd = st.columns(2)
        g = page.widget(
            cg.selectbox,
            "Latent group",
            groups,
            field="latent_group",
            key="att_group",
            default=groups[0],
            valid=lambda v: v in groups,
        )
        size = sizes[g]
        d = page.widget(
            cd.number_input,
            f"Dimension (0..{size - 1})",
            0,
            size - 1,
            step=1,
            field="latent_dim",
            key="att_dim",
            default=0,
            valid=lambda v: isinstance(v, int) and 0 <= v < size,
        )
        target_choice = rep.TargetChoice("latent", group=g, dim=int(d))
    else:  # region
        regions = views.region_menu(model)
        pics = list(regions)
        rm = page.widget(
            st.selectbox,
            "Generated image",
            pics,
            field="region",
            key="att_reg_mod",
            default=pics[0],
            valid=lambda v: v in pics,
        )
        h, w = regions[rm]
        default_rows, default_cols = views.default_region(h, w)
        cr, cc = st.columns(2)
        rows = page.widget(
            cr.slider,
            "Rows",
            0,
            h,
            field="rows",
            key="att_rows",
            default=default_rows,
            valid=lambda v: isinstance(v, tuple) and 0 <= v[0] <= v[1] <= h,
            help="top and bottom of the region",
        )
        cols = page.widget(
            cc.slider,
            "Columns",
            0,
            w,
            field="cols",
            key="att_cols",
            default=default_cols,
            valid=lambda v: isinstance(v, tuple) and 0 <= v[0] <= v[1] <= w,
            help="left and right of the region",
        )
        if rows[1] <= rows[0] or cols[1] <= cols[0]:
            st.warning("The region is empty: give it at least one row and one column.")
            page.stop()
        target_choice = rep.TargetChoice("region", modality=rm, rows=tuple(rows), cols=tuple(cols))

# ---- observed modalities -------------------------------------------------------------------------
seen = views.observed_menu(model, target_choice)
candidates = seen.candidates
st.markdown(seen.note)
observed = []
tcols = st.columns(max(1, len(candidates)))
for col, m in zip(tcols, candidates, strict=False):
    available = m in given
    page.init(
        f"att_obs_{m}",
        available,
        external=page.external_part("observed", lambda obs, m=m: m in obs),
        field="observed",
    )
    if not available:
        st.session_state[f"att_obs_{m}"] = False
    if col.checkbox(
        m,
        key=f"att_obs_{m}",
        disabled=not available,
        help=None if available else "give this modality above to observe it",
    ):
        observed.append(m)
page.publish("observed", tuple(observed))
if not observed:
    st.info(
        "Tick at least one modality: attributions share the target out over what the model sees."
    )
    page.stop()

# ---- method --------------------------------------------------------------------------------------
methods_menu = views.method_menu(model, observed)
methods = methods_menu.methods
if methods_menu.none_apply:
    st.warning(methods_menu.none_apply)
    page.stop()
mc1, mc2 = st.columns([2, 3])
method = page.widget(
    mc1.selectbox,
    "Method",
    methods,
    field="method",
    key="att_method",
    default=methods_menu.default,
    valid=lambda v: v in methods,
    help="Captum attribution method (gradient or perturbation based).",
)
mc1.caption(methods_menu.description(method))
if methods_menu.skipped:
    mc1.caption(methods_menu.skipped)
params: dict = {}
with mc2.expander("Method parameters", expanded=True):
    pcols = st.columns(2)
    asked = page.external("settings")
    for i, p in enumerate(methods_menu.params(method)):
        key = f"att_p_{method}_{p.name}"
        col = pcols[i % 2]
        page.init(
            key,
            p.default,
            valid=lambda v, p=p: views.parameter_ok(p, v),
            external=(
                asked if asked is RESET else views.parameter_value(p, (asked or {}).get(p.name))
            ),
            field="settings",
        )
        if p.type is bool:
            params[p.name] = col.checkbox(p.widget_label, key=key, help=p.help)
        elif p.choices is not None:
            params[p.name] = col.selectbox(p.widget_label, list(p.choices), key=key, help=p.help)
        elif p.type is int:
            params[p.name] = int(
                col.number_input(
                    p.widget_label,
                    int(p.low) if p.low is not None else None,
                    int(p.high) if p.high is not None else None,
                    step=1,
                    key=key,
                    help=p.help,
                )
            )
        else:
            params[p.name] = float(
                col.number_input(p.widget_label, p.low, p.high, step=0.1, key=key, help=p.help)
            )

page.publish("settings", {name: views.scalar_text(v) for name, v in params.items()})

# ---- compute ------------------------------------------------------------------------------------
settings = views.AttributionSettings(
    target_choice, tuple(observed), method, tuple(sorted(params.items()))
)
view = None
with guard("Attribution"):
    view = attributions_view(info.id, settings, inputs, ds)
if view is not None and view.shapley_warning:
    st.warning(view.shapley_warning)
if view is not None and view.shapley_error is not None:
    with guard("Modality Shapley values"):
        raise view.shapley_error
if view is None:
    page.stop()

result = view.result
st.subheader(view.title)
m1, m2, m3, m4 = st.columns(4)
m1.metric("target f(x)", f"{view.target_value:.4g}")
m2.metric("at the baseline f(x′)", f"{view.baseline_value:.4g}")
m3.metric("sum of attributions", f"{view.total:.4g}")
if view.delta is not None:
    m4.metric(
        "convergence delta δ",
        f"{view.delta:.2g}",
        help="Σ attributions − (f(x) − f(x′)); smaller with more steps",
    )
else:
    m4.metric("convergence delta δ", "—", help=f"{method} reports no convergence delta")
if view.index_note:
    st.caption(view.index_note)

# ---- modality shares and Shapley values -------------------------------------------------------
s1, s2 = st.columns(2)
with s1:
    chart(view.shares_figure, key="att_shares", config=CHART)
    if view.shares_note:
        st.caption(view.shares_note)
with s2:
    if view.single_note:
        st.info(view.single_note)
    elif view.shapley_figure is not None:
        chart(view.shapley_figure, key="att_shapley", config=CHART)
        st.caption(view.shapley_note)
        if view.baseline_note:
            st.caption(view.baseline_note)

# ---- per modality --------------------------------------------------------------------------------
st.subheader("Where in the input")
for panel in view.panels:
    m = panel.modality
    with guard(f"Attributions of {m}"):
        if panel.kind == "image":
            c1, c2 = st.columns([2, 3])
            with c1:
                chart(panel.figure, key=f"att_{m}", config=CHART)
            c2.markdown(panel.note)
        elif panel.kind in ("tokens", "sequence"):
            chart(panel.figure, key=f"att_{m}", config=CHART)
        else:
            st.metric(
                f"{m} (one value for the whole input)",
                f"{panel.value:+.4g}",
                help="A class input is attributed as a whole (through its embedding).",
            )

page.finish()
