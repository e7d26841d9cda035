"""Cross-modal generation: condition on some modalities, draw the rest, let oracles judge."""

from __future__ import annotations

import streamlit as st

from mmviz import explore
from mmviz.views.crossmodal import CrossmodalSettings, file_stem, nothing_generated
from ui.cache import crossmodal_view, digest, sound_bytes
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

if nothing_generated(model.modalities, cond):
    st.info(
        "Every modality is in the condition, so nothing is generated (the draws below are "
        "reconstructions). Remove one from the condition to generate it."
    )

truth = None  # the test sample's class: the reference unless the label is given
if not choice.own and ds.target == "class":
    truth = int(ds.targets["class"][choice.index])
settings = CrossmodalSettings(tuple(cond), int(n), int(seed), truth)

st.subheader("The condition")
cols = st.columns(len(cond))
for col, m in zip(cols, cond, strict=True):
    with col, guard(f"{m}"):
        show_value(m, ds.specs[m], inputs[m][0].numpy(), f"cond_{m}", m)

view = None
with guard("Generation", model):
    key = digest({m: inputs[m] for m in cond})
    view = crossmodal_view(info.id, key, settings, inputs)
if view is None:
    page.stop()

# ---- coherence ------------------------------------------------------------------------------
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
            src = view.reference_text
            st.metric("reference class", view.reference, f"from {src}", delta_color="off")
        for m, why in view.unjudged.items():
            st.caption(f"`{m}` is not judged: {why}.")
        if view.prior_groups:
            st.caption("Drawn from the prior: " + ", ".join(f"`{g}`" for g in view.prior_groups))
    with c2:
        if view.agreement is not None:
            chart(view.agreement, key="agreement", config=CHART)

# ---- samples --------------------------------------------------------------------------------
st.subheader(f"{n} draws per modality")
# downloads are named after the view: checkpoint, sample, condition, draws, seed
stem = file_stem(info.id, choice.position, settings)
for m, shown in view.modalities.items():
    spec = ds.specs[m]
    with guard(m):
        if shown.shown_as == "pictures":
            chart(shown.figure, key=f"draws_{m}", config=CHART)
            st.download_button(
                f"⬇ {m}: the {n} draws (PNG)",
                data=lambda m=m: view.png(m),
                file_name=f"{stem}-{m}.png",
                mime="image/png",
                on_click="ignore",
                key=f"dl_{m}",
            )
            if spec.kind == "spectrogram":
                listen(f"draws_{m}", view.first_draw(m))
                st.caption("the first draw, via Griffin-Lim")
                st.download_button(
                    f"⬇ {m}: the first draw (WAV)",
                    data=lambda m=m: sound_bytes(view.first_draw(m)),
                    file_name=f"{stem}-{m}-1.wav",
                    mime="audio/wav",
                    on_click="ignore",
                    key=f"dl_wav_{m}",
                )
        elif shown.shown_as == "label":
            st.markdown(f"**{m}** · {shown.tag}")
            chart(shown.figure, key=f"draws_{m}", config=CHART)
        else:
            st.markdown(f"**{m}** · {shown.tag}")
            st.dataframe(
                {"draw": list(range(1, n + 1)), m: shown.rows, "oracle": shown.verdicts},
                hide_index=True,
            )
            st.download_button(
                f"⬇ {m}: the {n} draws (.txt)",
                data=view.text(m),
                file_name=f"{stem}-{m}.txt",
                mime="text/plain",
                on_click="ignore",
                key=f"dl_{m}",
            )

page.finish()
