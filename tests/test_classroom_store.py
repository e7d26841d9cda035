"""The live-class store (mmviz.classroom): one suite run against SQLite and a real Redis.

The Redis half starts its own `redis-server` on a free loopback port (no persistence) and stops
it by its PID at the end. Without the binary it skips, except under CI=true (.ci/run installs
it), where a missing server is a failure: CI must never pass by skipping a backend.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mmviz.classroom import (
    ALPHABET,
    CODE_LENGTH,
    CODE_SPACE,
    AnswersHidden,
    ChoiceRule,
    ChoiceTally,
    ClassError,
    ClassNotFound,
    ClassState,
    InvalidAnswer,
    InvalidCode,
    InvalidInput,
    InvalidStudentId,
    NumberRule,
    NumberTally,
    QuestionClosed,
    QuestionNotFound,
    StoreUnavailable,
    WrongTeacherKey,
    format_code,
    new_student_id,
    open_store,
    parse_code,
)
from mmviz.classroom import codes as class_codes
from mmviz.classroom.qr import qr_png, qr_svg, student_link
from mmviz.classroom.redis_store import RedisStore
from mmviz.classroom.sqlite_store import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent
CHOICE = ChoiceRule(("A", "B", "C"))
NUMBER = NumberRule(0, 10)


class FakeClock:
    """The store's clock, moved by hand: expiry without waiting."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# -- a real redis-server -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory):
    """redis://127.0.0.1:PORT/0 of a redis-server started for this test session."""
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "redis-server is not installed (apt-get install redis-server; .ci/run does)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true, so the Redis store tests must run, not skip")
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("redis")
    for _attempt in range(3):  # the free port may be taken before the server binds it
        port = _free_port()
        log = open(folder / f"redis-{port}.log", "wb")  # noqa: SIM115 - closed in the finaliser
        server = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(folder)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while server.poll() is None and time.monotonic() < deadline:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()
        if server.poll() is None and time.monotonic() < deadline:
            break
        _stop(server.pid, server)
        log.close()
    else:
        pytest.fail(f"redis-server did not start; see the logs in {folder}")
    yield url
    _stop(server.pid, server)
    log.close()


def _stop(pid: int, server: subprocess.Popen) -> None:
    """Stop the redis-server this session started, by its PID."""
    if server.poll() is None:
        os.kill(pid, 15)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(pid, 9)
            server.wait(10)


# -- the store under test, per backend -----------------------------------------------------------


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The environment that points open_store() at a fresh, empty store of each kind."""
    if request.param == "sqlite":
        return {"MMVIZ_CLASS_DB": str(tmp_path / "classes.sqlite3"), "MMVIZ_CLASS_STORE": ""}
    url = request.getfixturevalue("redis_url")
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return {"MMVIZ_CLASS_STORE": url}


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture()
def make_store(backend: dict[str, str], clock: FakeClock, monkeypatch: pytest.MonkeyPatch):
    """Opens stores (several may share the backend, like replicas) on the fake clock."""
    for name, value in backend.items():
        monkeypatch.setenv(name, value)
    opened = []

    def make():
        store = open_store(clock=clock)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture()
def store(make_store):
    return make_store()


def raw_contents(store) -> str:
    """Everything the backend holds, as text: to check what is (not) stored."""
    if isinstance(store, SQLiteStore):
        with sqlite3.connect(store.path) as conn:
            return "\n".join(conn.iterdump())
    client = store._redis
    lines = []
    for key in sorted(client.keys("*")):
        kind = client.type(key)
        value = {
            "hash": client.hgetall,
            "set": client.smembers,
            "string": client.get,
        }[kind](key)
        lines.append(f"{key} {value}")
    return "\n".join(lines)


# -- classes, codes and keys ---------------------------------------------------------------------


def test_a_new_class_has_a_code_and_a_separate_teacher_key(store):
    code, key = store.create_class("lesson-1")
    other_code, other_key = store.create_class("lesson-1")
    assert parse_code(code) == code and code != other_code
    assert len(key) >= 43 and key != other_key  # 256 random bits each
    assert code not in key and code.lower() not in key.lower()
    assert store.exists(code) and store.exists(format_code(code).lower())
    info = store.class_info(code)
    assert (info.code, info.lesson_id) == (code, "lesson-1")
    assert info.expires_at - info.created_at == pytest.approx(6 * 3600)
    stored = raw_contents(store)
    assert code in stored and key not in stored  # only the key's hash is kept


def test_the_key_cannot_be_made_from_the_code(store):
    """Nothing computed from the code (or another class's key) opens the class."""
    import hashlib

    code, key = store.create_class("lesson-1")
    _, other_key = store.create_class("lesson-1")
    guesses = [
        code,
        code.lower(),
        format_code(code),
        hashlib.sha256(code.encode()).hexdigest(),
        class_codes.hash_teacher_key(key),  # what the store keeps is not the key either
        other_key,
        key[:-1],
        key + "x",
        "",
    ]
    for guess in guesses:
        with pytest.raises(WrongTeacherKey):
            store.publish_state(code, guess, "page", {}, 0)
    assert store.get_state(code).version == 0
    assert key not in student_link("https://school.example/app", code)


def test_every_teacher_action_refuses_a_wrong_key(store):
    code, key = store.create_class("lesson-1")
    store.register_question(code, key, "q1", CHOICE)
    student = store.join(code)
    store.submit_answer(code, student, "q1", "A")
    for wrong in ("not-the-key", None, 42, "x" * 10_000):
        for action in (
            lambda k: store.publish_state(code, k, "page", {"a": "1"}, 1),
            lambda k: store.register_question(code, k, "q2", CHOICE),
            lambda k: store.reveal(code, k, "q1"),
            lambda k: store.reset_question(code, k, "q1"),
            lambda k: store.end_class(code, k),
            lambda k: store.tally(code, "q1", k if k is not None else "no key given"),
        ):
            with pytest.raises(WrongTeacherKey) as refused:
                action(wrong)
            message = str(refused.value)
            assert f"teacher key for class {code} is wrong" in message
            assert wrong is None or str(wrong) not in message
    # nothing changed
    assert store.get_state(code) == ClassState(1, "", {}, 0)  # 1: the question opened
    assert not store.is_revealed(code, "q1")
    assert store.tally(code, "q1", key).counts == {"A": 1, "B": 0, "C": 0}
    assert store.exists(code)


def test_an_unknown_or_malformed_code_is_refused_with_what_to_do(store):
    assert not store.exists("ABCD2345")
    with pytest.raises(ClassNotFound) as missing:
        store.join("ABCD2345")
    assert str(missing.value) == (
        "class ABCD2345 does not exist or has ended: ask your teacher for the current code"
    )
    for typed in ("ABC", "ABCD-EFG0", "abcd efgi", 12345678, None):
        assert not store.exists(typed)
        with pytest.raises(InvalidCode) as malformed:
            store.join(typed)
        assert "is not a class code" in str(malformed.value)
    with pytest.raises(InvalidCode, match="never use 0, O, 1, I or L"):
        store.join("ABCD-EFG0")


def test_students_join_with_random_ids_and_may_rejoin(store):
    code, key = store.create_class("lesson-1")
    first = store.join(format_code(code).lower())  # as typed from the projector
    second = store.join(code)
    assert first != second and len(first) == 22
    assert store.join(code, first) == first  # a reconnect keeps the id
    assert store.student_count(code) == 2
    for bad in ("short", "x" * 65, "has spaces in it!!", "ünïcödé-ünïcödé-ü", 12345678901234567):
        with pytest.raises(InvalidStudentId, match="student id refused"):
            store.join(code, bad)
    assert store.student_count(code) == 2


# -- following the teacher -----------------------------------------------------------------------


def test_the_state_version_grows_with_each_teacher_action(store):
    code, key = store.create_class("lesson-1")
    assert store.get_state(code) == ClassState(0, "", {}, 0)
    assert store.publish_state(code, key, "MVAE", {"mask": "image", "seed": "3"}, 1) == 1
    assert store.get_state(code) == ClassState(1, "MVAE", {"mask": "image", "seed": "3"}, 1)
    assert store.publish_state(code, key, "MVAE", {"mask": "text"}, 2) == 2
    store.register_question(code, key, "q1", CHOICE)
    assert store.get_state(code).version == 3
    store.register_question(code, key, "q1", CHOICE)  # the same rule again: no change
    assert store.get_state(code).version == 3
    store.reveal(code, key, "q1")
    store.reset_question(code, key, "q1")
    assert store.get_state(code) == ClassState(5, "MVAE", {"mask": "text"}, 2)


@pytest.mark.parametrize(
    ("page", "state", "stop", "complaint"),
    [
        ("p", {"a": 1}, 0, "must be text"),
        ("p", {1: "a"}, 0, "must be text"),
        ("p", ["a"], 0, "mapping"),
        ("p", {"a": "x" * 5000}, 0, "characters"),
        ("p", {f"k{i}": "v" for i in range(201)}, 0, "entries"),
        ("p", {}, -1, "stop"),
        ("p", {}, True, "stop"),
        ("p", {}, 1.5, "stop"),
        (None, {}, 0, "page"),
        ("x" * 201, {}, 0, "page"),
    ],
)
def test_a_malformed_state_is_refused_and_changes_nothing(store, page, state, stop, complaint):
    code, key = store.create_class("lesson-1")
    with pytest.raises(InvalidInput, match=complaint):
        store.publish_state(code, key, page, state, stop)
    assert store.get_state(code).version == 0


# -- questions and answers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "answer", "complaint"),
    [
        (CHOICE, "D", "'D' is not one of the options A, B, C"),
        (CHOICE, "a", "not one of the options"),
        (CHOICE, 1, "int; the answer is one of the options as text"),
        (CHOICE, None, "NoneType"),
        (CHOICE, ["A"], "list"),
        (NUMBER, math.nan, "NaN is not a number: answer a number from 0 to 10"),
        (NUMBER, math.inf, "inf is out of range"),
        (NUMBER, -0.5, "-0.5 is out of range: answer a number from 0 to 10"),
        (NUMBER, 10.0001, "out of range"),
        (NUMBER, 10**400, "out of range"),
        (NUMBER, "5", "'5' is str, not a number"),
        (NUMBER, True, "bool, not a number"),
        (NUMBER, None, "not a number"),
    ],
)
def test_answers_outside_the_rule_are_refused_with_why(store, rule, answer, complaint):
    code, key = store.create_class("lesson-1")
    store.register_question(code, key, "q1", rule)
    student = store.join(code)
    with pytest.raises(InvalidAnswer) as refused:
        store.submit_answer(code, student, "q1", answer)
    assert "answer to question 'q1' refused" in str(refused.value)
    assert complaint in str(refused.value)
    assert store.tally(code, "q1", key).total == 0
    assert store.get_answer(code, student, "q1") is None


@pytest.mark.parametrize(
    ("make_rule", "complaint"),
    [
        (lambda: ChoiceRule(("A",)), "2 to 50 options"),
        (lambda: ChoiceRule(("A", "A")), "repeat"),
        (lambda: ChoiceRule("AB"), "list of texts"),
        (lambda: ChoiceRule(("A", "")), "1 to 200 characters"),
        (lambda: NumberRule(5, 5), "min < max"),
        (lambda: NumberRule(0, math.nan), "finite"),
        (lambda: NumberRule("0", 1), "must be a number"),
    ],
)
def test_malformed_rules_are_refused(make_rule, complaint):
    with pytest.raises(InvalidInput, match=complaint):
        make_rule()


def test_questions_and_ids_are_checked(store):
    code, key = store.create_class("lesson-1")
    with pytest.raises(InvalidInput, match="question id"):
        store.register_question(code, key, "has space", CHOICE)
    with pytest.raises(InvalidInput, match="ChoiceRule or a NumberRule"):
        store.register_question(code, key, "q1", {"options": ["A"]})
    student = store.join(code)
    with pytest.raises(QuestionNotFound, match="has no question 'q9' yet"):
        store.submit_answer(code, student, "q9", "A")
    with pytest.raises(QuestionNotFound):
        store.tally(code, "q9", key)
    with pytest.raises(QuestionNotFound):
        store.reveal(code, key, "q9")
    assert not store.is_revealed(code, "q9")


def test_one_vote_per_student_a_new_answer_replaces_the_old(store):
    code, key = store.create_class("lesson-1")
    store.register_question(code, key, "q1", CHOICE)
    ana, ben = store.join(code), store.join(code)
    store.submit_answer(code, ana, "q1", "A")
    store.submit_answer(code, ana, "q1", "B")
    store.submit_answer(code, ana, "q1", "B")
    store.submit_answer(code, ben, "q1", "C")
    tally = store.tally(code, "q1", key)
    assert tally == ChoiceTally("q1", {"A": 0, "B": 1, "C": 1}, 2, revealed=False)
    assert store.get_answer(code, ana, "q1") == "B"
    assert store.student_count(code) == 2


def test_the_tally_is_hidden_until_the_reveal_then_answers_close(store):
    code, key = store.create_class("lesson-1")
    store.register_question(code, key, "q1", CHOICE)
    student = store.join(code)
    store.submit_answer(code, student, "q1", "C")
    with pytest.raises(AnswersHidden, match="hidden until the teacher reveals them"):
        store.tally(code, "q1")
    assert store.tally(code, "q1", key).counts["C"] == 1  # the teacher sees it live
    assert not store.is_revealed(code, "q1")
    store.reveal(code, key, "q1")
    assert store.is_revealed(code, "q1")
    assert store.tally(code, "q1") == ChoiceTally("q1", {"A": 0, "B": 0, "C": 1}, 1, True)
    with pytest.raises(QuestionClosed, match="has been revealed"):
        store.submit_answer(code, student, "q1", "A")
    store.reset_question(code, key, "q1")
    assert not store.is_revealed(code, "q1")
    assert store.tally(code, "q1", key).total == 0
    assert store.get_answer(code, student, "q1") is None
    store.submit_answer(code, student, "q1", "A")
    assert store.tally(code, "q1", key).counts["A"] == 1


def test_a_number_question_gives_the_spread(store):
    code, key = store.create_class("lesson-1")
    store.register_question(code, key, "guess", NUMBER)
    empty = store.tally(code, "guess", key)
    assert empty == NumberTally("guess", (), 0, False, None, None, None, None, None)
    answers = [7, 1.5, 3, 10, 0, 4.25, 9]
    for answer in answers:
        store.submit_answer(code, store.join(code), "guess", answer)
    tally = store.tally(code, "guess", key)
    assert tally.values == tuple(sorted(float(a) for a in answers))
    assert (tally.minimum, tally.maximum, tally.total) == (0.0, 10.0, 7)
    assert tally.median == statistics.median(answers) == 4.25
    q1, _, q3 = statistics.quantiles(answers, n=4, method="inclusive")
    assert (tally.q1, tally.q3) == (q1, q3) == (2.25, 8.0)
    one = store.create_class("lesson-1")
    store.register_question(*one, "guess", NUMBER)
    store.submit_answer(one[0], store.join(one[0]), "guess", 2)
    assert store.tally(one[0], "guess", one[1]).median == 2.0


def test_changing_a_rule_starts_the_question_afresh(store):
    code, key = store.create_class("lesson-1")
    store.register_question(code, key, "q1", CHOICE)
    student = store.join(code)
    store.submit_answer(code, student, "q1", "A")
    store.register_question(code, key, "q1", ChoiceRule(("A", "B", "C")))  # same rule
    assert store.tally(code, "q1", key).total == 1
    store.register_question(code, key, "q1", NUMBER)
    assert store.tally(code, "q1", key) == NumberTally(
        "q1", (), 0, False, None, None, None, None, None
    )
    with pytest.raises(InvalidAnswer):
        store.submit_answer(code, student, "q1", "A")


# -- lifetime --------------------------------------------------------------------------------------


def test_an_expired_class_behaves_as_absent_and_is_purged(store, clock):
    code, key = store.create_class("lesson-1", ttl_s=60)
    keep_code, keep_key = store.create_class("lesson-2", ttl_s=3600)
    store.register_question(code, key, "q1", CHOICE)
    student = store.join(code)
    store.submit_answer(code, student, "q1", "A")
    clock.advance(59.9)
    assert store.exists(code)
    clock.advance(0.1)
    assert not store.exists(code)
    for action in (
        lambda: store.join(code),
        lambda: store.class_info(code),
        lambda: store.get_state(code),
        lambda: store.submit_answer(code, student, "q1", "B"),
        lambda: store.get_answer(code, student, "q1"),
        lambda: store.tally(code, "q1", key),
        lambda: store.is_revealed(code, "q1"),
        lambda: store.publish_state(code, key, "p", {}, 0),
        lambda: store.reveal(code, key, "q1"),
        lambda: store.end_class(code, key),
        lambda: store.student_count(code),
    ):
        with pytest.raises(ClassNotFound, match=f"class {code} does not exist or has ended"):
            action()
    assert store.purge_expired() == 1
    contents = raw_contents(store)
    assert code not in contents and student not in contents
    assert store.exists(keep_code) and store.purge_expired() == 0
    for bad_ttl in (0, -1, math.nan, math.inf, 8 * 24 * 3600, "60"):
        with pytest.raises(InvalidInput, match="ttl_s"):
            store.create_class("lesson-1", ttl_s=bad_ttl)


def test_ending_a_class_deletes_what_it_held(store):
    code, key = store.create_class("lesson-1")
    other, _ = store.create_class("lesson-1")
    store.publish_state(code, key, "p", {"a": "b"}, 1)
    store.register_question(code, key, "q1", NUMBER)
    student = store.join(code)
    store.submit_answer(code, student, "q1", 3)
    store.reveal(code, key, "q1")
    store.end_class(code, key)
    assert not store.exists(code) and store.exists(other)
    with pytest.raises(ClassNotFound):
        store.end_class(code, key)
    with pytest.raises(ClassNotFound):
        store.tally(code, "q1")
    contents = raw_contents(store)
    assert code not in contents and student not in contents


def test_another_store_on_the_same_backend_sees_everything(make_store):
    """Replicas, or the app restarted: nothing lives only in one process's memory."""
    first = make_store()
    code, key = first.create_class("lesson-1")
    first.register_question(code, key, "q1", CHOICE)
    student = first.join(code)
    first.submit_answer(code, student, "q1", "B")
    first.publish_state(code, key, "p", {"x": "1"}, 2)
    first.close()
    second = make_store()
    assert second.get_state(code) == ClassState(2, "p", {"x": "1"}, 2)
    assert second.get_answer(code, student, "q1") == "B"
    second.reveal(code, key, "q1")
    assert second.tally(code, "q1").counts == {"A": 0, "B": 1, "C": 0}


# -- concurrency -----------------------------------------------------------------------------------


def test_threads_sharing_a_store_lose_no_answer_or_version(store):
    code, key = store.create_class("lesson-1")
    store.register_question(code, key, "q1", CHOICE)
    students = [[new_student_id() for _ in range(25)] for _ in range(8)]
    errors: list[BaseException] = []

    def answer(ids: list[str]) -> None:
        try:
            for i, student in enumerate(ids):
                store.submit_answer(code, student, "q1", "A")
                store.submit_answer(code, student, "q1", CHOICE.options[i % 3])
        except BaseException as error:  # surfaced below: a thread's failure must fail the test
            errors.append(error)

    def publish() -> None:
        try:
            for i in range(25):
                store.publish_state(code, key, "p", {"i": str(i)}, i)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=answer, args=(ids,)) for ids in students]
    threads += [threading.Thread(target=publish) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    expected = Counter(CHOICE.options[i % 3] for _ in students for i in range(25))
    assert store.tally(code, "q1", key).counts == dict(expected)
    assert store.get_state(code).version == 1 + 4 * 25  # register_question made it 1
    assert store.student_count(code) == 8 * 25


WORKER = """
import sys, time
from mmviz.classroom import open_store

code, worker, students = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
start_at = float(sys.argv[4])
store = open_store()
time.sleep(max(0.0, start_at - time.time()))  # all workers write at the same moment
for i in range(students):
    student = f"worker-{worker:02d}-student-{i:04d}"
    store.submit_answer(code, student, "q1", "A")
    store.submit_answer(code, student, "q1", ("A", "B", "C")[(worker + i) % 3])
print("answered", students)
"""


def test_processes_writing_at_once_lose_no_answer(store, backend):
    """4 processes × 50 students, each answering twice (the second replaces the first)."""
    code, key = store.create_class("lesson-1")
    store.register_question(code, key, "q1", CHOICE)
    workers, students = 4, 50
    env = {**os.environ, **backend, "PYTHONPATH": str(ROOT)}
    start_at = time.time() + 3  # after every interpreter has imported the store
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, code, str(w), str(students), str(start_at)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for w in range(workers)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0] * workers, outputs
    expected = Counter(
        ("A", "B", "C")[(w + i) % 3] for w in range(workers) for i in range(students)
    )
    tally = store.tally(code, "q1", key)
    assert tally.total == workers * students
    assert tally.counts == dict(expected)
    assert store.student_count(code) == workers * students


KILLED_WORKER = """
import sys, time
from mmviz.classroom import open_store

store = open_store()
store.submit_answer(sys.argv[1], "killed-student-0000", "q1", "C")
print("committed", flush=True)
time.sleep(60)  # killed here, the store never closed
"""


def test_an_answer_survives_the_app_process_being_killed(store, backend):
    code, key = store.create_class("lesson-1")
    store.register_question(code, key, "q1", CHOICE)
    worker = subprocess.Popen(
        [sys.executable, "-c", KILLED_WORKER, code],
        env={**os.environ, **backend, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout.readline().strip() == "committed"
    finally:
        os.kill(worker.pid, 9)
        worker.wait(10)
        worker.stdout.close()
    assert store.get_answer(code, "killed-student-0000", "q1") == "C"
    assert store.tally(code, "q1", key).counts["C"] == 1


def test_sqlite_does_not_keep_a_connection_per_thread(tmp_path):
    """Streamlit runs each rerun in a new thread: 200 of them must not leave 200 open files."""
    store = SQLiteStore(tmp_path / "c.db")
    code, _ = store.create_class("lesson-1")
    open_files = len(os.listdir("/proc/self/fd"))
    for _ in range(200):
        thread = threading.Thread(target=store.get_state, args=(code,))
        thread.start()
        thread.join()
    assert len(os.listdir("/proc/self/fd")) - open_files <= 3 * 8  # pool of 8: db, wal, shm
    store.close()


# -- backends and the environment ----------------------------------------------------------------


def test_open_store_defaults_to_sqlite_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("MMVIZ_CLASS_STORE", raising=False)
    monkeypatch.delenv("MMVIZ_CLASS_DB", raising=False)
    monkeypatch.setenv("MMVIZ_CACHE", str(tmp_path / "cache"))
    with open_store() as default:
        assert isinstance(default, SQLiteStore)
        assert default.path == tmp_path / "cache" / "classes.sqlite3"
    monkeypatch.setenv("MMVIZ_CLASS_DB", str(tmp_path / "elsewhere" / "c.db"))
    with open_store() as chosen:
        assert chosen.path == tmp_path / "elsewhere" / "c.db"
        with sqlite3.connect(chosen.path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    monkeypatch.setenv("MMVIZ_CLASS_STORE", "postgres://db/1")
    with pytest.raises(InvalidInput, match="not a Redis URL: use redis://host:port/db"):
        open_store()


def test_open_store_uses_redis_when_named(monkeypatch, redis_url):
    monkeypatch.setenv("MMVIZ_CLASS_STORE", redis_url)
    with open_store() as shared:
        assert isinstance(shared, RedisStore)
        code, _ = shared.create_class("lesson-1")
        assert shared.exists(code)


def test_an_unreachable_store_says_so_quickly(tmp_path):
    port = _free_port()  # nothing listens there
    store = RedisStore(f"redis://:secret@127.0.0.1:{port}/0", timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as down:
        store.join("ABCD2345")
    assert time.monotonic() - started < 5
    message = str(down.value)
    assert message.startswith("class store unavailable (Redis at redis://***@127.0.0.1:")
    assert "secret" not in message and "resumes when the store is back" in message
    assert isinstance(down.value, ClassError)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreUnavailable, match="SQLite file"):
        SQLiteStore(blocker / "classes.sqlite3")


def test_redis_keys_expire_with_the_class(redis_url):
    """Redis drops every key of a class when it expires, those made after creation too."""
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        client.flushdb()
        store = RedisStore(redis_url)
        code, key = store.create_class("lesson-1", ttl_s=60)
        store.register_question(code, key, "q1", CHOICE)
        student = store.join(code)
        store.submit_answer(code, student, "q1", "A")
        store.reveal(code, key, "q1")
        names = client.keys("*")
        assert len(names) == 5  # meta, questions, students, revealed, answers:q1
        assert all(0 < client.pttl(name) <= 60_000 for name in names)
        short, _ = store.create_class("lesson-1", ttl_s=0.3)
        assert store.exists(short)
        time.sleep(0.5)
        assert not store.exists(short) and not client.keys(f"*{short}*")
        store.close()


# -- class codes -----------------------------------------------------------------------------------


def test_the_alphabet_leaves_out_what_people_misread():
    assert len(ALPHABET) == len(set(ALPHABET)) == 31
    assert not set(ALPHABET) & set("0O1IL")
    assert set(ALPHABET) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    assert CODE_SPACE == 31**CODE_LENGTH == 852_891_037_441


def test_guessing_codes_finds_nothing_within_a_class_lifetime():
    """The module docstring's arithmetic: 1,000 guesses a second for 6 h against 100 classes."""
    six_hours = 6 * 3600
    assert class_codes.expected_guess_hits(1000, six_hours, 100) == pytest.approx(2.53e-3, 0.01)
    assert class_codes.expected_guess_hits(1000, six_hours, 1) < 3e-5
    assert "852,891,037,441" in class_codes.__doc__ and "2.5e-3" in class_codes.__doc__


def test_code_characters_are_uniform():
    """20,000 codes' characters: each within 6 standard deviations of its expected count."""
    counts = Counter("".join(class_codes.new_code() for _ in range(2500)))
    n = 2500 * CODE_LENGTH
    expected, sd = n / 31, math.sqrt(n * (1 / 31) * (30 / 31))
    assert set(counts) == set(ALPHABET)
    assert all(abs(count - expected) < 6 * sd for count in counts.values()), counts
    assert len({class_codes.new_code() for _ in range(10_000)}) == 10_000


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_codes_survive_how_people_type_them(data):
    code = class_codes.new_code()
    assert len(code) == CODE_LENGTH and set(code) <= set(ALPHABET)
    typed = "".join(
        data.draw(st.sampled_from([ch, ch.lower()])) + data.draw(st.sampled_from(["", " ", "-"]))
        for ch in code
    )
    assert parse_code(f"  {typed} ") == code
    assert parse_code(format_code(code)) == code


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12))
def test_anything_else_is_not_a_code(text):
    cleaned = "".join(ch for ch in text.strip().upper() if ch not in " -_")
    if len(cleaned) == CODE_LENGTH and set(cleaned) <= set(ALPHABET):
        assert parse_code(text) == cleaned
    else:
        with pytest.raises(InvalidCode):
            parse_code(text)


# -- the student link ----------------------------------------------------------------------------


def test_the_student_link_and_its_qr_code_carry_only_the_code(tmp_path):
    store = SQLiteStore(tmp_path / "c.db")
    code, key = store.create_class("lesson-1")
    link = student_link("https://school.example/mmviz/?hide=damage&class=OLD", code.lower())
    assert link == f"https://school.example/mmviz/?hide=damage&class={code}"
    assert key not in link
    png = qr_png(link, scale=4, border=4)
    image = Image.open(io.BytesIO(png))
    side = image.size[0]
    assert image.size == (side, side) and side % 4 == 0 and (side // 4 - 8 - 21) % 4 == 0
    root = ET.fromstring(qr_svg(link))
    assert root.tag.endswith("svg")
    with pytest.raises(InvalidInput, match="http"):
        student_link("javascript:alert(1)", code)
    with pytest.raises(InvalidInput):
        qr_png("")
    store.close()


def test_the_store_imports_neither_streamlit_nor_torch():
    code = (
        "import sys\n"
        "import mmviz.classroom, mmviz.classroom.sqlite_store, mmviz.classroom.redis_store\n"
        "import mmviz.classroom.qr\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('streamlit', 'torch')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.stdout.strip() == "[]"
