"""The class store: one small interface for a live class's metadata, the teacher's published
page state, the questions and the room's answers, with two backends behind it.

- `SQLiteStore` (default): one SQLite file, `$MMVIZ_CLASS_DB` or `<cache>/classes.sqlite3`
  (mmviz.paths.class_db_path), shared by every app process on one machine.
- `RedisStore`: `$MMVIZ_CLASS_STORE=redis://host:port/db`, for app replicas on several machines.

`open_store()` picks one from those variables. The public methods live here, once: they check
every input (codes, ids, sizes, answers against the question's rule) and then call a backend's
primitive (`_publish_state`...), which does the read-check-write atomically (an IMMEDIATE
transaction in SQLite, a Lua script in Redis). So both backends refuse exactly the same things.

Who may do what: creating a class returns a code (for students) and a teacher key (kept by the
teacher's session, never in a link). Publishing, registering a question, revealing, resetting
and ending need the key; a wrong one raises WrongTeacherKey. A student needs the code and a
random id (`new_student_id()`); nothing else about them is stored. Before the reveal the tally
is refused to anyone without the key, so the server never has it to send.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import NamedTuple

from .codes import (
    DEFAULT_TTL_S,
    check_student_id,
    hash_teacher_key,
    new_code,
    new_student_id,
    new_teacher_key,
    parse_code,
    teacher_key_matches,
)
from .errors import (
    AnswersHidden,
    ClassError,
    ClassNotFound,
    InvalidInput,
    QuestionNotFound,
    WrongTeacherKey,
)
from .rules import (
    Answer,
    Rule,
    Tally,
    answer_from_json,
    answer_to_json,
    make_tally,
    rule_from_json,
    rule_to_json,
)

MAX_TTL_S = 7 * 24 * 3600
MAX_LESSON_ID_CHARS = 200
MAX_PAGE_CHARS = 200
MAX_STATE_ENTRIES = 200
MAX_STATE_KEY_CHARS = 100
MAX_STATE_VALUE_CHARS = 4000
MAX_STATE_JSON_CHARS = 64 * 1024
MAX_STOP = 10_000
# Question ids become part of Redis key names: no spaces, braces or other surprises.
_QUESTION_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")

Clock = Callable[[], float]


class ClassState(NamedTuple):
    """What the teacher last published. `version` is 0 before the first publish and grows by
    one with every teacher action a student's page depends on (publish, a question opened or
    changed, a reveal, a reset), so a student polls it and redraws only when it moved."""

    version: int
    page: str
    state: dict[str, str]
    stop: int


class ClassInfo(NamedTuple):
    code: str
    lesson_id: str
    created_at: float
    expires_at: float


class TallyInputs(NamedTuple):
    """What a backend reads for a tally, in one consistent snapshot."""

    key_hash: str
    rule_json: str | None
    revealed: bool
    answers_json: list[str]


def _text(name: str, value: object, max_chars: int, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text, not {type(value).__name__}")
    if not (allow_empty or value) or len(value) > max_chars:
        low = 0 if allow_empty else 1
        raise InvalidInput(f"{name} must have {low} to {max_chars} characters, not {len(value)}")
    return value


def check_question_id(question_id: object) -> str:
    if not isinstance(question_id, str) or not _QUESTION_ID.fullmatch(question_id):
        raise InvalidInput(
            f"question id {question_id!r} refused: use 1 to 100 letters, digits, '_', '.', ':' "
            "or '-'"
        )
    return question_id


def state_to_json(state: object) -> str:
    """The published page state as stored: a flat text-to-text mapping, bounded in size."""
    if not isinstance(state, Mapping):
        raise InvalidInput(f"page state must be a mapping of text to text, not {type(state)}")
    if len(state) > MAX_STATE_ENTRIES:
        raise InvalidInput(f"page state has {len(state)} entries; at most {MAX_STATE_ENTRIES}")
    for key, value in state.items():
        _text("a page state key", key, MAX_STATE_KEY_CHARS)
        _text(f"page state value of {key!r}", value, MAX_STATE_VALUE_CHARS, allow_empty=True)
    text = json.dumps(dict(state), sort_keys=True, separators=(",", ":"))
    if len(text) > MAX_STATE_JSON_CHARS:
        raise InvalidInput(f"page state is {len(text)} characters; at most {MAX_STATE_JSON_CHARS}")
    return text


def check_teacher(code: str, key_hash: str, teacher_key: object) -> None:
    """WrongTeacherKey unless `teacher_key` hashes to `key_hash` (constant-time comparison)."""
    if not teacher_key_matches(teacher_key, key_hash):
        raise WrongTeacherKey(code)


class ClassStore(ABC):
    """A live class's shared state, behind one interface (see the module docstring).

    Codes may be given as typed ("k7mx-3qrp"); every method normalises them. Expired and ended
    classes behave as absent: ClassNotFound, or False from `exists`.
    """

    def __init__(self, *, clock: Clock = time.time) -> None:
        self._clock = clock  # injectable so tests can expire a class without waiting

    # -- classes ------------------------------------------------------------------------------

    def create_class(self, lesson_id: str, ttl_s: float = DEFAULT_TTL_S) -> tuple[str, str]:
        """Start a class of lesson `lesson_id` that lives `ttl_s` seconds (default 6 h).
        Returns (code, teacher_key): show the code to the room, keep the key in the teacher's
        session only."""
        lesson_id = _text("lesson id", lesson_id, MAX_LESSON_ID_CHARS)
        if isinstance(ttl_s, bool) or not isinstance(ttl_s, numbers.Real):
            raise InvalidInput(f"ttl_s must be a number of seconds, not {ttl_s!r}")
        if not (math.isfinite(ttl_s) and 0 < ttl_s <= MAX_TTL_S):
            raise InvalidInput(f"ttl_s must be in (0, {MAX_TTL_S}] seconds (7 days), not {ttl_s}")
        teacher_key = new_teacher_key()
        now = self._clock()
        for _ in range(10):  # a collision among 8.5e11 codes is rare; ten in a row is a bug
            code = new_code()
            if self._insert_class(
                code, lesson_id, hash_teacher_key(teacher_key), now, now + float(ttl_s)
            ):
                return code, teacher_key
        raise ClassError("could not find a free class code in 10 tries; is the clock broken?")

    def exists(self, code: str) -> bool:
        """Whether `code` names a live class (False for malformed, unknown, expired, ended)."""
        try:
            return self._class_info(parse_code(code), self._clock()) is not None
        except InvalidInput:
            return False

    def class_info(self, code: str) -> ClassInfo:
        """The class's lesson and lifetime, or ClassNotFound."""
        code = parse_code(code)
        info = self._class_info(code, self._clock())
        if info is None:
            raise ClassNotFound(code)
        return info

    def join(self, code: str, student_id: str | None = None) -> str:
        """Join class `code` as `student_id` (a new random id when None; pass the old one to
        rejoin after a reconnect). Returns the id; the class counts it among its students."""
        code = parse_code(code)
        student_id = new_student_id() if student_id is None else check_student_id(student_id)
        if not self._join(code, student_id, self._clock()):
            raise ClassNotFound(code)
        return student_id

    def student_count(self, code: str) -> int:
        """How many distinct student ids joined or answered."""
        code = parse_code(code)
        count = self._student_count(code, self._clock())
        if count is None:
            raise ClassNotFound(code)
        return count

    def end_class(self, code: str, teacher_key: str) -> None:
        """End the class now: its state, questions and answers are deleted."""
        self._end_class(parse_code(code), teacher_key, self._clock())

    def purge_expired(self) -> int:
        """Delete what expired classes left behind; returns how many classes went. Expired
        classes already behave as absent, so this only frees space (Redis also expires keys)."""
        return self._purge_expired(self._clock())

    # -- following the teacher ----------------------------------------------------------------

    def publish_state(
        self, code: str, teacher_key: str, page: str, state: Mapping[str, str], stop: int
    ) -> int:
        """Publish the teacher's page, its `PageState` as text-to-text entries, and the lesson
        stop. Returns the new version."""
        code = parse_code(code)
        page = _text("page", page, MAX_PAGE_CHARS, allow_empty=True)
        state_json = state_to_json(state)
        if isinstance(stop, bool) or not isinstance(stop, int) or not 0 <= stop <= MAX_STOP:
            raise InvalidInput(f"stop must be a whole number from 0 to {MAX_STOP}, not {stop!r}")
        return self._publish_state(code, teacher_key, page, state_json, stop, self._clock())

    def get_state(self, code: str) -> ClassState:
        """(version, page, state, stop); cheap enough to poll every second per student."""
        code = parse_code(code)
        state = self._get_state(code, self._clock())
        if state is None:
            raise ClassNotFound(code)
        return state

    # -- questions and answers ----------------------------------------------------------------

    def register_question(self, code: str, teacher_key: str, question_id: str, rule: Rule) -> None:
        """Open question `question_id` with `rule`. Registering the same rule again changes
        nothing (a page may do it on every rerun); a different rule starts the question afresh
        (its answers and reveal are cleared, since they may not fit the new rule)."""
        code = parse_code(code)
        question_id = check_question_id(question_id)
        rule_json = rule_to_json(rule)
        self._register_question(code, teacher_key, question_id, rule_json, self._clock())

    def submit_answer(self, code: str, student_id: str, question_id: str, answer: Answer) -> None:
        """Record `student_id`'s answer; a second answer replaces the first (one vote each).
        Refused (InvalidAnswer) unless the question's rule accepts it, and (QuestionClosed)
        once the question is revealed."""
        code = parse_code(code)
        student_id = check_student_id(student_id)
        question_id = check_question_id(question_id)

        def check(rule_json: str) -> str:
            return answer_to_json(rule_from_json(rule_json).check(question_id, answer))

        self._submit_answer(code, student_id, question_id, check, self._clock())

    def get_answer(self, code: str, student_id: str, question_id: str) -> Answer | None:
        """The student's current answer, or None: lets a reconnected page know it committed."""
        code = parse_code(code)
        answer_json = self._get_answer(
            code, check_student_id(student_id), check_question_id(question_id), self._clock()
        )
        return None if answer_json is None else answer_from_json(answer_json)

    def tally(self, code: str, question_id: str, teacher_key: str | None = None) -> Tally:
        """The room's answers: counts per option, or the sorted numbers with their median and
        quartiles. Without the teacher key only after the reveal (AnswersHidden before); with a
        wrong key, WrongTeacherKey."""
        code = parse_code(code)
        question_id = check_question_id(question_id)
        inputs = self._tally_inputs(code, question_id, self._clock())
        if inputs is None:
            raise ClassNotFound(code)
        if teacher_key is not None:
            check_teacher(code, inputs.key_hash, teacher_key)
        if inputs.rule_json is None:
            raise QuestionNotFound(code, question_id)
        if teacher_key is None and not inputs.revealed:
            raise AnswersHidden(code, question_id)
        answers = [answer_from_json(text) for text in inputs.answers_json]
        return make_tally(question_id, rule_from_json(inputs.rule_json), answers, inputs.revealed)

    def reveal(self, code: str, teacher_key: str, question_id: str) -> None:
        """Show the answer and the tally to everyone; answers close until a reset."""
        code = parse_code(code)
        self._reveal(code, teacher_key, check_question_id(question_id), self._clock())

    def is_revealed(self, code: str, question_id: str) -> bool:
        """Whether the teacher revealed the question (False for a question not opened yet)."""
        code = parse_code(code)
        revealed = self._is_revealed(code, check_question_id(question_id), self._clock())
        if revealed is None:
            raise ClassNotFound(code)
        return revealed

    def reset_question(self, code: str, teacher_key: str, question_id: str) -> None:
        """Clear the question's answers and reveal, to ask it again."""
        code = parse_code(code)
        self._reset_question(code, teacher_key, check_question_id(question_id), self._clock())

    def close(self) -> None:  # noqa: B027 - a no-op unless the backend holds connections
        """Release connections; the store's data stays."""

    def __enter__(self) -> ClassStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- what a backend implements: inputs already checked, `now` from the clock -------------
    # Teacher primitives raise ClassNotFound / WrongTeacherKey (via check_teacher) /
    # QuestionNotFound themselves; readers return None for an absent class.

    @abstractmethod
    def _insert_class(
        self, code: str, lesson_id: str, key_hash: str, created_at: float, expires_at: float
    ) -> bool:
        """Store a new class; False when `code` is taken by a live class."""

    @abstractmethod
    def _class_info(self, code: str, now: float) -> ClassInfo | None: ...

    @abstractmethod
    def _join(self, code: str, student_id: str, now: float) -> bool: ...

    @abstractmethod
    def _student_count(self, code: str, now: float) -> int | None: ...

    @abstractmethod
    def _end_class(self, code: str, teacher_key: str, now: float) -> None: ...

    @abstractmethod
    def _purge_expired(self, now: float) -> int: ...

    @abstractmethod
    def _publish_state(
        self, code: str, teacher_key: str, page: str, state_json: str, stop: int, now: float
    ) -> int: ...

    @abstractmethod
    def _get_state(self, code: str, now: float) -> ClassState | None: ...

    @abstractmethod
    def _register_question(
        self, code: str, teacher_key: str, question_id: str, rule_json: str, now: float
    ) -> None: ...

    @abstractmethod
    def _submit_answer(
        self,
        code: str,
        student_id: str,
        question_id: str,
        check: Callable[[str], str],
        now: float,
    ) -> None:
        """Read the question's rule, pass it to `check` (which returns the answer to store or
        raises), store the answer, all against the same rule; raise ClassNotFound,
        QuestionNotFound or QuestionClosed."""

    @abstractmethod
    def _get_answer(self, code: str, student_id: str, question_id: str, now: float) -> str | None:
        """The stored answer text; ClassNotFound for an absent class."""

    @abstractmethod
    def _tally_inputs(self, code: str, question_id: str, now: float) -> TallyInputs | None: ...

    @abstractmethod
    def _reveal(self, code: str, teacher_key: str, question_id: str, now: float) -> None: ...

    @abstractmethod
    def _is_revealed(self, code: str, question_id: str, now: float) -> bool | None: ...

    @abstractmethod
    def _reset_question(
        self, code: str, teacher_key: str, question_id: str, now: float
    ) -> None: ...


def open_store(*, clock: Clock = time.time) -> ClassStore:
    """The store the environment names: `$MMVIZ_CLASS_STORE` (redis://host:port/db, rediss://
    or unix://) for Redis, else the SQLite file at `$MMVIZ_CLASS_DB` or its default."""
    url = os.environ.get("MMVIZ_CLASS_STORE", "").strip()
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise InvalidInput(
                f"MMVIZ_CLASS_STORE={url!r} is not a Redis URL: use redis://host:port/db, or "
                "leave it unset for the SQLite file at MMVIZ_CLASS_DB"
            )
        from .redis_store import RedisStore

        return RedisStore(url, clock=clock)
    from .sqlite_store import SQLiteStore

    return SQLiteStore(clock=clock)


__all__ = [
    "ClassInfo",
    "ClassState",
    "ClassStore",
    "TallyInputs",
    "check_question_id",
    "check_teacher",
    "open_store",
]
