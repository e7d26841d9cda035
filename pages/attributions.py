"""Attributions: which parts of the input drive a prediction, a generated class, a latent
dimension or a region of a generated image, by Captum methods and exact modality Shapley values."""

from __future__ import annotations

import numpy as np
import streamlit as st

from mmviz import explore
from mmviz import report as rep
from mmviz.interpret.attributions import METHODS
from mmviz.models import UnsupportedSubset
from mmviz.plots import attributions as figs
from ui.cache import attribution, digest, shapley
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


def parameter_value(p, text: str | None):
    """A method parameter written in a link (text) as the parameter's type; None if absent
    or unreadable (then the widget keeps its value)."""
    if text is None:
        return None
    try:
        if p.type is bool:
            return text in ("1", "true", "True")
        if p.choices is not None:
            return text if text in p.choices else None
        return p.type(float(text)) if p.type is int else float(text)
    except ValueError:
        return None


def parameter_ok(p, value) -> bool:
    if p.type is bool:
        return isinstance(value, bool)
    if p.choices is not None:
        return value in p.choices
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return (p.low is None or value >= p.low) and (p.high is None or value <= p.high)


def scalar_text(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return f"{value:g}" if isinstance(value, int | float) else str(value)


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
options = rep.target_options(model, inputs)
kinds = [k for k, why in options.items() if why is None]
if not kinds:
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
    format_func=lambda k: rep.TARGET_KINDS[k],
    help="The number the attributions explain.",
)
not_here = {k: why for k, why in options.items() if why is not None}
if not_here:
    c1.caption(
        "Not for this checkpoint: "
        + "; ".join(f"{rep.TARGET_KINDS[k]} ({why})" for k, why in not_here.items())
    )

target_choice: rep.TargetChoice
with c2:
    if kind == "prediction":
        target_choice = rep.TargetChoice("prediction")
    elif kind == "class":
        observed = [m for m in given if m != model.label_modality] or None
        n_classes, runner_up = explore.runner_up_class(model, inputs, observed)
        label = model.label_modality
        names = list(model.specs[label].vocab) if label else [str(k) for k in range(n_classes)]
        k = page.widget(
            st.selectbox,
            "Class",
            list(range(n_classes)),
            field="class_index",
            key="att_class",
            default=runner_up,
            valid=lambda v: isinstance(v, int) and 0 <= v < n_classes,
            format_func=lambda i: names[i] if i < len(names) else str(i),
        )
        target_choice = rep.TargetChoice("class", index=int(k))
    elif kind == "generated":
        cats = [m for m, s in model.specs.items() if s.kind == "categorical"]
        gm = page.widget(
            st.selectbox,
            "Generated modality",
            cats,
            field="generated",
            key="att_gen_mod",
            default=cats[0],
            valid=lambda v: v in cats,
        )
        names = list(model.specs[gm].vocab or [str(i) for i in range(model.specs[gm].num_classes)])
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
        groups = list(model.latent_groups)
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
        size = model.latent_groups[g]
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
        pics = rep.generated_images(model)
        rm = page.widget(
            st.selectbox,
            "Generated image",
            pics,
            field="region",
            key="att_reg_mod",
            default=pics[0],
            valid=lambda v: v in pics,
        )
        _, h, w = model.specs[rm].shape
        cr, cc = st.columns(2)
        rows = page.widget(
            cr.slider,
            "Rows",
            0,
            h,
            field="rows",
            key="att_rows",
            default=(h // 4, h - h // 4),
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
            default=(w // 4, w - w // 4),
            valid=lambda v: isinstance(v, tuple) and 0 <= v[0] <= v[1] <= w,
            help="left and right of the region",
        )
        if rows[1] <= rows[0] or cols[1] <= cols[0]:
            st.warning("The region is empty: give it at least one row and one column.")
            page.stop()
        target_choice = rep.TargetChoice("region", modality=rm, rows=tuple(rows), cols=tuple(cols))
target = target_choice.build()

# ---- observed modalities -------------------------------------------------------------------------
skip = target.excluded_modality(model)
candidates = [m for m in readable if m != skip]
st.markdown(
    "**Modalities the model sees**"
    + (
        f" (`{skip}` is the target's own modality, so it is not an input here)"
        if skip in readable
        else ""
    )
)
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
applicable = rep.method_options(model, observed)
methods = [k for k, why in applicable.items() if why is None]
if not methods:
    st.warning(
        "No attribution method applies to these inputs: "
        + "; ".join(f"{k}: {why}" for k, why in applicable.items())
    )
    page.stop()
mc1, mc2 = st.columns([2, 3])
method = page.widget(
    mc1.selectbox,
    "Method",
    methods,
    field="method",
    key="att_method",
    default="IntegratedGradients" if "IntegratedGradients" in methods else methods[0],
    valid=lambda v: v in methods,
    help="Captum attribution method (gradient or perturbation based).",
)
spec = METHODS[method]
mc1.caption(spec.description)
skipped = {k: why for k, why in applicable.items() if why is not None}
if skipped:
    mc1.caption("Not for these inputs: " + "; ".join(f"{k} ({why})" for k, why in skipped.items()))
params: dict = {}
with mc2.expander("Method parameters", expanded=True):
    pcols = st.columns(2)
    asked = page.external("settings")
    for i, p in enumerate(spec.params):
        key = f"att_p_{method}_{p.name}"
        col = pcols[i % 2]
        page.init(
            key,
            p.default,
            valid=lambda v, p=p: parameter_ok(p, v),
            external=asked if asked is RESET else parameter_value(p, (asked or {}).get(p.name)),
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

page.publish("settings", {name: scalar_text(v) for name, v in params.items()})

# ---- compute -------------------------------------------------------------------------------------
key = digest(inputs)
result = sv = None
with guard("Attribution"):
    result = attribution(
        info.id, key, tuple(observed), target_choice, method, tuple(sorted(params.items())), inputs
    )
single = len(readable) == 1
if not single:
    with guard("Modality Shapley values"):
        try:
            sv = shapley(info.id, key, tuple(observed), target_choice, inputs)
        except UnsupportedSubset as e:
            st.warning(
                "Exact modality Shapley values need the target from every subset of the "
                f"ticked modalities (and from none), and **{info.id}** cannot give one of "
                f"them: {e}. Untick modalities to compare fewer."
            )
if result is None:
    page.stop()

st.subheader(f"Explaining: {result.target}")
m1, m2, m3, m4 = st.columns(4)
total = float(sum(a.sum() for a in result.per_modality.values()))
m1.metric("target f(x)", f"{float(result.target_value[0]):.4g}")
m2.metric("at the baseline f(x′)", f"{float(result.baseline_value[0]):.4g}")
m3.metric("sum of attributions", f"{total:.4g}")
if result.delta is not None:
    m4.metric(
        "convergence delta δ",
        f"{result.delta:.2g}",
        help="Σ attributions − (f(x) − f(x′)); smaller with more steps",
    )
else:
    m4.metric("convergence delta δ", "—", help=f"{method} reports no convergence delta")
if result.index is not None and kind in ("prediction", "generated"):
    st.caption(
        f"The class explained is the one the model picks for this input: "
        f"**{int(result.index[0])}**."
    )

# ---- modality shares and Shapley values -------------------------------------------------------
order = list(model.modalities)
s1, s2 = st.columns(2)
with s1:
    chart(
        figs.shares_figure(result.shares, order, f"share of |attribution| · {method}"),
        key="att_shares",
        config=CHART,
    )
    if len(result.shares) == 1:
        only = next(iter(result.shares))
        st.caption(
            f"Trivially 100%: **{only}** is the only input "
            + ("this model reads" if single else "ticked")
            + ", so it holds all of the attribution. Where in it the attribution lies is "
            "shown below."
        )
with s2:
    if single:
        st.info(
            f"Modality Shapley values compare modalities; **{info.id}** reads only "
            f"`{readable[0]}`, so all of the target is that modality's."
        )
    elif sv is not None:
        check = rep.shapley_check(sv.values, sv.v_all, sv.v_empty)
        chart(
            figs.shapley_figure(sv.values, sv.v_all, sv.v_empty, order),
            key="att_shapley",
            config=CHART,
        )
        st.caption(
            f"Exact Shapley values over {len(sv.players)} modalities ({2 ** len(sv.players)} "
            f"coalitions). Sum **{check['sum']:.4g}** = v(all) − v(∅) = {check['v_all']:.4g} − "
            f"{check['v_empty']:.4g} = **{check['expected']:.4g}**. v(∅): what the model gives "
            "with nothing observed (training means for fusion models, the prior for latent "
            "models)."
        )
        fx0 = float(result.baseline_value[0])
        if abs(fx0 - sv.v_empty) > 1e-3 * max(1.0, abs(sv.v_empty)):
            st.caption(
                f"Why f(x′) = {fx0:.4g} above is not v(∅) = {sv.v_empty:.4g}: f(x′) is the "
                "model fed the baseline input x′ (zeros, or PAD words), an input it still "
                "reads, while v(∅) is the model observing no modality at all. They answer "
                "different questions, so the attributions add up to f(x) − f(x′) and the "
                "Shapley values to v(all) − v(∅)."
            )

# ---- per modality --------------------------------------------------------------------------------
st.subheader("Where in the input")
words = None
tok = next((m for m, s in ds.specs.items() if s.kind == "tokens" and m in inputs), None)
if tok is not None and ds.name == "sentiment":
    from mmviz.fusionlab import words_of

    words = words_of(inputs[tok][0].numpy(), ds.specs[tok].vocab)
for m in [m for m in model.modalities if m in result.per_modality]:
    spec_m = model.specs[m]
    a = result.per_modality[m][0]
    with guard(f"Attributions of {m}"):
        if spec_m.kind in ("image", "spectrogram"):
            c1, c2 = st.columns([2, 3])
            with c1:
                chart(
                    figs.overlay_figure(inputs[m][0].numpy(), a, spec_m, m),
                    key=f"att_{m}",
                    config=CHART,
                )
            c2.markdown(
                f"**{m}**: red pixels raise the target, blue ones lower it. "
                f"Total {a.sum():+.4g}, share {result.shares[m]:.0%}."
            )
        elif spec_m.kind == "tokens":
            w, v = rep.token_words(inputs[m][0].numpy(), a, spec_m.vocab)
            chart(
                figs.words_figure(w, v, f"{m}: words coloured by attribution"),
                key=f"att_{m}",
                config=CHART,
            )
        elif spec_m.kind == "sequence":
            names = None
            info_names = ds.info.get(f"{m}_features")
            if isinstance(info_names, list):
                names = info_names
            chart(
                figs.sequence_figure(
                    a, names, words, f"{m}: per time step (top) and per feature (below)"
                ),
                key=f"att_{m}",
                config=CHART,
            )
        else:
            v = float(np.asarray(a).sum())
            st.metric(
                f"{m} (one value for the whole input)",
                f"{v:+.4g}",
                help="A class input is attributed as a whole (through its embedding).",
            )

page.finish()
