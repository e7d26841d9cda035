"""A live class under load, and its faults, against one real Streamlit server.

The teacher and every student are headless browser tabs (tests/st_client.LiveSession): they
speak the browser's protocol, follow the server's page switches and URL, and run the polling
fragment's `run_every` timer as the browser does, so the students follow the teacher with no
help from the test. A browser per student would spend the two cores on drawing.

Load: one teacher and STUDENTS students go through a four-stop lesson (two questions of each
kind) on the tiny zoo. At each stop every student answers at a random moment within
ANSWER_WINDOW_S (a quarter change their mind and answer again), while the teacher moves a
control; then the teacher checks the room's answers and reveals, and moves on. Checked:

- no answer lost or double-counted: the store's answers, and the count on the teacher's page,
  equal the last answer each student committed;
- following: for every teacher change (join, next stop, a control moved, reveal), the time
  until each student's page shows the teacher's state (same page, same URL state, same stop,
  the reveal) after the teacher's own page showed it: p95 <= FOLLOW_P95_S;
- a student's own actions (pick an answer, commit) complete within RERUN_P95_S at p95.

Faults: the server killed (SIGKILL) and restarted mid-class on the same SQLite file: every
committed answer is still counted, and the students' tabs reconnect and rejoin the class at the
teacher's state; Redis stopped mid-class: the pages say "class store unavailable", a student's
page keeps working, and the class resumes when Redis is back.

The figures go to results/class_load.json with MMVIZ_RECORD=1 (the README quotes them). CI
runs MMVIZ_CLASS_STUDENTS students (default 6: the class test takes about 80 s, the two fault
tests about 30 s each), which one process serves within the targets on the 2-core VM. The
recorded runs use 40 (MMVIZ_CLASS_STUDENTS=40, also with MMVIZ_CLASS_REPLICAS=2: two app
processes sharing the SQLite file) and 8 and 16, and 40 does not meet the targets: see the
README's "Operating it".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import random
import sqlite3
import tempfile
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.st_client import Finish, LiveSession
from ui.browser import ROOT, streamlit_server

STUDENTS = int(os.environ.get("MMVIZ_CLASS_STUDENTS", "6"))
CKPT = os.environ.get("MMVIZ_CLASS_CKPT", "mvae_tiny5")  # or a shipped generative one
REPLICAS = int(os.environ.get("MMVIZ_CLASS_REPLICAS", "1"))  # app processes sharing the store
ANSWER_WINDOW_S = 10.0
CHANGE_AT_S = 5.0  # the teacher moves a control while the room answers
JOIN_WITHIN_S = 5.0  # students arrive spread over this many seconds
FOLLOW_P95_S = 2.0
RERUN_P95_S = 1.0
REACH_TIMEOUT_S = 30.0  # a student that has not followed by then counts as never
RESULTS = (
    ROOT / "results" / "class_load.json"
    if os.environ.get("MMVIZ_RECORD") == "1"
    else Path(tempfile.gettempdir()) / "mmviz_class_load.json"
)

pytestmark = pytest.mark.slow  # about 2.5 minutes in all; run by .ci/run (make test)

LESSON_ID = "load"


def lesson_text(ckpt: str) -> str:
    """Four stops on two pages, a question at each: what a class does with the app."""
    return f"""
title = "Load lesson"
audience = "a test"
duration = 10
summary = "Four stops, four questions."

[[stops]]
title = "Hide the image"
page = "missing"
prompt = "Untick `hand`."
[stops.state]
ckpt = "{ckpt}"
sample = 2
observed = ["hand", "label"]
[stops.question]
kind = "choice"
prompt = "Which expert is left besides the prior?"
options = ["hand", "label"]
answer = "label"
explanation = "Only the label is observed."

[[stops]]
title = "Move one dimension"
page = "traversal"
prompt = "Look at the rows."
[stops.state]
ckpt = "{ckpt}"
steps = 4
mode = "grid"
[stops.question]
kind = "number"
prompt = "How many steps per row?"
min = 2
max = 15
answer = 4
explanation = "The stop set four steps."

[[stops]]
title = "Three modalities"
page = "missing"
prompt = "Untick `print`."
[stops.state]
ckpt = "{ckpt}"
sample = 7
observed = ["hand", "print", "label"]
[stops.question]
kind = "choice"
prompt = "Which modality is easiest to reconstruct?"
options = ["hand", "print", "label"]
answer = "label"
explanation = "A label is one of ten."

[[stops]]
title = "A longer row"
page = "traversal"
prompt = "Count again."
[stops.state]
ckpt = "{ckpt}"
steps = 5
mode = "grid"
[stops.question]
kind = "number"
prompt = "How many steps per row now?"
min = 2
max = 15
answer = 5
explanation = "Five."
"""


# what the teacher does at each stop while the room answers, and the answers' kind
TEACHER_MOVES: list[dict[str, Any]] = [
    {"obs_hand": False},
    {"steps": 6},
    {"obs_print": False},
    {"steps": 8},
]
QUESTIONS: list[tuple[str, Any]] = [
    ("choice", ["hand", "label"]),
    ("number", (2, 15)),
    ("choice", ["hand", "print", "label"]),
    ("number", (2, 15)),
]


# ---- bookkeeping -------------------------------------------------------------------------------
@dataclass
class Event:
    """A teacher change the students must follow: when the teacher acted and when the teacher's
    own page showed the result, and what a student's page must show to count as there."""

    kind: str  # join | next | move | reveal
    stop: int
    clicked: float
    shown: float
    page: str  # URL path (page script hashes differ between replicas)
    params: dict[str, str]
    marker: str  # a text the student's sidebar must show


@dataclass
class StudentLog:
    answers: dict[int, Any] = field(default_factory=dict)  # stop -> last committed answer
    action_s: list[float] = field(default_factory=list)  # pick + commit round trips
    retries: int = 0
    failures: list[str] = field(default_factory=list)
    joined_at: float = 0.0


def reached(f: Finish, e: Event) -> bool:
    """Whether a run that completed left the student's page at event `e`'s state."""
    if f.path != e.page or e.marker not in f.sidebar:
        return False
    return view_params(f.query) == e.params


def view_params(query: str) -> dict[str, str]:
    """The view's parameters in a URL's query (a student's URL also keeps class and student)."""
    return {k: v for k, v in urllib.parse.parse_qsl(query) if k not in ("class", "student")}


def follow_latency(finishes: list[Finish], e: Event) -> float | None:
    """Seconds from the teacher's page showing `e` to the student's page showing it (None:
    never within REACH_TIMEOUT_S). Only runs that started after the teacher acted count."""
    for f in finishes:
        if f.started >= e.clicked and f.at - e.shown <= REACH_TIMEOUT_S and reached(f, e):
            return max(0.0, f.at - e.shown)
    return None


def pct(xs: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(xs), q)), 3) if xs else float("nan")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def record(section: str, data: dict[str, Any]) -> None:
    """Merge `section` into results/class_load.json, with the machine it was measured on."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    old[section] = {**data, "measured": time.strftime("%Y-%m-%d")}
    cores = os.cpu_count()
    old["machine"] = f"{platform.machine()}, {cores} cores, Python {platform.python_version()}"
    RESULTS.write_text(json.dumps(old, indent=2) + "\n")


def stored_answers(db: Path, code: str, question_id: str) -> list[Any]:
    """The answers the SQLite store holds for one question, read behind the app's back."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT answer FROM answers WHERE code = ? AND question_id = ?", (code, question_id)
        ).fetchall()
    return [json.loads(a) for (a,) in rows]


def same_answers(stored: list[Any], sent: list[Any]) -> bool:
    norm = lambda xs: Counter(float(x) if isinstance(x, int | float) else x for x in xs)  # noqa: E731
    return norm(stored) == norm(sent)


# ---- the class -----------------------------------------------------------------------------
class Class:
    """One teacher and `n` students on the server at `url`, going through the load lesson."""

    def __init__(self, url: str | list[str], n: int, db: Path, seed: int = 0) -> None:
        # several URLs: replicas sharing the store; the teacher on the first, the students
        # spread over all (a sticky proxy keeps each tab on one replica)
        self.urls = [url] if isinstance(url, str) else list(url)
        self.url, self.n, self.db = self.urls[0], n, db
        self.rng = random.Random(seed)
        self.teacher = LiveSession(self.url, keep_text=True)
        self.students: list[LiveSession] = []
        self.logs: list[StudentLog] = []
        self.events: list[Event] = []
        self.teacher_action_s: list[float] = []
        self.teacher_retries = 0
        self.code = ""
        self.tally_checks: list[dict[str, Any]] = []

    async def teacher_does(
        self, kind: str, stop: int, marker: str, click: str | None = None, **values: Any
    ) -> Event:
        """A teacher action, timed until the teacher's page shows its result."""
        t = self.teacher
        clicked = time.perf_counter()
        act = True
        for attempt in range(3):  # a click the page did not take is made again, as a person would
            if act:
                self.teacher_action_s.append(await t.act(click=click, **values))
            try:
                at = await t.wait(lambda: marker in t.text("sidebar"), 20)
                break
            except TimeoutError:
                if attempt == 2:
                    raise
                act = click is None or click in t.widgets()  # else it was taken: wait on
                self.teacher_retries += act
        e = Event(kind, stop, clicked, at, t.path(), t.params(), marker)
        self.events.append(e)
        return e

    async def start(self) -> None:
        t = self.teacher
        await t.connect()
        await t.wait(lambda: f"teach_{LESSON_ID}" in t.widgets(), 90)
        await t.act(click=f"teach_{LESSON_ID}")
        await t.wait(lambda: "stop 1 of 4" in t.text("sidebar") and "class=" in t.text(), 60)
        link = next(line for line in t.text("sidebar").splitlines() if "class=" in line)
        self.code = link.split("class=")[1].split("&")[0].strip()

    async def join(self, k: int) -> None:
        await asyncio.sleep(self.rng.uniform(0, JOIN_WITHIN_S) if self.n > 1 else 0)
        url = self.urls[k % len(self.urls)]
        s = LiveSession(url, f"class={self.code}", keep_text=True)
        self.students[k] = s
        self.logs[k].joined_at = time.perf_counter()
        await s.connect()

    async def answer(self, k: int, stop: int, value: Any, delay: float) -> None:
        """Student k picks `value` and commits it, `delay` s into the window (again if the
        page did not confirm it, as a person would)."""
        s, log = self.students[k], self.logs[k]
        await asyncio.sleep(delay)
        key = f"class_answer_{LESSON_ID}:{stop}"
        for _attempt in range(3):
            try:
                await s.wait(lambda: key in s.widgets() and f"stop {stop + 1} of" in s.text(), 30)
                log.action_s.append(await s.act(**{key: value}))
                await s.wait(lambda: f"{key}_go" in s.widgets(), 30)
                log.action_s.append(await s.act(click=f"{key}_go"))
            except TimeoutError as e:
                log.failures.append(f"stop {stop + 1}: {e}")
                continue
            if f"Committed: {value}." in s.text("sidebar"):
                log.answers[stop] = value
                return
            log.retries += 1
        log.failures.append(f"stop {stop + 1}: {value!r} not committed: {s.text('sidebar')}")

    def pick(self, stop: int) -> Any:
        kind, spec = QUESTIONS[stop]
        return self.rng.choice(spec) if kind == "choice" else float(self.rng.randint(*spec))

    async def run(self) -> None:
        await self.start()
        self.students = [None] * self.n  # type: ignore[list-item]
        self.logs = [StudentLog() for _ in range(self.n)]
        t = self.teacher
        join = Event("join", 0, time.perf_counter(), 0.0, t.path(), t.params(), "stop 1 of 4")
        await asyncio.gather(*(self.join(k) for k in range(self.n)))
        for stop in range(4):
            marker = f"stop {stop + 1} of 4"
            if stop:
                await self.teacher_does("next", stop, marker, click="lesson_next")
                await asyncio.sleep(1.0)
            tasks = []
            for k in range(self.n):
                first = self.rng.uniform(0.3, ANSWER_WINDOW_S)
                tasks.append(self.answer(k, stop, self.pick(stop), first))
                if self.rng.random() < 0.25:  # a change of mind: the second answer replaces
                    second = self.rng.uniform(first + 2.0, ANSWER_WINDOW_S + 2.0)
                    tasks.append(self.answer(k, stop, self.pick(stop), second))
            answering = asyncio.gather(*tasks)
            await asyncio.sleep(CHANGE_AT_S)
            await self.teacher_does("move", stop, marker, **TEACHER_MOVES[stop])
            await answering
            await self.check_tally(stop)
            qid = f"{LESSON_ID}:{stop}"
            reveal = f"class_reveal_{qid}"
            await self.teacher_does("reveal", stop, "Revealed to everyone.", click=reveal)
            self.events[-1].marker = "**The room** ("
            await asyncio.sleep(3.0)
        join.shown = join.clicked  # joining: measured from each student's arrival instead
        self.join_event = join

    async def check_tally(self, stop: int) -> None:
        """The room's answers: in the store and on the teacher's page, the last answer each
        student committed, once each."""
        qid = f"{LESSON_ID}:{stop}"
        sent = [log.answers[stop] for log in self.logs if stop in log.answers]
        stored = stored_answers(self.db, self.code, qid)
        t = self.teacher
        want = f"**The room's answers** ({len(sent)})"
        try:
            await t.wait(lambda: want in t.text("sidebar"), 10)  # its fragment polls every 2 s
            shown = True
        except TimeoutError:
            shown = False
        self.tally_checks.append(
            {
                "stop": stop + 1,
                "sent": len(sent),
                "stored": len(stored),
                "teacher_shows": shown,
                "same": same_answers(stored, sent),
            }  # fmt: skip
        )

    async def close(self) -> None:
        await asyncio.gather(*(s.close() for s in [self.teacher, *self.students] if s))


# ---- the figures -------------------------------------------------------------------------------
def class_figures(c: Class) -> dict[str, Any]:
    """Follow latencies per kind of teacher change, students' action times, the tallies."""
    latencies: dict[str, list[float]] = {}
    missed: Counter[str] = Counter()
    for s, log in zip(c.students, c.logs, strict=True):
        join = c.join_event
        arrived = Event("join", 0, log.joined_at, log.joined_at, join.page, join.params,
                        join.marker)  # fmt: skip
        for e in [arrived, *c.events]:
            lat = follow_latency(s.finishes, e)
            if lat is None:
                missed[e.kind] += 1
            else:
                latencies.setdefault(e.kind, []).append(lat)
    follows = [x for kind, xs in latencies.items() if kind != "join" for x in xs]
    actions = [x for log in c.logs for x in log.action_s]
    full_runs = [f.at - f.started for s in c.students for f in s.finishes if not f.fragment]
    fragment_runs = [f.at - f.started for s in c.students for f in s.finishes if f.fragment]
    return {
        "follow_p50_s": pct(follows, 50),
        "follow_p95_s": pct(follows, 95),
        "follow_max_s": round(max(follows), 3) if follows else None,
        "follows_measured": len(follows),
        "follows_missed": sum(v for k, v in missed.items() if k != "join"),
        "follow_by_change": {
            k: {"n": len(v), "p50_s": pct(v, 50), "p95_s": pct(v, 95), "missed": missed[k]}
            for k, v in sorted(latencies.items())
        },
        "student_action_p50_s": pct(actions, 50),
        "student_action_p95_s": pct(actions, 95),
        "student_actions": len(actions),
        "answer_retries": sum(log.retries for log in c.logs),
        "answer_failures": [f for log in c.logs for f in log.failures][:5],
        "student_full_run_p50_s": pct(full_runs, 50),
        "student_full_run_p95_s": pct(full_runs, 95),
        "student_full_runs": len(full_runs),
        "poll_fragment_runs": len(fragment_runs),
        "poll_fragment_run_p95_s": pct(fragment_runs, 95),
        "teacher_action_p95_s": pct(c.teacher_action_s, 95),
        "teacher_retries": c.teacher_retries,
        "tallies": c.tally_checks,
        "errors_seen": sorted({e for s in [c.teacher, *c.students] for e in s.errors_seen}),
    }


@pytest.fixture(scope="module")
def class_env(tmp_path_factory) -> dict[str, str]:
    """A tiny zoo (unless MMVIZ_CLASS_CKPT names a shipped checkpoint) and the load lesson."""
    from mmviz.tinyzoo import build_tiny_zoo

    base = tmp_path_factory.mktemp("class_load")
    lessons = base / "lessons"
    lessons.mkdir()
    (lessons / f"{LESSON_ID}.toml").write_text(lesson_text(CKPT), encoding="utf-8")
    env = {
        "MMVIZ_LESSONS": str(lessons),
        "MMVIZ_CLASS_DB": str(base / "classes.sqlite3"),
        "MMVIZ_CLASS_STORE": "",
    }
    if CKPT.endswith("_tiny5"):  # MMVIZ_CLASS_ZOO: a tiny zoo built before, for a quick try
        zoo = os.environ.get("MMVIZ_CLASS_ZOO") or str(base.parent / "tiny_zoo")
        env["MMVIZ_CHECKPOINTS"] = str(build_tiny_zoo(zoo))
    return env


def test_a_class_of_students_follows_the_teacher_and_every_answer_counts(class_env, tmp_path):
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(streamlit_server(env=class_env, log_dir=tmp_path))
            for _ in range(REPLICAS)
        ]
        pids = [s.process.pid for s in servers]
        c = Class([s.url for s in servers], STUDENTS, Path(class_env["MMVIZ_CLASS_DB"]), STUDENTS)
        cpu0, client0, t0 = sum(map(cpu_s, pids)), time.process_time(), time.perf_counter()
        load0 = os.getloadavg()[0]

        async def go() -> None:
            try:
                await c.run()
            finally:
                await c.close()

        asyncio.run(go())
        wall = time.perf_counter() - t0
        server_cpu = sum(map(cpu_s, pids)) - cpu0
    figures = class_figures(c)
    record(
        f"class_{STUDENTS}" + (f"_{REPLICAS}_replicas" if REPLICAS > 1 else ""),
        {
            "students": STUDENTS,
            "replicas": REPLICAS,
            "follow_runs_at_once": _follow_runs(),
            "checkpoint": CKPT,
            "stops": 4,
            "answer_window_s": ANSWER_WINDOW_S,
            "poll_s": _poll_s(),
            "wall_s": round(wall, 1),
            "server_cpu_s": round(server_cpu, 1),
            "server_cpu_share": round(server_cpu / wall, 2),
            "client_cpu_s": round(time.process_time() - client0, 1),
            "load_average_before": round(load0, 2),
            **figures,
        },
    )
    assert not figures["errors_seen"], figures["errors_seen"]
    assert not figures["answer_failures"], figures["answer_failures"]
    for t in figures["tallies"]:
        assert t["same"] and t["sent"] == t["stored"] and t["teacher_shows"], t
    assert figures["follows_missed"] == 0, figures["follow_by_change"]
    assert figures["follow_p95_s"] <= FOLLOW_P95_S, figures
    assert figures["student_action_p95_s"] <= RERUN_P95_S, figures


def _poll_s() -> float:
    from ui.classroom import FOLLOW_POLL_S

    return FOLLOW_POLL_S


def _follow_runs() -> int:
    from ui.classroom import FOLLOW_RUNS_AT_ONCE

    return FOLLOW_RUNS_AT_ONCE


# ---- faults ------------------------------------------------------------------------------------
async def class_at_first_question(url: str, n: int, db: Path | None) -> Class:
    """A teacher and `n` students at stop 1; every student but the last commits an answer."""
    c = Class(url, n, db or Path("/nonexistent"), seed=7)
    await c.start()
    c.students = [None] * n  # type: ignore[list-item]
    c.logs = [StudentLog() for _ in range(n)]
    await asyncio.gather(*(c.join(k) for k in range(n)))
    await asyncio.gather(
        *(c.answer(k, 0, c.pick(0), 0.0) for k in range(n - 1)),
    )
    return c


def at_teacher_state(s: LiveSession, page: str, params: dict[str, str], marker: str) -> bool:
    return s.path() == page and view_params(s.query) == params and marker in s.text()


def test_the_server_killed_mid_class_loses_no_answer_and_students_rejoin(class_env, tmp_path):
    """SIGKILL, not a clean stop: what a crash or an OOM kill does. The answers committed
    before it are in the SQLite file; the students' tabs reconnect to the restarted server,
    which has forgotten their sessions, and their URL (class + student) brings them back to the
    class as the same students at the teacher's state, their answers recognised."""
    import signal

    from ui.browser import free_port

    n = 4
    db = Path(class_env["MMVIZ_CLASS_DB"]).with_name("restart.sqlite3")
    env = {**class_env, "MMVIZ_CLASS_DB": str(db)}
    port = free_port()
    figures: dict[str, Any] = {"students": n}

    async def before(url: str) -> Class:
        c = await class_at_first_question(url, n, db)
        assert not [f for log in c.logs for f in log.failures]
        return c

    with streamlit_server(env=env, port=port, log_dir=tmp_path) as server:
        loop = asyncio.new_event_loop()
        c = loop.run_until_complete(before(server.url))
        committed = {k: log.answers[0] for k, log in enumerate(c.logs) if 0 in log.answers}
        teacher_page, teacher_params = c.teacher.path(), c.teacher.params()
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(10)
        killed = time.perf_counter()
    stored = stored_answers(db, c.code, f"{LESSON_ID}:0")
    figures["committed_before_kill"] = len(committed)
    figures["in_store_after_kill"] = len(stored)
    assert same_answers(stored, list(committed.values())), (stored, committed)

    with streamlit_server(env=env, port=port, log_dir=tmp_path) as server:
        figures["restart_s"] = round(time.perf_counter() - killed, 1)

        async def after() -> None:
            back = time.perf_counter()
            await asyncio.gather(*(s.reconnect() for s in c.students))
            marker = "stop 1 of 4"
            reached = await asyncio.gather(
                *(
                    s.wait(
                        lambda s=s: at_teacher_state(s, teacher_page, teacher_params, marker), 60
                    )
                    for s in c.students
                )
            )
            figures["rejoined_after_s"] = round(max(reached) - back, 2)
            for k, s in enumerate(c.students):
                if k in committed:  # the same student: the page knows the answer
                    await s.wait(lambda s=s, k=k: f"Committed: {committed[k]}." in s.text(), 20)
            last = n - 1  # the one who had not answered can now
            await c.answer(last, 0, "label", 0.0)
            await c.teacher.reconnect()  # the teacher's tab: its session (and key) are gone
            await c.teacher.wait(lambda: bool(c.teacher.text()), 60)
            figures["teacher_still_teaching"] = "Teaching · class" in c.teacher.text("sidebar")
            await c.close()

        loop.run_until_complete(after())
        loop.close()
    assert not [f for log in c.logs for f in log.failures], [log.failures for log in c.logs]
    stored = stored_answers(db, c.code, f"{LESSON_ID}:0")
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        students = conn.execute(
            "SELECT COUNT(*) FROM students WHERE code = ?", (c.code,)
        ).fetchone()
    figures["in_store_at_end"] = len(stored)
    figures["student_ids_at_end"] = students[0]
    record("restart_sqlite", figures)
    assert same_answers(stored, [*committed.values(), "label"]), stored
    assert students[0] == n, f"{students[0]} student ids for {n} students: someone joined anew"
    assert not {e for s in c.students for e in s.errors_seen}


# -- Redis, stopped and started again ------------------------------------------------------------
class RedisServer:
    """A redis-server on a loopback port that can be stopped and started again on the same
    port, keeping its data (append-only file), as a managed Redis restarting would."""

    def __init__(self, folder: Path) -> None:
        import shutil

        from ui.browser import free_port

        binary = shutil.which("redis-server")
        if binary is None:
            reason = "redis-server is not installed (apt-get install redis-server; .ci/run does)"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"{reason}; CI=true, so the Redis fault test must run, not skip")
            pytest.skip(reason)
        self.binary, self.folder, self.port = binary, folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: Any = None

    def start(self) -> None:
        import subprocess

        import redis

        log = open(self.folder / "redis.log", "ab")  # noqa: SIM115 - the process holds it
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.folder),
             "--daemonize", "no"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on {self.port}") from None
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        """SIGTERM by its PID (Redis writes its data and exits), then wait for it."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)


def test_redis_stopped_mid_class_says_so_keeps_pages_working_and_resumes(class_env, tmp_path):
    rs = RedisServer(tmp_path)
    rs.start()
    env = {**class_env, "MMVIZ_CLASS_STORE": rs.url}
    figures: dict[str, Any] = {}
    try:
        with streamlit_server(env=env, log_dir=tmp_path) as server:

            async def go() -> None:
                c = await class_at_first_question(server.url, 3, None)
                assert not [f for log in c.logs for f in log.failures]
                student, teacher = c.students[0], c.teacher
                rs.stop()
                down = time.perf_counter()
                said = "class store unavailable"
                seen = await asyncio.gather(
                    student.wait(lambda: said in student.text("sidebar"), 20),
                    teacher.wait(lambda: said in teacher.text("sidebar"), 20),
                )
                figures["outage_shown_after_s"] = round(max(seen) - down, 2)
                # the page goes on: the student moves a control, a newcomer opens a page
                t = await student.act(obs_label=False)
                figures["student_rerun_during_outage_s"] = round(t, 3)
                assert "plotly_chart" in {e.WhichOneof("type") for e in student.elements("main")}
                async with LiveSession(server.url, "ckpt=mvae_tiny5&i=3", "missing") as alone:
                    await alone.wait(lambda: "obs_hand" in alone.widgets(), 60)
                    t = await alone.act(obs_hand=False)
                    figures["single_user_rerun_during_outage_s"] = round(t, 3)
                    assert not alone.errors(), alone.errors()
                rs.start()
                up = time.perf_counter()
                await asyncio.gather(
                    student.wait(lambda: said not in student.text("sidebar"), 30),
                    teacher.wait(lambda: said not in teacher.text("sidebar"), 30),
                )
                figures["resumed_after_s"] = round(time.perf_counter() - up, 2)
                reveal = f"class_reveal_{LESSON_ID}:0"
                await teacher.wait(lambda: reveal in teacher.widgets(), 30)
                await teacher.act(click=reveal)
                await student.wait(lambda: "**The room** (2 answers)" in student.text(), 30)
                figures["answers_kept"] = True
                figures["errors_seen"] = sorted(
                    {e for s in [teacher, *c.students] for e in s.errors_seen if said not in e}
                )
                await c.close()

            asyncio.run(go())
    finally:
        rs.stop()
    record("redis_outage", figures)
    assert not figures["errors_seen"], figures["errors_seen"]
