"""Home: what mmviz is, the embedded datasets with a preview of every modality, the model zoo."""

import streamlit as st

from ui.state import cached_dataset, cached_preview, checkpoint_rows

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
        "street number, a label, a phrase and a telephone tone. A multimodal model learns a "
        "joint latent $z$ with"
    )
    st.latex(r"p(x_1, \dots, x_M, z) = p(z) \prod_{i=1}^{M} p(x_i \mid z)")

st.header("Model zoo")
rows = checkpoint_rows()
if not rows:
    st.info("No checkpoints yet. Build them with `python -m mmviz train-all`.")
else:
    cols = st.columns(3)
    for i, r in enumerate(rows):
        with cols[i % 3].container(border=True):
            st.subheader(r["id"])
            st.caption(f"{r['model']} on {r['dataset']}: {', '.join(r['modalities'])}")
            for label, value in r["headline"].items():
                st.metric(label, f"{value:.3f}")
            if r.get("wall_time_s"):
                st.caption(f"trained in {r['wall_time_s']:.0f} s on 2 CPU cores")

st.header("Datasets")
for name in ("digits", "sentiment"):
    try:
        ds = cached_dataset(name)
    except Exception as e:  # the page must keep working: say what failed
        st.error(f"Dataset `{name}` could not be built: {e}")
        continue
    with st.container(border=True):
        st.subheader(f"`{name}` — {len(ds)} samples, version {ds.version}")
        st.caption(
            "splits: " + ", ".join(f"{k} {len(v)}" for k, v in ds.splits.items())
            + " · modalities: " + ", ".join(f"`{m}` ({s.kind} {tuple(s.shape)})" for m, s in ds.specs.items())
        )
        st.image(cached_preview(name), caption=f"a few test samples of `{name}`, every modality")
