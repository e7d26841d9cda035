"""A lesson running in the app: the side card (prompt, question, done-check, Back / Next) and
the moves between stops. The lesson itself (format, validation) is mmviz/lessons.py.

What a session remembers: which lesson, which stop, and the student's answers per stop. Moving
to a stop applies its whole PageState (ui/state.apply_state): the page opens exactly as the
lesson describes, whatever the student had set before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st

from mmviz.lessons import Lesson, LessonError, Stop, load_lesson
from ui.state import KEEP, apply_state

if TYPE_CHECKING:
    from ui.state import PageRun

RUNNING = f"{KEEP}lesson"  # {"path": str, "stop": int, "answers": {stop: answer}}


@st.cache_data(ttl=30, max_entries=64, show_spinner=False)
def _load(path: str, stamp: float) -> Lesson:
    return load_lesson(path)


def cached_lesson(path: str) -> Lesson:
    """The lesson at `path`, re-read when the file changes (a teacher editing it)."""
    from pathlib import Path

    try:
        stamp = Path(path).stat().st_mtime
    except OSError as e:
        raise LessonError(f"{path}: cannot be read ({e.strerror or e})") from None
    return _load(path, stamp)


def running() -> tuple[Lesson, int] | None:
    """The lesson this session runs and its current stop, or None."""
    run = st.session_state.get(RUNNING)
    if not run:
        return None
    try:
        lesson = cached_lesson(run["path"])
    except LessonError as e:
        st.session_state.pop(RUNNING, None)
        st.error(f"The lesson stopped: {e}")
        return None
    return lesson, min(int(run["stop"]), len(lesson.stops) - 1)


def start(lesson: Lesson, stop: int = 0) -> None:
    """Run `lesson` from `stop` (call from the script, not a callback: it switches page)."""
    st.session_state[RUNNING] = {"path": str(lesson.path), "stop": stop, "answers": {}}
    go_to(lesson, stop)


def go_to(lesson: Lesson, stop: int) -> None:
    st.session_state[RUNNING]["stop"] = stop
    apply_state(lesson.stops[stop].state)


def end() -> None:
    st.session_state.pop(RUNNING, None)


def _answers() -> dict[int, Any]:
    return st.session_state[RUNNING].setdefault("answers", {})


def answer_widget(question, key: str, label: str) -> Any:  # noqa: ANN001 - a lessons.Question
    """The input a question needs: its options as a radio, or a number in its range; None
    until the student picks (used alone and in a class)."""
    if question.kind == "choice":
        return st.radio(label, list(question.options), index=None, key=key)
    return st.number_input(
        f"{label} ({question.minimum:g} to {question.maximum:g})",
        min_value=question.minimum,
        max_value=question.maximum,
        value=None,
        key=key,
    )


def _question(lesson: Lesson, index: int, stop: Stop, page: PageRun) -> None:
    from ui.classroom import class_question

    q = stop.question
    assert q is not None
    if class_question(lesson, index, q, page):  # in a class the question goes to the room
        return
    st.markdown(f"**❓ {q.prompt}**")
    key = f"lesson_answer_{lesson.id}_{index}"
    given = answer_widget(q, key, "Your answer")
    if st.button("Answer", key=f"{key}_go", disabled=given is None):
        _answers()[index] = given
    if index in _answers():
        mine = _answers()[index]
        if q.is_right(mine):
            st.success(f"Right: {q.answer}.")
        else:
            st.warning(f"You said {mine}; the answer is {q.answer}.")
        st.markdown(q.explanation)


def lesson_card(page: PageRun, slot: Any) -> None:
    """The running lesson's card in `slot` (a container at the top of the sidebar)."""
    now = running()
    if now is None:
        return
    lesson, index = now
    stop = lesson.stops[index]
    with slot.container(border=True, key="lesson_card"):
        st.caption(f"📘 {lesson.title} · stop {index + 1} of {len(lesson.stops)}")
        st.progress((index + 1) / len(lesson.stops))
        st.markdown(f"#### {stop.title}")
        if stop.page != page.page:
            st.info(f"This stop is on another page ({stop.page}).")
            if st.button("Back to the lesson's view", key="lesson_return"):
                go_to(lesson, index)
        st.markdown(stop.prompt)
        if stop.check is not None:
            done = stop.page == page.page and stop.check.done(page.state())
            mark = "✅ done:" if done else "⬜ to do:"
            st.markdown(f"{mark} {stop.check.says}", help="checked on the page's current state")
        if stop.notice:
            with st.expander("What to notice", expanded=stop.question is None):
                st.markdown(stop.notice)
        if stop.question is not None:
            _question(lesson, index, stop, page)
        from ui.classroom import is_student_following

        if is_student_following():  # the teacher moves the class
            st.caption("The teacher moves the class from stop to stop.")
            return
        back, step, leave = st.columns(3)
        if back.button("◀ Back", key="lesson_back", disabled=index == 0):
            go_to(lesson, index - 1)
        last = index == len(lesson.stops) - 1
        if step.button("Next ▶" if not last else "Finish", key="lesson_next", type="primary"):
            if last:
                end()
                st.switch_page("pages/home.py")
            go_to(lesson, index + 1)
        if leave.button("End", key="lesson_end", help="leave the lesson; the page stays"):
            end()
            st.rerun()
    if stop.page == page.page and stop.focus:
        dim_other_controls(page, stop.focus)


def dim_other_controls(page: PageRun, focus: tuple[str, ...]) -> None:
    """Fade the controls this stop does not use, so the one that matters stands out (they
    still work)."""
    keys = [k for f, ks in page.keys.items() if f not in focus for k in ks]
    if not keys:
        return
    css = ", ".join(f".st-key-{k}" for k in keys)
    st.html(f"<style>{css} {{ opacity: 0.35; }}</style>")
