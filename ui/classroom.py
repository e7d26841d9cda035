"""A live class in the app: the teacher's card (code, student link, QR, the room's answers,
Reveal), the student's card (follow the teacher, break away, commit an answer), and links that
hide or lock controls. The store behind it (codes, keys, answers) is mmviz/classroom/.

Session state (per browser session): `_mmviz_keep_class` = {"code", "role": "teacher" |
"student", "key" (teacher only), "student" (student id), "follow", "seen" (the teacher's
version this page shows), "want"/"retries" (a page switch asked for, see `follow`),
"catch_up" (the next run applies the teacher's change: `follow_gate`), "pending"/"published"
(the teacher's view to publish, see `_sync`)}. The teacher key lives only in the teacher's
session; the student link holds the code alone.

Following: the teacher's session publishes its page's `PageState` when it changes; each
student's page polls the store's version number every FOLLOW_POLL_S seconds in a fragment
(only that fragment reruns) and, when the teacher moved, applies the teacher's whole state. At
a stop with a question the question itself is that fragment: picking and committing an answer,
and the teacher's reveal, rerun only the question, never the page. The page runs a teacher's
change sets off (one per student, all at once) queue at `follow_gate`, a few at a time. With
40 students on one process every full-page run counts: tests/test_class_load.py measures it.

A student's URL keeps `class=CODE&student=ID` beside the view: a tab that reconnects after the
server restarted (a new server session, which remembers nothing) rejoins the same class as the
same student, so an answer already committed is neither lost nor counted twice.

When the store cannot be reached (`StoreUnavailable`: Redis stopped, the SQLite file locked or
gone) the class's parts say so and the page goes on; for RETRY_S seconds after such a failure
calls fail at once instead of waiting on the store again (`store()` wraps it), then it is
tried again: the class resumes by itself when the store is back.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

import streamlit as st

from mmviz.classroom import (
    ChoiceRule,
    ChoiceTally,
    ClassError,
    ClassNotFound,
    NumberRule,
    StoreUnavailable,
    format_code,
    new_student_id,
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
RETRY_S = 3.0  # after the store failed, calls fail at once for this long, then it is tried again
LINK_PARAMS = ("class", "student")  # what a student's URL keeps beside the view
FOLLOW_RUNS_AT_ONCE = int(os.environ.get("MMVIZ_FOLLOW_RUNS", "2"))
_FOLLOW_GATE = threading.BoundedSemaphore(max(1, FOLLOW_RUNS_AT_ONCE))


class _FailFast:
    """The store, failing at once with StoreUnavailable for RETRY_S seconds after a call found
    it unavailable. Without this every class part of every page run would wait on a dead store
    again (up to the Redis client's timeouts, seconds on an unreachable host) and the pages
    would stall with it; the class is extra, the page must go on."""

    def __init__(self, inner: ClassStore) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._where = ""

    def __repr__(self) -> str:
        return f"_FailFast({self._inner!r})"

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                left = self._down_until - time.monotonic()
            if left > 0:
                raise StoreUnavailable(self._where, f"not answering; next try in {left:.0f} s")
            try:
                return attr(*args, **kwargs)
            except StoreUnavailable as e:
                with self._lock:
                    self._down_until = time.monotonic() + RETRY_S
                    self._where = e.where
                raise

        return call


@st.cache_resource(show_spinner=False)
def _open() -> _FailFast:
    return _FailFast(open_store())


def store() -> ClassStore:
    """One store per server process (SQLite file or Redis, from the environment), failing fast
    while it is unavailable (see `_FailFast`). A Redis connection that broke is made again by
    the client on the next call, so the cached object outlives an outage."""
    return cast("ClassStore", _open())


def _trouble(e: ClassError, where: str = "Class") -> None:
    """Show a class error where it happened: an unavailable store as a warning that says the
    page still works, anything else as the error's own message."""
    if isinstance(e, StoreUnavailable):
        st.warning(f"⚠️ {e}", icon=None)
    else:
        st.error(f"{where}: {e}")


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


def join(code_text: str, student: str | None = None) -> str | None:
    """Join class `code_text` as a student; returns an error message or None. `student`: the id
    the URL kept (a tab reconnecting after a restart), used unless this session has its own."""
    from mmviz.classroom.codes import check_student_id
    from mmviz.paths import lessons_root
    from ui import lesson as running_lesson

    try:
        s = store()
        info = s.class_info(code_text)
        mine = current()
        if mine and mine.get("code") == info.code:
            student = mine["student"]
        elif student is not None:
            try:
                student = check_student_id(student)
            except ClassError:
                student = None  # a mangled link: join as someone new
        student = s.join(info.code, student or new_student_id())
    except ClassNotFound as e:
        st.session_state[f"{KEEP}class_gone"] = True  # read_link_params: drop the stale link
        return str(e)
    except ClassError as e:
        return str(e)
    path = lessons_root() / f"{info.lesson_id}.toml"
    try:
        running_lesson.cached_lesson(str(path))  # refuse a class whose lesson cannot open here
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
    return None


def leave() -> None:
    """Leave the class (or it ended): the URL forgets it too, or the next run would rejoin."""
    from ui import lesson as running_lesson

    st.session_state.pop(CLASS, None)
    running_lesson.end()
    for name in LINK_PARAMS:
        if name in st.query_params:
            del st.query_params[name]


def read_link_params() -> None:
    """app.py, every run: `?class=CODE` joins (once per session; with `student=ID` as that
    student again), `?hide=`/`?lock=` shape the controls."""
    if st.session_state.pop(f"{KEEP}class_ended", False):
        st.info("The class has ended (the teacher closed it). You can keep exploring.")
    code = st.query_params.get("class")
    if code and (current() or {}).get("code", "").upper() != code.replace("-", "").upper():
        problem = join(code, st.query_params.get("student"))
        if problem:
            st.error(problem)
        if st.session_state.pop(f"{KEEP}class_gone", False):  # a stale link: try it once
            for name in LINK_PARAMS:
                if name in st.query_params:
                    del st.query_params[name]
    for what in ("hide", "lock"):
        raw = st.query_params.get(what)
        if raw is not None:
            shape = st.session_state.setdefault(SHAPE, {"hide": [], "lock": []})
            shape[what] = [f for f in raw.split(",") if f.strip()]


@contextlib.contextmanager
def follow_gate(timeout_s: float = 10.0) -> Iterator[None]:
    """app.py wraps each page run in this. A student's run that applies the teacher's new state
    waits here until fewer than FOLLOW_RUNS_AT_ONCE such runs are going (never longer than
    `timeout_s`). A teacher's change sets off one page run per student at once; run all
    together, 40 script threads share one interpreter lock and the teacher's own run (and any
    other user's) crawls among them. Queued, they take the same total time, the first students
    are there sooner, and everyone else's runs go on at their usual speed."""
    c = current()
    gated = bool(c and c.get("role") == "student" and c.pop("catch_up", False))
    got = gated and _FOLLOW_GATE.acquire(timeout=timeout_s)
    try:
        yield
    finally:
        if got:
            _FOLLOW_GATE.release()


# ---- the page's part ------------------------------------------------------------------------
def _shown(page: PageRun) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(page.state().to_query().items()))


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
            _trouble(e)


def _teacher(page: PageRun, c: dict[str, Any], lesson: Lesson | None, stop_index: int) -> None:
    code = c["code"]
    st.markdown(f"**👩‍🏫 Teaching · class `{format_code(code)}`**")
    question = lesson.stops[stop_index].question if lesson is not None else None
    qid = lesson.question_id(stop_index) if lesson is not None and question else None
    c["pending"] = (page.page, _shown(page), stop_index, qid, question)
    try:
        _sync(c)
    except ClassNotFound:
        raise
    except ClassError as e:  # the room's panel below retries, the page goes on
        _trouble(e)
    base = (st.context.url or "http://localhost:8501/").split("?")[0]
    link = student_link(base, code)
    with st.expander("Student link · QR code"):
        st.code(link, language=None, wrap_lines=True)
        st.image(qr_png(link, scale=6), caption=f"or type the code {format_code(code)} on Home")
    if qid is not None:
        _room(code, c["key"], qid, question)
    else:
        _joined(code)
    if st.button("End the class", key="class_end", help="students are told; answers deleted"):
        store().end_class(code, c["key"])
        leave()
        st.rerun()


def _sync(c: dict[str, Any]) -> None:
    """Publish the teacher's view and open the stop's question, unless that is done already.
    Called by the teacher's page run and again by the room's panel, which polls: a change the
    teacher made while the store was unavailable reaches the students when it is back, without
    the teacher having to touch anything."""
    want = c.get("pending")
    if want is None or c.get("published") == want:
        return
    page_name, shown, stop, qid, question = want
    s = store()
    s.publish_state(c["code"], c["key"], page_name, dict(shown), stop)
    if qid is not None:
        s.register_question(c["code"], c["key"], qid, rule_of(question))
    c["published"] = want


@st.fragment(run_every=TALLY_POLL_S)
def _joined(code: str) -> None:
    """How many joined, live (only this line reruns)."""
    try:
        _sync(current() or {})
        st.caption(f"{store().student_count(code)} joined")
    except ClassError as e:
        _trouble(e)


def _teacher_action(action: Callable[..., None], *args: Any) -> None:
    """A Reveal / Ask again button's callback: runs before the fragment redraws, so the room's
    panel shows the result without a second rerun; a refusal is shown in the panel."""
    try:
        action(*args)
    except ClassError as e:
        st.session_state[f"{KEEP}class_problem"] = e


@st.fragment(run_every=TALLY_POLL_S)
def _room(code: str, key: str, qid: str, question) -> None:
    """The room's answers, live (only this part reruns), and Reveal / Ask again."""
    problem = st.session_state.pop(f"{KEEP}class_problem", None)
    if problem is not None:
        _trouble(problem)
    s = store()
    try:
        _sync(current() or {})
        joined = s.student_count(code)
        tally = s.tally(code, qid, key)
    except ClassError as e:
        _trouble(e)
        return
    st.markdown(f"**The room's answers** ({tally.total}) · {joined} joined · true answer hidden")
    _show_tally(tally)
    st.caption(f"answer: {question.answer}")
    if tally.revealed:
        st.success("Revealed to everyone.")
        st.button(
            "Ask again",
            key=f"class_reset_{qid}",
            on_click=_teacher_action,
            args=(s.reset_question, code, key, qid),
        )
    else:
        st.button(
            "Reveal",
            key=f"class_reveal_{qid}",
            type="primary",
            on_click=_teacher_action,
            args=(s.reveal, code, key, qid),
        )


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
    asks = lesson is not None and lesson.stops[stop_index].question is not None
    if not asks:  # at a question the question's own fragment polls (class_question)
        _poll(page.page, _shown(page), stop_index)
    if st.button("Leave the class", key="class_leave"):
        leave()
        st.rerun()


@st.fragment(run_every=FOLLOW_POLL_S)
def _poll(page_name: str, shown: tuple, stop_shown: int) -> None:
    """Poll the teacher (only this fragment reruns, see `follow`)."""
    try:
        follow(page_name, shown, stop_shown)
    except ClassError as e:
        _trouble(e)


def follow(page_name: str, shown: tuple, stop_shown: int) -> None:
    """Read the teacher's version; when it moved and this student follows, apply the teacher's
    whole state (a page switch, with `class` and `student` kept in the URL) or rerun the page
    for a new stop. A version that moved without either (a reveal, a question opened or asked
    again) needs no page rerun: the question's fragment, which calls this, redraws itself.

    `page_name`, `shown`, `stop_shown`: what the page's last full run showed. A switch can be
    lost (the student's own click, sent from the old page, overtakes it): the next call sees
    the page is not the one asked for and switches again, at most three times per version.
    """
    c = current()
    if c is None:
        return
    try:
        state = store().get_state(c["code"])
    except ClassNotFound:
        st.session_state[f"{KEEP}class_ended"] = True
        leave()
        st.rerun(scope="app")
    want = c.get("want")
    if want is not None:
        if want == (page_name, shown):
            c.pop("want")
            c["retries"] = 0
        elif c.get("retries", 0) < 3:
            c["retries"] = c.get("retries", 0) + 1
            c["seen"] = -1  # the switch did not happen: do it again
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
    target = tuple(sorted(state.state.items()))
    if state.page and (state.page != page_name or target != shown):
        c["want"] = (state.page, target)
        c["catch_up"] = True  # the run this starts queues at follow_gate
        st.session_state[APPLY] = state.page
        params = {**state.state, "class": c["code"], "student": c["student"]}
        st.switch_page(PAGE_FILES[state.page], query_params=params)
    if run is not None and state.stop != stop_shown:
        c["catch_up"] = True
        st.rerun(scope="app")


# ---- questions inside the lesson card -------------------------------------------------------
def class_question(lesson: Lesson, index: int, question, page: PageRun) -> bool:
    """In a class, the lesson card's question goes to the room. Returns True when it handled
    the question (the card shows nothing more), False outside a class."""
    c = current()
    if c is None:
        return False
    if c["role"] == "teacher":
        st.markdown(f"**❓ {question.prompt}**")
        st.caption("The room answers on their devices; the tally and Reveal are below.")
        return True
    _question(lesson.question_id(index), question, page.page, _shown(page), index)
    return True


@st.fragment(run_every=FOLLOW_POLL_S)
def _question(qid: str, question, page_name: str, shown: tuple, stop_shown: int) -> None:
    """A student's question: predict, commit, and after the teacher's reveal the answer and the
    room's tally. A fragment that also follows the teacher (`follow`): picking, committing and
    a reveal rerun only this, not the page."""
    c = current()
    if c is None:
        return
    s = store()
    try:
        follow(page_name, shown, stop_shown)
        mine = s.get_answer(c["code"], c["student"], qid)
        revealed = s.is_revealed(c["code"], qid)
    except ClassError as e:
        _trouble(e)
        hide_results()
        return
    st.markdown(f"**❓ {question.prompt}**")
    if revealed:
        try:
            tally = s.tally(c["code"], qid)
        except ClassError as e:
            _trouble(e)
            return
        if mine is None:
            st.info(f"The answer: **{question.answer}**.")
        elif question.is_right(mine):
            st.success(f"You said {mine}: right, the answer is {question.answer}.")
        else:
            st.warning(f"You said {mine}; the answer is {question.answer}.")
        st.markdown(question.explanation)
        st.markdown(f"**The room** ({tally.total} answers)")
        _show_tally(tally)
        return
    key = f"class_answer_{qid}"
    from ui.lesson import answer_widget

    given = answer_widget(question, key, "Your prediction")
    if st.button("Commit", key=f"{key}_go", disabled=given is None, type="primary"):
        try:
            s.submit_answer(c["code"], c["student"], qid, given)
            mine = given
        except ClassError as e:
            _trouble(e)
    if mine is None:
        st.caption("Commit a prediction to see the result on the page.")
        hide_results()
    else:
        st.caption(f"Committed: {mine}. Waiting for the teacher to reveal the answer.")


def hide_results() -> None:
    """Predict, then reveal: the page's figures stay hidden until the student commits.

    The main area is `[data-testid="stMain"]` (a <main> in Streamlit 1.67, no longer the
    <section> it was). The style comes with an empty element: style-only HTML goes to
    Streamlit's event container, which a fragment's rerun does not clear, so the figures would
    stay hidden after the commit; with the element it lives where the question's fragment drew
    it and goes with it. tests/test_browser_class.py checks the figures' computed visibility."""
    main = '[data-testid="stMain"]'
    figures = ", ".join(
        f"{main} [data-testid='{kind}']" for kind in ("stPlotlyChart", "stImage", "stDataFrame")
    )
    st.html(f"<style>{figures} {{ visibility: hidden; }}</style><span></span>")


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
