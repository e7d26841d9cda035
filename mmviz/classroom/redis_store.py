"""The class store in Redis, for app replicas on several machines
(`MMVIZ_CLASS_STORE=redis://host:port/db`).

A class is a handful of keys sharing the hash tag `{CODE}` (so they sit in one cluster slot):

    mmviz:class:{CODE}:meta        hash: lesson_id, key_hash, created_at, expires_at,
                                         version, page, state (JSON), stop
    mmviz:class:{CODE}:students    set of student ids
    mmviz:class:{CODE}:questions   hash: question id -> rule (JSON)
    mmviz:class:{CODE}:revealed    set of revealed question ids
    mmviz:class:{CODE}:answers:Q   hash: student id -> answer (JSON)

Every key expires with the class (Redis TTL), and `expires_at` is also checked against the
store's clock, so an expired class is absent even before Redis drops it. Each write is one Lua
script that re-checks the class (and for teacher actions the stored key hash, after Python has
compared the presented key with hmac.compare_digest) and writes, atomically; an answer is stored
only if the question's rule is still the one it was validated against. Reads that need several
keys run in one MULTI transaction, a consistent snapshot. Any Redis error (server stopped,
timeout, out of memory) surfaces as StoreUnavailable.
"""

from __future__ import annotations

import functools
import json
import math
import re
import time
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from .errors import (
    ClassError,
    ClassNotFound,
    QuestionClosed,
    QuestionNotFound,
    StoreUnavailable,
    WrongTeacherKey,
)
from .store import ClassInfo, ClassState, ClassStore, Clock, TallyInputs, check_teacher

# ARGV[1] is always the store's clock, ARGV[2] the stored teacher-key hash (teacher actions).
_PRELUDE = """
local function live()
  local expires = redis.call('HGET', KEYS[1], 'expires_at')
  return expires and tonumber(expires) > tonumber(ARGV[1])
end
local function teacher()
  if not live() then return 'absent' end
  if redis.call('HGET', KEYS[1], 'key_hash') ~= ARGV[2] then return 'wrongkey' end
  return nil
end
local function keep(key)  -- a key made after the class expires with it
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
end
local function drop(answers_prefix)  -- KEYS: meta, questions, revealed, students
  for _, question in ipairs(redis.call('HKEYS', KEYS[2])) do
    redis.call('DEL', answers_prefix .. question)
  end
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
end
"""

_SCRIPTS = {
    # KEYS meta; ARGV created_at, key_hash, lesson_id, expires_at, ttl_ms
    "create": """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'lesson_id', ARGV[3], 'key_hash', ARGV[2], 'created_at', ARGV[1],
           'expires_at', ARGV[4], 'version', 0, 'page', '', 'state', '{}', 'stop', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
""",
    # KEYS meta, students; ARGV now, -, student_id
    "join": """
if not live() then return 'absent' end
redis.call('SADD', KEYS[2], ARGV[3])
keep(KEYS[2])
return 'ok'
""",
    # KEYS meta; ARGV now, key_hash, page, state, stop
    "publish": """
local err = teacher()
if err then return err end
redis.call('HSET', KEYS[1], 'page', ARGV[3], 'state', ARGV[4], 'stop', ARGV[5])
return redis.call('HINCRBY', KEYS[1], 'version', 1)
""",
    # KEYS meta, questions, revealed, answers; ARGV now, key_hash, question_id, rule
    "register": """
local err = teacher()
if err then return err end
if redis.call('HGET', KEYS[2], ARGV[3]) == ARGV[4] then return 'same' end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
keep(KEYS[2])
redis.call('SREM', KEYS[3], ARGV[3])
redis.call('DEL', KEYS[4])
redis.call('HINCRBY', KEYS[1], 'version', 1)
return 'ok'
""",
    # KEYS meta, questions, revealed, answers, students;
    # ARGV now, -, question_id, rule it was checked against, student_id, answer
    "submit": """
if not live() then return 'absent' end
local rule = redis.call('HGET', KEYS[2], ARGV[3])
if not rule then return 'noquestion' end
if rule ~= ARGV[4] then return 'changed' end
if redis.call('SISMEMBER', KEYS[3], ARGV[3]) == 1 then return 'closed' end
redis.call('HSET', KEYS[4], ARGV[5], ARGV[6])
keep(KEYS[4])
redis.call('SADD', KEYS[5], ARGV[5])
keep(KEYS[5])
return 'ok'
""",
    # KEYS meta, questions, revealed, answers; ARGV now, key_hash, question_id, reveal|reset
    "reveal_or_reset": """
local err = teacher()
if err then return err end
if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 0 then return 'noquestion' end
if ARGV[4] == 'reveal' then
  redis.call('SADD', KEYS[3], ARGV[3])
  keep(KEYS[3])
else
  redis.call('SREM', KEYS[3], ARGV[3])
  redis.call('DEL', KEYS[4])
end
redis.call('HINCRBY', KEYS[1], 'version', 1)
return 'ok'
""",
    # KEYS meta, questions, revealed, students; ARGV now, key_hash, answers key prefix
    "end": """
local err = teacher()
if err then return err end
drop(ARGV[3])
return 'ok'
""",
    # KEYS meta, questions, revealed, students; ARGV now, -, answers key prefix
    "purge": """
if live() then return 'live' end
drop(ARGV[3])
return 'ok'
""",
}

_F = TypeVar("_F", bound=Callable[..., Any])


def _guarded(method: _F) -> _F:
    """Turn any Redis failure into StoreUnavailable naming the server (password hidden)."""

    @functools.wraps(method)
    def wrapper(self: RedisStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except redis.RedisError as error:
            raise StoreUnavailable(f"Redis at {self.where}", error) from error

    return wrapper  # type: ignore[return-value]


class _Keys(NamedTuple):
    meta: str
    students: str
    questions: str
    revealed: str
    answers_prefix: str

    def answers(self, question_id: str) -> str:
        return self.answers_prefix + question_id


def _number(value: float) -> str:
    return repr(float(value))  # round-trips exactly; Lua's tonumber reads it back


class RedisStore(ClassStore):
    """Classes in the Redis database at `url` (redis://host:port/db, rediss://, unix://).
    Made without contacting the server, so an app starts while Redis is down; each call fails
    fast (about `timeout_s`) with StoreUnavailable until it is back."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock = time.time,
        prefix: str = "mmviz:class:",
        timeout_s: float = 2.0,
    ) -> None:
        super().__init__(clock=clock)
        self.url = url
        self.where = re.sub(r"//[^@/]*@", "//***@", url)  # for messages: no password
        self.prefix = prefix
        self._redis = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
            health_check_interval=30,
        )
        self._scripts = {
            name: self._redis.register_script(_PRELUDE + body) for name, body in _SCRIPTS.items()
        }

    def __repr__(self) -> str:
        return f"RedisStore({self.where!r})"

    def close(self) -> None:
        self._redis.close()

    def _keys(self, code: str) -> _Keys:
        base = f"{self.prefix}{{{code}}}:"
        names = ("meta", "students", "questions", "revealed", "answers:")
        return _Keys(*(base + name for name in names))

    def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        return self._scripts[script](keys=keys, args=args)

    @staticmethod
    def _live(expires_at: str | None, now: float) -> bool:
        return expires_at is not None and float(expires_at) > now

    def _teacher(self, code: str, teacher_key: str, now: float) -> str:
        """The stored key hash after checking the presented key in constant time."""
        key_hash, expires_at = self._redis.hmget(self._keys(code).meta, "key_hash", "expires_at")
        if key_hash is None or not self._live(expires_at, now):
            raise ClassNotFound(code)
        check_teacher(code, key_hash, teacher_key)
        return key_hash

    @staticmethod
    def _raise_for(result: Any, code: str, question_id: str = "") -> Any:
        if result == "absent":
            raise ClassNotFound(code)
        if result == "wrongkey":  # the class was replaced between the check and the script
            raise WrongTeacherKey(code)
        if result == "noquestion":
            raise QuestionNotFound(code, question_id)
        if result == "closed":
            raise QuestionClosed(code, question_id)
        return result

    # -- primitives -----------------------------------------------------------------------------

    @_guarded
    def _insert_class(
        self, code: str, lesson_id: str, key_hash: str, created_at: float, expires_at: float
    ) -> bool:
        ttl_ms = max(1, math.ceil((expires_at - created_at) * 1000))
        args = [_number(created_at), key_hash, lesson_id, _number(expires_at), ttl_ms]
        return self._run("create", [self._keys(code).meta], args) == 1

    @_guarded
    def _class_info(self, code: str, now: float) -> ClassInfo | None:
        lesson_id, created_at, expires_at = self._redis.hmget(
            self._keys(code).meta, "lesson_id", "created_at", "expires_at"
        )
        if lesson_id is None or not self._live(expires_at, now):
            return None
        return ClassInfo(code, lesson_id, float(created_at), float(expires_at))

    @_guarded
    def _join(self, code: str, student_id: str, now: float) -> bool:
        keys = self._keys(code)
        return self._run("join", [keys.meta, keys.students], [_number(now), "", student_id]) == "ok"

    @_guarded
    def _student_count(self, code: str, now: float) -> int | None:
        keys = self._keys(code)
        with self._redis.pipeline(transaction=True) as pipe:
            expires_at, count = pipe.hget(keys.meta, "expires_at").scard(keys.students).execute()
        return count if self._live(expires_at, now) else None

    @_guarded
    def _end_class(self, code: str, teacher_key: str, now: float) -> None:
        key_hash = self._teacher(code, teacher_key, now)
        keys = self._keys(code)
        result = self._run(
            "end",
            [keys.meta, keys.questions, keys.revealed, keys.students],
            [_number(now), key_hash, keys.answers_prefix],
        )
        self._raise_for(result, code)

    @_guarded
    def _purge_expired(self, now: float) -> int:
        purged = 0
        pattern = f"{self.prefix}{{*}}:meta"
        for meta in self._redis.scan_iter(match=pattern, count=500):
            code = meta[len(self.prefix) + 1 : -len("}:meta")]
            keys = self._keys(code)
            result = self._run(
                "purge",
                [keys.meta, keys.questions, keys.revealed, keys.students],
                [_number(now), "", keys.answers_prefix],
            )
            purged += result == "ok"
        return purged

    @_guarded
    def _publish_state(
        self, code: str, teacher_key: str, page: str, state_json: str, stop: int, now: float
    ) -> int:
        key_hash = self._teacher(code, teacher_key, now)
        result = self._run(
            "publish",
            [self._keys(code).meta],
            [_number(now), key_hash, page, state_json, stop],
        )
        return int(self._raise_for(result, code))

    @_guarded
    def _get_state(self, code: str, now: float) -> ClassState | None:
        expires_at, version, page, state_json, stop = self._redis.hmget(
            self._keys(code).meta, "expires_at", "version", "page", "state", "stop"
        )
        if not self._live(expires_at, now):
            return None
        return ClassState(int(version), page, json.loads(state_json), int(stop))

    @_guarded
    def _register_question(
        self, code: str, teacher_key: str, question_id: str, rule_json: str, now: float
    ) -> None:
        key_hash = self._teacher(code, teacher_key, now)
        keys = self._keys(code)
        result = self._run(
            "register",
            [keys.meta, keys.questions, keys.revealed, keys.answers(question_id)],
            [_number(now), key_hash, question_id, rule_json],
        )
        self._raise_for(result, code, question_id)

    @_guarded
    def _submit_answer(
        self,
        code: str,
        student_id: str,
        question_id: str,
        check: Callable[[str], str],
        now: float,
    ) -> None:
        keys = self._keys(code)
        for _ in range(5):  # retried only if the teacher changes the rule meanwhile
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.hget(keys.meta, "expires_at").hget(keys.questions, question_id)
                pipe.sismember(keys.revealed, question_id)
                expires_at, rule_json, revealed = pipe.execute()
            if not self._live(expires_at, now):
                raise ClassNotFound(code)
            if rule_json is None:
                raise QuestionNotFound(code, question_id)
            if revealed:
                raise QuestionClosed(code, question_id)
            answer_json = check(rule_json)
            result = self._run(
                "submit",
                [
                    keys.meta,
                    keys.questions,
                    keys.revealed,
                    keys.answers(question_id),
                    keys.students,
                ],
                [_number(now), "", question_id, rule_json, student_id, answer_json],
            )
            if self._raise_for(result, code, question_id) == "ok":
                return
        raise ClassError(f"question {question_id!r} kept changing while answering: try again")

    @_guarded
    def _get_answer(self, code: str, student_id: str, question_id: str, now: float) -> str | None:
        keys = self._keys(code)
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hget(keys.meta, "expires_at").hget(keys.answers(question_id), student_id)
            expires_at, answer_json = pipe.execute()
        if not self._live(expires_at, now):
            raise ClassNotFound(code)
        return answer_json

    @_guarded
    def _tally_inputs(self, code: str, question_id: str, now: float) -> TallyInputs | None:
        keys = self._keys(code)
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hmget(keys.meta, "key_hash", "expires_at")
            pipe.hget(keys.questions, question_id)
            pipe.sismember(keys.revealed, question_id)
            pipe.hvals(keys.answers(question_id))
            (key_hash, expires_at), rule_json, revealed, answers = pipe.execute()
        if key_hash is None or not self._live(expires_at, now):
            return None
        return TallyInputs(key_hash, rule_json, bool(revealed), list(answers))

    def _reveal(self, code: str, teacher_key: str, question_id: str, now: float) -> None:
        self._reveal_or_reset(code, teacher_key, question_id, now, "reveal")

    def _reset_question(self, code: str, teacher_key: str, question_id: str, now: float) -> None:
        self._reveal_or_reset(code, teacher_key, question_id, now, "reset")

    @_guarded
    def _reveal_or_reset(
        self, code: str, teacher_key: str, question_id: str, now: float, action: str
    ) -> None:
        key_hash = self._teacher(code, teacher_key, now)
        keys = self._keys(code)
        result = self._run(
            "reveal_or_reset",
            [keys.meta, keys.questions, keys.revealed, keys.answers(question_id)],
            [_number(now), key_hash, question_id, action],
        )
        self._raise_for(result, code, question_id)

    @_guarded
    def _is_revealed(self, code: str, question_id: str, now: float) -> bool | None:
        keys = self._keys(code)
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hget(keys.meta, "expires_at").sismember(keys.revealed, question_id)
            expires_at, revealed = pipe.execute()
        return bool(revealed) if self._live(expires_at, now) else None


__all__ = ["RedisStore"]
