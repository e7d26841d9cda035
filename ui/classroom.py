"""A live class in the app: the teacher's card (code, student link, QR, the room's answers,
Reveal), the student's card (follow the teacher, break away, commit an answer), and links that
hide or lock controls. The store behind it (codes, keys, answers) is mmviz/classroom/.

Session state (per browser session): `_mmviz_keep_class` = {"code", "role": "teacher" |
"student", "key" (teacher only), "student" (student id), "follow", "seen"}. The teacher key
lives only in the teacher's session; the student link holds the code alone.

Following: the teacher's session publishes its page's `PageState` after every run; each
student's sidebar polls the store's version number every FOLLOW_POLL_S seconds in a fragment
(only that fragment reruns) and, when the teacher moved, applies the teacher's whole state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st

from mmviz.classroom import (
    ChoiceRule,
    ChoiceTally,
    ClassError,
    ClassNotFound,
    NumberRule,
    format_code,
    open_store,
)
from mmviz.classroom.qr import qr_png, student_link
from mmviz.lessons import Lesson, LessonError
from ui.state import APPLY, KEEP, PAGE_FILES

if TYPE_CHECKING:
    from mmviz.classroom import ClassStore
    from ui.state import PageRun

CLASS = f"{KEEP}class"
SHAPE = f"{KEEP}shape"  # {"hide": [...], "lock": [...]} field names from the link
FOLLOW_POLL_S = 1.0  # a student sees the teacher's change within ~1 s plus a rerun
TALLY_POLL_S = 2.0


@st.cache_resource(show_spinner=False)
def store() -> ClassStore:
    """One store per server process (SQLite file or Redis, from the environment)."""
    return open_store()


def current() -> dict[str, Any] | None:
    return st.session_state.get(CLASS)


def is_student_following() -> bool:
    c = current()
    return bool(c and c["role"] == "student" and c.get("follow", True))


def rule_of(question) -> ChoiceRule | NumberRule:
    if question.kind == "choice":
        return ChoiceRule(tuple(question.options))
    return NumberRule(question.minimum, question.maximum)


# ---- starting and joining -------------------------------------------------------------------
def teach(lesson: Lesson) -> None:
    """Start a class from `lesson`: this session becomes its teacher (call from the script)."""
    from ui import lesson as running_lesson

    code, key = store().create_class(lesson.id)
    st.session_state[CLASS] = {"code": code, "role": "teacher", "key": key, "published": None}
    running_lesson.start(lesson)


def join(code_text: str) -> str | None:
    """Join class `code_text` as a student; returns an error message or None."""
    from mmviz.paths import lessons_root
    from ui import lesson as running_lesson

    try:
        s = store()
        info = s.class_info(code_text)
        mine = current()
        student = mine["student"] if mine and mine.get("code") == info.code else None
        student = s.join(info.code, student)
    except ClassError as e:
        return str(e)
    path = lessons_root() / f"{info.lesson_id}.toml"
    try:
        lesson = running_lesson.cached_lesson(str(path))
    except LessonError as e:
        return f"The class's lesson cannot be opened here: {e}"
    st.session_state[CLASS] = {
        "code": info.code,
        "role": "student",
        "student": student,
        "follow": True,
        "seen": -1,
    }
    st.session_state[running_lesson.RUNNING] = {"path": str(path), "stop": 0, "answers": {}}
    del lesson
    return None


def leave() -> None:
    from ui import lesson as running_lesson

    st.session_state.pop(CLASS, None)
    running_lesson.end()


def read_link_params() -> None:
    """app.py, every run: `?class=CODE` joins (once), `?hide=`/`?lock=` shape the controls."""
    if st.session_state.pop(f"{KEEP}class_ended", False):
        st.info("The class has ended (the teacher closed it). You can keep exploring.")
    code = st.query_params.get("class")
    if code and (current() or {}).get("code", "").upper() != code.replace("-", "").upper():
        problem = join(code)
        if problem:
            st.error(problem)
    for what in ("hide", "lock"):
        raw = st.query_params.get(what)
        if raw is not None:
            shape = st.session_state.setdefault(SHAPE, {"hide": [], "lock": []})
            shape[what] = [f for f in raw.split(",") if f.strip()]


# ---- the page's part ------------------------------------------------------------------------
def class_card(page: PageRun, slot: Any, lesson: Lesson | None, stop_index: int) -> None:
    """The class's card in `slot`, after the page ran (its state is known)."""
    c = current()
    if c is None:
        return
    with slot.container(border=True, key="class_card"):
        try:
            if c["role"] == "teacher":
                _teacher(page, c, lesson, stop_index)
            else:
                _student(page, c, lesson, stop_index)
        except ClassNotFound as e:
            st.warning(f"{e} You have left the class.")
            leave()
        except ClassError as e:
            st.error(f"Class: {e}")


def _teacher(page: PageRun, c: dict[str, Any], lesson: Lesson | None, stop_index: int) -> None:
    s = store()
    code = c["code"]
    st.markdown(f"**👩‍🏫 Teaching · class `{format_code(code)}`** · {s.student_count(code)} joined")
    published = (page.page, tuple(sorted(page.state().to_query().items())), stop_index)
    if c.get("published") != published:
        s.publish_state(code, c["key"], page.page, dict(published[1]), stop_index)
        c["published"] = published
    base = (st.context.url or "http://localhost:8501/").split("?")[0]
    link = student_link(base, code)
    with st.expander("Student link · QR code"):
        st.code(link, language=None, wrap_lines=True)
        st.image(qr_png(link, scale=6), caption=f"or type the code {format_code(code)} on Home")
    if lesson is not None and lesson.stops[stop_index].question is not None:
        question = lesson.stops[stop_index].question
        qid = lesson.question_id(stop_index)
        s.register_question(code, c["key"], qid, rule_of(question))
        _room(code, c["key"], qid, question)
    if st.button("End the class", key="class_end", help="students are told; answers deleted"):
        s.end_class(code, c["key"])
        leave()
        st.rerun()


@st.fragment(run_every=TALLY_POLL_S)
def _room(code: str, key: str, qid: str, question) -> None:
    """The room's answers, live (only this part reruns), and Reveal / Ask again."""
    s = store()
    try:
        tally = s.tally(code, qid, key)
    except ClassError as e:
        st.caption(f"Class: {e}")
        return
    st.markdown(f"**The room's answers** ({tally.total}) · true answer hidden from students")
    _show_tally(tally)
    st.caption(f"answer: {question.answer}")
    if tally.revealed:
        st.success("Revealed to everyone.")
        if st.button("Ask again", key=f"class_reset_{qid}"):
            s.reset_question(code, key, qid)
            st.rerun(scope="fragment")
    elif st.button("Reveal", key=f"class_reveal_{qid}", type="primary"):
        s.reveal(code, key, qid)
        st.rerun(scope="fragment")


def _show_tally(tally) -> None:
    import pandas as pd

    if isinstance(tally, ChoiceTally):
        st.bar_chart(pd.Series(dict(tally.counts), name="answers"), height=160, horizontal=True)
    elif tally.total:
        st.caption(
            f"median {tally.median:g} · middle half {tally.q1:g} to {tally.q3:g} · "
            f"range {tally.minimum:g} to {tally.maximum:g}"
        )
        st.bar_chart(pd.Series(tally.values, name="answer").value_counts().sort_index(), height=160)


def _student(page: PageRun, c: dict[str, Any], lesson: Lesson | None, stop_index: int) -> None:
    code = c["code"]
    st.markdown(f"**🎓 Class `{format_code(code)}`**")
    follow = st.toggle(
        "Follow the teacher",
        value=c.get("follow", True),
        key="class_follow",
        help="Off: explore on your own; the teacher's changes wait until you follow again.",
    )
    if follow != c.get("follow", True):
        c["follow"] = follow
        c["seen"] = -1  # following again: catch up with the teacher now
    _poll(page.page, tuple(sorted(page.state().to_query().items())))
    if st.button("Leave the class", key="class_leave"):
        leave()
        st.rerun()


@st.fragment(run_every=FOLLOW_POLL_S)
def _poll(page_name: str, shown: tuple) -> None:
    """Poll the teacher's version; when it moved and this student follows, apply the teacher's
    whole state (a page switch) or rerun for a new stop or a reveal."""
    c = current()
    if c is None:
        return
    try:
        state = store().get_state(c["code"])
    except ClassNotFound:
        st.session_state[f"{KEEP}class_ended"] = True
        leave()
        st.rerun(scope="app")
    except ClassError as e:
        st.caption(f"Class: {e}")
        return
    if state.version == c.get("seen"):
        return
    if not c.get("follow", True):
        st.caption("The teacher has moved on: turn on *Follow the teacher* to catch up.")
        return
    c["seen"] = state.version
    from ui import lesson as running_lesson

    run = st.session_state.get(running_lesson.RUNNING)
    if run is not None:
        run["stop"] = state.stop
    if state.page and (state.page != page_name or tuple(sorted(state.state.items())) != shown):
        st.session_state[APPLY] = state.page
        st.switch_page(PAGE_FILES[state.page], query_params=dict(state.state))
    st.rerun(scope="app")


# ---- questions inside the lesson card -------------------------------------------------------
def class_question(lesson: Lesson, index: int, question) -> bool:
    """In a class, the lesson card's question goes to the room. Returns True when it handled
    the question (the card shows nothing more), False outside a class."""
    c = current()
    if c is None:
        return False
    if c["role"] == "teacher":
        st.markdown(f"**❓ {question.prompt}**")
        st.caption("The room answers on their devices; the tally and Reveal are below.")
        return True
    s = store()
    qid = lesson.question_id(index)
    try:
        mine = s.get_answer(c["code"], c["student"], qid)
        revealed = s.is_revealed(c["code"], qid)
    except ClassError as e:
        st.error(f"Class: {e}")
        return True
    st.markdown(f"**❓ {question.prompt}**")
    if revealed:
        tally = s.tally(c["code"], qid)
        if mine is None:
            st.info(f"The answer: **{question.answer}**.")
        elif question.is_right(mine):
            st.success(f"You said {mine}: right, the answer is {question.answer}.")
        else:
            st.warning(f"You said {mine}; the answer is {question.answer}.")
        st.markdown(question.explanation)
        st.markdown(f"**The room** ({tally.total} answers)")
        _show_tally(tally)
        return True
    key = f"class_answer_{qid}"
    if question.kind == "choice":
        given = st.radio("Your prediction", list(question.options), index=None, key=key)
    else:
        given = st.number_input(
            f"Your prediction ({question.minimum:g} to {question.maximum:g})",
            min_value=question.minimum,
            max_value=question.maximum,
            value=None,
            key=key,
        )
    if st.button("Commit", key=f"{key}_go", disabled=given is None, type="primary"):
        try:
            s.submit_answer(c["code"], c["student"], qid, given)
            mine = given
        except ClassError as e:
            st.error(str(e))
    if mine is None:
        st.caption("Commit a prediction to see the result on the page.")
        hide_results()
    else:
        st.caption(f"Committed: {mine}. Waiting for the teacher to reveal the answer.")
    return True


def hide_results() -> None:
    """Predict, then reveal: the page's figures stay hidden until the student commits."""
    st.html(
        "<style>section.stMain [data-testid='stPlotlyChart'], section.stMain "
        "[data-testid='stImage'], section.stMain [data-testid='stDataFrame'] "
        "{ visibility: hidden; }</style>"
    )


# ---- links that hide or lock controls -------------------------------------------------------
def shape_controls(page: PageRun) -> None:
    """Hide or lock the controls a link names (`?hide=damage,compare&lock=observed`)."""
    shape = st.session_state.get(SHAPE)
    if not shape:
        return
    hidden = [k for f in shape.get("hide", []) for k in page.keys.get(f, [])]
    locked = [k for f in shape.get("lock", []) for k in page.keys.get(f, [])]
    css = ""
    if hidden:
        css += ", ".join(f".st-key-{k}" for k in hidden) + " { display: none; } "
    if locked:
        css += ", ".join(f".st-key-{k}" for k in locked) + (
            " { pointer-events: none; opacity: 0.6; } "
        )
    if css:
        st.html(f"<style>{css}</style>")


def link_builder(page: PageRun) -> str:
    """The view's link with the chosen controls hidden or locked (in the link box)."""
    fields = [f for f in page.keys if page.keys[f]]
    if not fields:
        return page.link()
    hide = st.multiselect("Hide for students", fields, key=f"shape_hide_{page.page}")
    lock = st.multiselect(
        "Lock for students", [f for f in fields if f not in hide], key=f"shape_lock_{page.page}"
    )
    link = page.link()
    sep = "&" if "?" in link else "?"
    extra = "&".join(
        f"{what}={','.join(names)}" for what, names in (("hide", hide), ("lock", lock)) if names
    )
    return f"{link}{sep}{extra}" if extra else link
