"""Home: what mmviz is, the model zoo as cards, the embedded datasets with a preview."""

import streamlit as st

from ui.cache import cached_dataset, cached_preview, catalog
from ui.sidebar import explainer, guard, through_app
from ui.state import PageRun

through_app()
page = PageRun("home")

st.title("mmviz: see how multimodal models think")
st.markdown(
    "Switch modalities off and on and watch the others being reconstructed, move a latent "
    "factor, generate one modality from another, and ask why a prediction came out. "
    "Models: **MVAE** (Wu & Goodman 2018), **JMVAE / JMVAE-kl** (Suzuki et al. 2016), "
    "**MFM** (Tsai et al. 2019), **LMF** vs **TFN** (Liu et al. 2018)."
)

explainer(
    "Each dataset shows one thing, such as a digit, in several forms at once: a handwritten "
    "picture, a printed number, a label, a phrase, a tone. The models here learn what "
    "the forms have in common, so that they can rebuild any form from the others or predict "
    "from all of them together.",
    "Each dataset shows one underlying concept through several *modalities*. In `digits` "
    "the concept is a class $c \\in \\{0..9\\}$, seen as a handwritten image, a printed "
    "street number, a label, a phrase and a telephone tone. A multimodal generative model "
    "learns a joint latent $z$ from which every modality can be decoded:",
    [r"p(x_1, \dots, x_M, z) = p(z) \prod_{i=1}^{M} p(x_i \mid z)"],
    "Fusion models (TFN, LMF) instead map the modalities straight to a prediction; oracles "
    "are single-modality classifiers that judge what the generative models produce.",
)

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


# headline metrics: a short label that fits a card's column, the full meaning as help
SHORT = {
    "acc": ("accuracy", "test accuracy"),
    "label from hand": ("acc · hand", "label accuracy from the hand image alone"),
    "label from hand+print": ("acc · hand+print", "label accuracy from hand and print together"),
    "label->hand coherence": (
        "coherence",
        "label → hand: how often the hand oracle reads a hand image generated from a label "
        "as that label",
    ),
    "acc2": ("acc2", "binary accuracy (positive vs negative)"),
    "mae": ("MAE", "mean absolute error of the score"),
    "demo score": ("demo", "score on the demo-quality suite (`mmviz demo-check`)"),
}
LOGLIK_HELP = {
    "mfm": "log-likelihood of the hand image, in nats: for MFM a loose importance-weighted "
    "bound with a fixed proposal around the code, far below the VAEs' figures without meaning "
    "a worse model. Not comparable with MVAE's or JMVAE's.",
    None: "log-likelihood of the hand image, in nats (importance-weighted estimate with the "
    "model's own posterior as proposal, as in the MVAE and JMVAE papers). Higher is better.",
}


# the pages a card opens with its checkpoint selected
CARD_LINKS = {
    "generative": [
        ("pages/missing.py", "🧩 Missing"),
        ("pages/traversal.py", "🎚️ Traverse"),
        ("pages/crossmodal.py", "🔀 Generate"),
    ],
    "fusion": [("pages/fusion_lab.py", "🧪 Fusion lab"), ("pages/attributions.py", "🔍 Explain")],
    "oracle": [("pages/report.py", "📋 Report")],
}


def lesson_picker() -> None:
    """Every lesson in lessons/ with a Start button; a broken file is named with its problem
    and the others still work."""
    from mmviz.lessons import CheckpointMissing, list_lessons
    from ui import classroom
    from ui import lesson as running_lesson

    good, bad = list_lessons()
    if not good and not bad:
        return
    st.header("Lessons")
    st.caption(
        "A guided path through the app for a class or on your own: each stop opens a page "
        "set up for one point, says what to do and what to notice, and asks a question."
    )
    cols = st.columns(2)
    for i, lesson in enumerate(good):
        with cols[i % 2].container(border=True):
            st.markdown(f"#### 📘 {lesson.title}")
            st.caption(
                f"{lesson.audience} · {lesson.duration} min · {len(lesson.stops)} stops · "
                f"pages: {', '.join(dict.fromkeys(s.page for s in lesson.stops))}"
            )
            st.markdown(lesson.summary)
            start, teach = st.columns(2)
            if start.button("▶ Start this lesson", key=f"start_{lesson.id}", type="primary"):
                running_lesson.start(lesson)
            if teach.button(
                "👩‍🏫 Teach this lesson",
                key=f"teach_{lesson.id}",
                help="Start a class: students join with a code or link and follow you; "
                "questions collect the room's answers until you reveal them.",
            ):
                with guard("Starting the class"):
                    classroom.teach(lesson)
    for name, why in bad.items():
        if isinstance(why, CheckpointMissing):
            st.caption(f"Lesson `{name}` needs checkpoints this folder does not have: {why}")
        else:
            st.error(f"Lesson `{name}` cannot be used: {why}")
    with st.form("join_class", border=True):
        st.markdown("**🎓 Join a class**: type the code your teacher shows.")
        code = st.text_input("Class code", placeholder="e.g. K7MX-3QRP", key="join_code")
        if st.form_submit_button("Join"):
            problem = classroom.join(code)
            if problem:
                st.error(problem)
            else:
                st.rerun()


def headline_metric(col, info, label: str, value: float) -> None:
    if label.startswith("log p("):
        short, help_ = label, LOGLIK_HELP.get(info.model, LOGLIK_HELP[None])
    else:
        short, help_ = SHORT.get(label, (label, label))
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3f}"
    col.metric(short, text, help=help_)


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
        if info.headline:  # two to a row: a third column cuts values and labels short
            items = list(info.headline.items())
            for start in range(0, len(items), 2):
                cols = st.columns(2)
                for col, (label, value) in zip(cols, items[start : start + 2], strict=False):
                    headline_metric(col, info, label, value)
        links = CARD_LINKS.get(info.kind or "", [])
        if links and not info.problem:
            cols = st.columns(len(links))
            for col, (file, label) in zip(cols, links, strict=True):
                col.page_link(file, label=label, query_params={"ckpt": info.id})
        facts = []
        if info.parameters:
            facts.append(f"{info.parameters:,} parameters")
        if info.wall_time_s:
            facts.append(f"trained in {info.wall_time_s:.0f} s on the CPU")
        if facts:
            st.caption(" · ".join(facts))


with guard("Lessons"):
    lesson_picker()

st.header("Model zoo")
with guard("Model zoo"):
    rows = catalog()
    if not rows:
        st.info("No checkpoints yet. Build them with `python -m mmviz train-all`.")
    for kind, title, blurb in SECTIONS:
        chosen = [r for r in rows if (r.kind or "fusion") == kind]
        if not chosen:
            continue
        st.subheader(title)
        st.caption(f"{blurb}. Pages: {PAGES[kind]}.")
        lp = [(r.model == "mfm", r.headline.get("log p(hand)")) for r in chosen]
        lp = [(m, v) for m, v in lp if v is not None]
        mfm = sorted(v for is_mfm, v in lp if is_mfm)
        vae = sorted(v for is_mfm, v in lp if not is_mfm)
        if mfm and vae:
            st.caption(
                f"log p(hand) is not comparable across kinds: MFM's ({mfm[0]:,.0f} to "
                f"{mfm[-1]:,.0f}) is a loose bound from a fixed proposal around its code, the "
                f"VAEs' ({vae[0]:,.0f} to {vae[-1]:,.0f}) an importance-weighted estimate with "
                "their own posterior as the proposal. Compare log p(hand) between VAEs only."
            )
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

page.finish()
