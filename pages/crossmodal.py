"""Cross-modal generation: condition on some modalities, draw the rest, let oracles judge."""

from __future__ import annotations

import numpy as np
import streamlit as st

from mmviz import explore, plots
from ui.cache import cross_modal, digest, oracle_judges, sound_bytes
from ui.inputs import own_sample
from ui.scenarios import try_these
from ui.sidebar import (
    CHART,
    chart,
    choose_sample,
    explainer,
    generative_only,
    guard,
    listen,
    page_checkpoint,
    show_value,
    through_app,
)
from ui.state import PageRun

through_app()
page = PageRun("crossmodal")

st.title("🔀 Cross-modal generation")
explainer(
    "Give the model one kind of input, such as the label 7, and it makes up the others, such as"
    ' a handwritten 7 or the word "sieben", a few times over. Separate recognisers, trained '
    "only on real data, then check how often what it made really shows a 7.",
    'Give the model some modalities (the *condition*: the label 7, the phrase "sieben", a '
    "drawn digit…), draw $N$ latents from its posterior and decode the other modalities. Each "
    "draw is a different, equally plausible completion. An independent **oracle** classifier "
    "per modality (trained on real data only) then says which digit each generated sample "
    "shows; the fraction that agrees with the condition's class is the **coherence**:",
    [
        r"z^{(n)} \sim q(z \mid X_S),\qquad \hat x_j^{(n)} \sim p(x_j \mid z^{(n)}),"
        r"\qquad n = 1..N",
        r"\text{coherence}_j = \frac{1}{N}\sum_{n=1}^{N}"
        r"\mathbb{1}\big[\text{oracle}_j(\hat x_j^{(n)}) = c\big]",
    ],
    "Pictures show each draw's mean image $\\mathbb{E}\\,p(x_j\\mid z^{(n)})$ (sharper than a "
    "pixel sample). MFM's codes are points: its shared factor comes from the condition, and a "
    "missing modality's own style factor is drawn from the prior.",
)
try_these(page)

info, ck, ds = page_checkpoint(page, generative_only)
model = ck.model
choice = choose_sample(page, ds, allow_own=True)
readable = explore.input_modalities(model)

base = explore.sample_batch(ds, choice.index)
inputs, given = base, list(readable)
if choice.own:
    st.subheader("Your input")
    with guard("Your input"):
        own = own_sample(ds.specs, readable, base, key="xown")
        inputs, given = own.inputs, own.given
    if not given:
        st.info("Give at least one modality above to condition on.")
        page.stop()

# ---- controls -------------------------------------------------------------------------------
label = model.label_modality
subsets = explore.supported_subsets(model)
if subsets is None:  # any subset: the label alone is the classic demo
    default = [label] if label in given else [given[0]]
else:  # the smallest subset the model can infer from, so that something is generated
    usable = [s for s in subsets if set(s) <= set(given)] or [given]
    default = min(usable, key=len)
c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
cond = page.widget(
    c1.multiselect,
    "Condition on",
    given,
    field="condition",
    key="cond",
    default=default,
    valid=lambda v: isinstance(v, list) and len(v) > 0 and all(m in given for m in v),
    to_widget=lambda v: [m for m in v if m in given],
    from_widget=tuple,
    help="The modalities the model sees; every other one is generated.",
)
n = page.widget(
    c2.slider,
    "Draws N",
    1,
    32,
    field="draws",
    key="draws",
    default=8,
    valid=lambda v: isinstance(v, int) and 1 <= v <= 32,
)
seed = page.widget(
    c3.number_input,
    "Seed",
    0,
    10_000,
    step=1,
    field="seed",
    key="seed",
    default=0,
    valid=lambda v: isinstance(v, int) and 0 <= v <= 10_000,
    help="the same seed, the same draws",
)
if not cond:
    st.info("Pick at least one modality to condition on.")
    page.stop()

if not [m for m in model.modalities if m not in cond]:
    st.info(
        "Every modality is in the condition, so nothing is generated (the draws below are "
        "reconstructions). Remove one from the condition to generate it."
    )

reference, ref_text = None, ""
if label in cond:
    reference, ref_text = int(inputs[label][0]), f"the given {label}"
elif not choice.own and ds.target == "class":
    reference, ref_text = int(ds.targets["class"][choice.index]), "the test sample's class"

st.subheader("The condition")
cols = st.columns(len(cond))
for col, m in zip(cols, cond, strict=True):
    with col, guard(f"{m}"):
        show_value(m, ds.specs[m], inputs[m][0].numpy(), f"cond_{m}", m)

view = None
with guard("Generation", model):
    key = digest({m: inputs[m] for m in cond})
    view = cross_modal(info.id, key, tuple(cond), int(n), int(seed), reference, inputs)
if view is None:
    page.stop()

# ---- coherence ------------------------------------------------------------------------------
_, missing_oracles = oracle_judges(model.modalities)
st.subheader("Coherence: do the oracles see the same digit?")
with guard("Coherence"):
    c1, c2 = st.columns([2, 3])
    with c1:
        if view.reference is None:
            st.info(
                "No class to compare with: the condition names no digit (type a number word, "
                "give the label, or draw a digit)."
            )
        else:
            src = ref_text or view.reference_source
            st.metric("reference class", view.reference, f"from {src}", delta_color="off")
        for m in view.unjudged:
            why = (
                f"no oracle checkpoint `oracle_{m}` on disk"
                if m in missing_oracles
                else "no oracle for this kind of modality"
            )
            st.caption(f"`{m}` is not judged: {why}.")
        if view.prior_groups:
            st.caption("Drawn from the prior: " + ", ".join(f"`{g}`" for g in view.prior_groups))
    with c2:
        if view.agreement:
            chart(
                plots.agreement_figure(view.agreement, "fraction of draws that agree"),
                key="agreement",
                config=CHART,
            )

# ---- samples --------------------------------------------------------------------------------
st.subheader(f"{n} draws per modality")
# downloads are named after the view: checkpoint, sample, condition, draws, seed
stem = f"mmviz-{info.id}-i{choice.position}-{'+'.join(cond)}-n{n}-seed{seed}"
for m in model.modalities:
    spec = ds.specs[m]
    tag = "given (reconstructed)" if m in cond else "generated"
    with guard(m):
        preds = view.predictions.get(m)
        verdict = (
            [
                f"{p}{' ✓' if view.reference is not None and p == view.reference else ''}"
                for p in preds
            ]
            if preds is not None
            else [f"#{k + 1}" for k in range(n)]
        )
        if plots.is_pictorial(spec):
            chart(
                plots.draws_figure(
                    view.samples[m],
                    spec,
                    verdict,
                    f"{m} · {tag}" + (" · oracle's class under each" if preds is not None else ""),
                ),
                key=f"draws_{m}",
                config=CHART,
            )
            st.download_button(
                f"⬇ {m}: the {n} draws (PNG)",
                data=lambda m=m, spec=spec: plots.draws_png(view.samples[m], spec),
                file_name=f"{stem}-{m}.png",
                mime="image/png",
                on_click="ignore",
                key=f"dl_{m}",
            )
            if spec.kind == "spectrogram":
                listen(f"draws_{m}", view.samples[m][0, 0].astype(np.float32))
                st.caption("the first draw, via Griffin-Lim")
                st.download_button(
                    f"⬇ {m}: the first draw (WAV)",
                    data=lambda m=m: sound_bytes(view.samples[m][0, 0].astype(np.float32)),
                    file_name=f"{stem}-{m}-1.wav",
                    mime="audio/wav",
                    on_click="ignore",
                    key=f"dl_wav_{m}",
                )
        elif spec.kind == "categorical":
            mean = view.samples[m].mean(axis=0)
            st.markdown(f"**{m}** · {tag}")
            chart(
                plots.probability_figure(
                    mean,
                    list(spec.vocab or []),
                    view.reference,
                    "mean class probability over the draws",
                    180,
                ),
                key=f"draws_{m}",
                config=CHART,
            )
        else:
            st.markdown(f"**{m}** · {tag}")
            rows = [explore.tokens_to_text(s, spec) or "∅" for s in view.samples[m]]
            st.dataframe(
                {"draw": list(range(1, n + 1)), m: rows, "oracle": verdict}, hide_index=True
            )
            st.download_button(
                f"⬇ {m}: the {n} draws (.txt)",
                data="\n".join(rows) + "\n",
                file_name=f"{stem}-{m}.txt",
                mime="text/plain",
                on_click="ignore",
                key=f"dl_{m}",
            )

page.finish()
