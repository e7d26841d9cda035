"""Home: what mmviz is, the model zoo as cards, the embedded datasets with a preview."""

import streamlit as st

from mmviz.views.home import build_dataset_card, build_home_view
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


def card(c) -> None:
    """One checkpoint's card (`views.home.Card`)."""
    with st.container(border=True):
        st.markdown(f"#### {c.id}" + (" ⭐" if c.default else ""))
        if c.purpose:
            st.markdown(f"*{c.purpose}*")
        if c.default:
            st.caption("⭐ best on the demo-quality suite (`mmviz demo-check`): opened first")
        if c.problem:
            st.error(f"cannot be read: {c.problem}")
        st.caption(c.caption)
        st.markdown("modalities: " + ", ".join(f"`{m}`" for m in c.modalities))
        if c.latent_groups:
            st.markdown(
                "latent groups: " + ", ".join(f"`{g}` ({d})" for g, d in c.latent_groups.items())
            )
        for row in c.metrics:
            cols = st.columns(2)
            for col, m in zip(cols, row, strict=False):
                col.metric(m.label, m.value, help=m.help)
        if c.links:
            cols = st.columns(len(c.links))
            for col, (file, label) in zip(cols, c.links, strict=True):
                col.page_link(file, label=label, query_params=c.query)
        if c.facts:
            st.caption(c.facts)


with guard("Lessons"):
    lesson_picker()

st.header("Model zoo")
with guard("Model zoo"):
    zoo = build_home_view(catalog())
    if not zoo.checkpoints:
        st.info("No checkpoints yet. Build them with `python -m mmviz train-all`.")
    for section in zoo.sections:
        st.subheader(section.title)
        st.caption(section.caption)
        if section.loglik_note:
            st.caption(section.loglik_note)
        cols = st.columns(3)
        for i, c in enumerate(section.cards):
            with cols[i % 3]:
                card(c)

st.header("Datasets")
for name in ("digits", "sentiment"):
    with guard(f"Dataset `{name}`"):
        ds = build_dataset_card(name, cached_dataset(name))
        with st.container(border=True):
            st.subheader(ds.title)
            st.caption(ds.caption)
            for m, text in ds.descriptions.items():
                st.markdown(f"- `{m}`: {text}")
            st.image(
                cached_preview(name), caption=f"a few test samples of `{name}`, every modality"
            )

page.finish()
