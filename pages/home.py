"""Home: what mmviz is, the model zoo as cards, the embedded datasets with a preview."""

import streamlit as st

from ui.cache import cached_dataset, cached_preview, catalog
from ui.sidebar import guard, through_app

through_app()

st.title("mmviz: see how multimodal models think")
st.markdown(
    "Switch modalities off and on and watch the others being reconstructed, move a latent "
    "factor, generate one modality from another, and ask why a prediction came out. "
    "Models: **MVAE** (Wu & Goodman 2018), **JMVAE / JMVAE-kl** (Suzuki et al. 2016), "
    "**MFM** (Tsai et al. 2019), **LMF** vs **TFN** (Liu et al. 2018)."
)

with st.expander("What am I looking at?"):
    st.markdown(
        "Each dataset shows one underlying concept through several *modalities*. In `digits` "
        "the concept is a class $c \\in \\{0..9\\}$, seen as a handwritten image, a printed "
        "street number, a label, a phrase and a telephone tone. A multimodal generative model "
        "learns a joint latent $z$ from which every modality can be decoded:"
    )
    st.latex(r"p(x_1, \dots, x_M, z) = p(z) \prod_{i=1}^{M} p(x_i \mid z)")
    st.markdown(
        "Fusion models (TFN, LMF) instead map the modalities straight to a prediction; oracles "
        "are single-modality classifiers that judge what the generative models produce."
    )

KIND = {
    "mvae": "generative",
    "mopoe": "generative",
    "jmvae": "generative",
    "mfm": "generative",
    "oracle": "oracle",
}
SECTIONS = [
    (
        "generative",
        "Generative models",
        "a latent space: decode, traverse, generate across modalities",
    ),
    ("fusion", "Fusion models", "predict from fused modalities (sentiment)"),
    ("oracle", "Oracles", "independent classifiers that judge generated samples (coherence)"),
]
PAGES = {
    "generative": "Missing modalities · Latent traversal · Cross-modal generation · Latent map",
    "fusion": "Attributions · Fusion lab",
    "oracle": "used by Cross-modal generation",
}


def card(info) -> None:
    with st.container(border=True):
        st.markdown(f"#### {info.id}" + (" ⭐" if info.default else ""))
        if info.purpose:
            st.markdown(f"*{info.purpose}*")
        if info.default:
            st.caption("⭐ best on the demo-quality suite (`mmviz demo-check`): opened first")
        if info.problem:
            st.error(f"cannot be read: {info.problem}")
        st.caption(f"**{info.model}** on `{info.dataset}` · {info.paper or 'no paper recorded'}")
        st.markdown("modalities: " + ", ".join(f"`{m}`" for m in info.modalities))
        if info.latent_groups:
            st.markdown(
                "latent groups: " + ", ".join(f"`{g}` ({d})" for g, d in info.latent_groups.items())
            )
        if info.headline:
            cols = st.columns(min(3, len(info.headline)))
            for k, (label, value) in enumerate(info.headline.items()):
                cols[k % len(cols)].metric(label, f"{value:.3f}")
        facts = []
        if info.parameters:
            facts.append(f"{info.parameters:,} parameters")
        if info.wall_time_s:
            facts.append(f"trained in {info.wall_time_s:.0f} s on the CPU")
        if facts:
            st.caption(" · ".join(facts))


st.header("Model zoo")
with guard("Model zoo"):
    rows = catalog()
    if not rows:
        st.info("No checkpoints yet. Build them with `python -m mmviz train-all`.")
    for kind, title, blurb in SECTIONS:
        chosen = [r for r in rows if KIND.get(r.model, "fusion") == kind]
        if not chosen:
            continue
        st.subheader(title)
        st.caption(f"{blurb}. Pages: {PAGES[kind]}.")
        cols = st.columns(3)
        for i, r in enumerate(chosen):
            with cols[i % 3]:
                card(r)

st.header("Datasets")
for name in ("digits", "sentiment"):
    with guard(f"Dataset `{name}`"):
        ds = cached_dataset(name)
        with st.container(border=True):
            st.subheader(f"`{name}`: {len(ds)} samples, version {ds.version}")
            splits = ", ".join(f"{k} {len(v)}" for k, v in ds.splits.items())
            mods = ", ".join(f"`{m}` ({s.kind} {tuple(s.shape)})" for m, s in ds.specs.items())
            st.caption(f"splits: {splits} · modalities: {mods}")
            for m, s in ds.specs.items():
                if s.description:
                    st.markdown(f"- `{m}`: {s.description}")
            st.image(
                cached_preview(name), caption=f"a few test samples of `{name}`, every modality"
            )
