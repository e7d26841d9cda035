"""Missing modalities: choose what the model observes and watch every modality come back."""

from __future__ import annotations

import streamlit as st

from mmviz import explore
from mmviz.views.missing import compared_modalities, slider_level
from mmviz.views.missing import damage as damage_inputs
from ui.cache import catalog, compare_view, digest, load_model, missing_view
from ui.inputs import own_sample
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
from ui.state import PageRun

through_app()
page = PageRun("missing")

st.title("🧩 Missing modalities")
explainer(
    "Tick which of a sample's inputs (the picture, the label, the phrase…) the model may "
    "see, and it rebuilds all of them, the hidden ones included. The charts show how much each "
    "input it sees counts, and how much it loses when the others are hidden.",
    "Tick which modalities the model **sees**. It infers the latent $z$ from those alone and "
    "decodes **every** modality from it: observed ones are *reconstructed*, the others are "
    "*generated*. An MVAE multiplies one Gaussian *expert* per observed modality with the prior "
    "(a product of experts), so an expert with a small variance (a high precision) dominates:",
    [
        r"q(z \mid X_S) \propto p(z) \prod_{i \in S} \tilde q(z \mid x_i),\qquad "
        r"T_S = 1 + \sum_{i \in S} T_i,\quad \mu_S = \frac{\sum_{i \in S} T_i \mu_i}{T_S},"
        r"\quad T_i = \sigma_i^{-2}",
        r"\mathrm{KL}\big(q(z \mid X_S)\,\|\,q(z \mid X_{\text{all}})\big)",
    ],
    "The KL says how much information about $z$ is lost by hiding the unticked modalities (0 "
    "when all are seen). JMVAE uses one encoder per allowed subset instead; MFM's codes are "
    "points, so the distance between codes is shown. Add noise to an input to see how robust "
    "inference is.",
)
try_these(page)

info, ck, ds = page_checkpoint(page, generative_only)
model = ck.model
choice = choose_sample(page, ds, allow_own=True)
compare = page.widget(
    st.sidebar.toggle,
    "Compare all checkpoints",
    field="compare",
    key="compare",
    default=False,
    valid=lambda v: isinstance(v, bool),
    help="Every generative checkpoint of this dataset, side by side, on the same sample and mask.",
)
damage = page.widget(
    st.sidebar.radio,
    "Image damage",
    ["noise", "occlude"],
    field="damage",
    key="damage",
    default="noise",
    valid=lambda v: v in ("noise", "occlude"),
    horizontal=True,
    help="Gaussian noise of the slider's std, or a centred black square of that area fraction.",
)

# ---- which models, which modalities ---------------------------------------------------------
models = {info.id: model}
if compare:
    for other in catalog():
        if other.dataset == info.dataset and other.id != info.id and generative_only(other) is None:
            try:
                models[other.id] = load_model(other.id)
            except ValueError as e:  # CheckpointError: name it, compare the others
                st.warning(f"{other.id} is left out of the comparison: {e}")
shown, readable = compared_modalities(ds.modalities, models)

base = explore.sample_batch(ds, choice.index)
truth = int(ds.targets[ds.target][choice.index]) if ds.target == "class" else None
given = list(ds.modalities)
inputs = base
if choice.own:
    st.subheader("Your input")
    st.caption(
        "Give any modalities you like; the others cannot be observed. Uploads are converted "
        "to what the model expects (each conversion is listed)."
    )
    with guard("Your input"):
        own = own_sample(ds.specs, [m for m in shown if m in readable], base)
        inputs, given = own.inputs, own.given
    truth = None


def damage_label(m: str, kind: str, mode: str) -> str:
    """The damage slider's label: the modality it corrupts and what its value means."""
    what = {
        "image": "occluded area" if mode == "occlude" else "noise std",
        "spectrogram": "occluded area" if mode == "occlude" else "noise std",
        "sequence": "noise std",
        "tokens": "word dropout",
        "categorical": "flip probability",
    }.get(kind, "damage")
    return f"{m}: {what}"


# ---- controls: observe + damage, one column per modality -----------------------------------
st.subheader("What the model observes")
previously_given = st.session_state.get("_missing_given", set(given))
st.session_state["_missing_given"] = set(given)
observed, noise = [], {}
cols = st.columns(len(shown))
for col, m in zip(cols, shown, strict=True):
    with col:
        if m not in readable:
            st.checkbox(
                f"**{m}**",
                False,
                disabled=True,
                key=f"obs_off_{m}",
                help="MFM predicts this label with its head; it is never an input.",
            )
            st.caption("target of the head, not an input")
            continue
        available = m in given
        page.init(
            f"obs_{m}",
            available,
            external=page.external_part("observed", lambda obs, m=m: m in obs),
            field="observed",
        )
        if not available:
            st.session_state[f"obs_{m}"] = False
        elif m not in previously_given:  # just given (typed, uploaded): observe it
            st.session_state[f"obs_{m}"] = True
        seen = st.checkbox(
            f"**{m}**",
            key=f"obs_{m}",
            disabled=not available,
            help=None if available else "give this modality above to observe it",
        )
        url_level = page.external_part(
            "noise", lambda levels, m=m: slider_level(levels.get(m, 0.0))
        )
        page.init(
            f"noise_{m}",
            0.0,
            valid=lambda v: isinstance(v, float) and 0 <= v <= 1,
            external=url_level,
            field="noise",
        )
        level = st.slider(
            damage_label(m, ds.specs[m].kind, damage),
            0.0,
            1.0,
            step=0.05,
            key=f"noise_{m}",
            disabled=not seen,
            help="noise std / occluded fraction (images), word dropout (text), "
            "label flip probability (label)",
        )
        if seen:
            observed.append(m)
        if level > 0:
            noise[m] = level
page.publish("observed", tuple(observed))
page.publish("noise", {m: round(v, 2) for m, v in noise.items()})
if not observed:
    st.info("Tick at least one modality: with nothing observed the model only has its prior.")
    page.stop()


# ---- one model -----------------------------------------------------------------------------
def observed_row(model, damaged, key: str) -> None:
    cols = st.columns(len(model.modalities))
    for col, m in zip(cols, model.modalities, strict=True):
        with col:
            st.markdown(f"**{m}**")
            if m in observed and m in model.input_modalities:
                label = f"{m}, damaged ({noise[m]:.2f})" if m in noise else None
                show_value(m, ds.specs[m], damaged[m][0].numpy(), f"{key}_in_{m}", label)
            else:
                st.caption("not observed")


def output_row(model, view: explore.ReconView, key: str) -> None:
    cols = st.columns(len(model.modalities))
    for col, m in zip(cols, model.modalities, strict=True):
        with col:
            if m in view.observed:
                st.markdown(f"**{m}** · reconstructed")
            else:
                st.markdown(f"**{m}** · :orange[generated (not observed)]")
            show_value(m, ds.specs[m], view.outputs[m], f"{key}_out_{m}", truth=truth)


built = None
with guard("Reconstruction", model):
    full = tuple(m for m in given if m in model.input_modalities) if choice.own else None
    levels = tuple(sorted(noise.items()))
    built = missing_view(info.id, digest(inputs), tuple(observed), levels, damage, full, inputs)
damaged = built.damaged if built is not None else damage_inputs(inputs, ds.specs, noise, damage)

st.subheader(f"Observed inputs · {info.id}")
with guard("Observed inputs"):
    observed_row(model, damaged, "one")

view = None
if built is not None:
    st.subheader("Reconstruction and generation")
    view = built.recon
    with guard("Reconstruction", model):
        output_row(model, view, "one")

if view is not None:
    st.subheader("The posterior")
    with guard("Posterior"):
        c1, c2 = st.columns([1, 3])
        with c1:
            against = "all given" if choice.own else "all"
            if not view.shift:
                st.caption(f"q(z | {against}) cannot be formed by this model: no shift shown.")
            for g, v in view.shift.items():
                if view.shift_kind[g] == "kl":
                    scale = built.scales[g]
                    st.metric(
                        f"KL(q({g} | observed) ‖ q({g} | {against}))",
                        f"{v:,.2f} nats",
                        help="How much the posterior moves when the unticked modalities are "
                        f"hidden: 0 when everything is observed. {scale}. A sharp posterior "
                        "(small std) makes even a small move cost many nats.",
                    )
                    st.caption(f"Scale: {scale}.")
                else:
                    st.metric(
                        f"‖{g}(observed) − {g}({against})‖",
                        f"{v:.2f}",
                        help="point codes (MFM): the distance between the two codes",
                    )
            if built.predicted is not None:
                k, p = built.predicted
                st.metric("predicted class", f"{k}", f"{p:.0%} sure", delta_color="off")
        with c2:
            if built.experts is not None:
                chart(built.shares, key="shares", config=CHART)
                st.caption(
                    f"The prior N(0, I) is one of the experts, with precision 1 in every "
                    f"dimension, so it keeps a share however many modalities are observed: here "
                    f"{built.prior_share:.0%} on average. It outweighs the observed experts "
                    f"together in {built.prior_wins} of {built.dimensions} dimensions, the ones "
                    "the modalities say little about (their experts are vaguer than the prior); "
                    "in the others the modalities decide."
                )
                chart(built.parts, key="experts", config=CHART)
            elif (mv := built.mixture) is not None:
                shown = "" if len(mv.names) == mv.total else f", {len(mv.names)} shown"
                st.caption(
                    f"The posterior is a mixture of {mv.total} components, each weighing "
                    f"1/{mv.total}{shown}: a draw picks one component, then samples it, so no "
                    "single precise expert can take the posterior over."
                )
                chart(built.parts, key="experts", config=CHART)
            else:
                for g, fig in built.posteriors.items():
                    chart(fig, key=f"post_{g}", config=CHART)

# ---- compare mode ---------------------------------------------------------------------------
if compare:
    st.subheader("All checkpoints, same sample, same mask")
    with guard("Comparison"):
        levels = tuple(sorted(noise.items()))
        cmp = compare_view(
            tuple(models), ds.name, digest(inputs), tuple(observed), levels, damage, inputs
        )
        for cid, why in cmp.failures.items():
            st.caption(f"**{cid}**: {why}")
        for row in cmp.rows:
            m = row.modality
            if row.figure is not None:
                chart(row.figure, key=f"cmp_{m}", config=CHART)
            else:
                st.markdown(f"**{m}** ({row.tag})")
                st.dataframe({"checkpoint": row.checkpoints, m: row.texts}, hide_index=True)
        st.caption("Compared: " + ", ".join(cmp.names))

# ---- step by step: the product of experts (or mixture) one expert at a time; MFM data flow ---
if view is not None:
    from ui.steppers import mfm_stepper, poe_stepper

    poe_stepper(page, info.id, model, damaged, view.observed, ds.specs)
    mfm_stepper(page, info.id, model, damaged, view.observed, ds, choice.position)

page.finish()
