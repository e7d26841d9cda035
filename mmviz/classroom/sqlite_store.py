"""The default class store: one SQLite file shared by every app process on the machine.

WAL mode lets students read (poll the teacher's state) while someone writes, and several
Streamlit replicas on one machine share the file. Every read-check-write runs in a
`BEGIN IMMEDIATE` transaction, which takes the write lock before the read, so two processes can
never both read the old value (a lost vote or version bump); plain reads run in a deferred
transaction, one consistent snapshot. A writer that finds the lock taken waits up to
`busy_timeout_s` before the call fails with StoreUnavailable. `synchronous=NORMAL` in WAL mode
keeps every committed answer when the app process is killed; a power cut may lose the last few.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..paths import class_db_path
from .errors import ClassNotFound, QuestionClosed, QuestionNotFound, StoreUnavailable
from .store import (
    ClassInfo,
    ClassState,
    ClassStore,
    Clock,
    TallyInputs,
    check_teacher,
)

SCHEMA_VERSION = 1
MAX_IDLE_CONNECTIONS = 8
SCHEMA = """
CREATE TABLE IF NOT EXISTS classes (
    code TEXT PRIMARY KEY,
    lesson_id TEXT NOT NULL,
    key_hash TEXT NOT NULL,          -- SHA-256 of the teacher key; the key itself is not kept
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    page TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT '{}',
    stop INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS classes_by_expiry ON classes (expires_at);
CREATE TABLE IF NOT EXISTS students (
    code TEXT NOT NULL,
    student_id TEXT NOT NULL,
    PRIMARY KEY (code, student_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS questions (
    code TEXT NOT NULL,
    question_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    revealed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (code, question_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS answers (
    code TEXT NOT NULL,
    question_id TEXT NOT NULL,
    student_id TEXT NOT NULL,
    answer TEXT NOT NULL,
    PRIMARY KEY (code, question_id, student_id)
) WITHOUT ROWID;
"""


class SQLiteStore(ClassStore):
    """Classes in the SQLite file `path` (default: `$MMVIZ_CLASS_DB` or
    `<cache>/classes.sqlite3`, resolved when the store is made)."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Clock = time.time,
        busy_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(clock=clock)
        self.path = Path(path) if path is not None else class_db_path()
        self._busy_timeout_s = busy_timeout_s
        # A small pool of idle connections, used by one transaction at a time. Not one per
        # thread: Streamlit runs every rerun in a new thread, which would leak a connection
        # each. Per process: a connection must not cross a fork.
        self._idle: list[sqlite3.Connection] = []
        self._idle_pid = os.getpid()
        self._idle_lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._connect()
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.executescript(
                    f"BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                )
            finally:
                conn.close()
        except (OSError, sqlite3.Error) as error:
            raise self._unavailable(error) from error

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # -- connections and transactions ---------------------------------------------------------

    def _unavailable(self, error: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"SQLite file {self.path}", error)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout_s,
            isolation_level=None,  # transactions are explicit: BEGIN [IMMEDIATE] ... COMMIT
            check_same_thread=False,  # pooled: each transaction may run on another thread
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _acquire(self) -> sqlite3.Connection:
        with self._idle_lock:
            if self._idle_pid != os.getpid():  # forked: the parent's connections are not ours
                self._idle, self._idle_pid = [], os.getpid()
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _release(self, conn: sqlite3.Connection) -> None:
        with self._idle_lock:
            if self._idle_pid == os.getpid() and len(self._idle) < MAX_IDLE_CONNECTIONS:
                self._idle.append(conn)
                return
        conn.close()

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """A transaction: IMMEDIATE (write lock taken up front) for read-check-write."""
        try:
            conn = self._acquire()
        except sqlite3.Error as error:
            raise self._unavailable(error) from error
        healthy = False
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield conn
            conn.execute("COMMIT")
            healthy = True
        except BaseException as error:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # the original error says more
                    conn.execute("ROLLBACK")
            healthy = not conn.in_transaction and not isinstance(error, sqlite3.Error)
            if isinstance(error, sqlite3.Error):
                raise self._unavailable(error) from error
            raise
        finally:
            if healthy:
                self._release(conn)
            else:
                conn.close()

    def close(self) -> None:
        with self._idle_lock:
            idle, self._idle = self._idle, []
            mine = self._idle_pid == os.getpid()
        for conn in idle if mine else ():
            conn.close()

    # -- helpers inside a transaction ---------------------------------------------------------

    @staticmethod
    def _live_key_hash(conn: sqlite3.Connection, code: str, now: float) -> str | None:
        row = conn.execute(
            "SELECT key_hash FROM classes WHERE code = ? AND expires_at > ?", (code, now)
        ).fetchone()
        return None if row is None else row[0]

    def _teacher(self, conn: sqlite3.Connection, code: str, teacher_key: str, now: float) -> None:
        key_hash = self._live_key_hash(conn, code, now)
        if key_hash is None:
            raise ClassNotFound(code)
        check_teacher(code, key_hash, teacher_key)

    @staticmethod
    def _bump_version(conn: sqlite3.Connection, code: str) -> int:
        return conn.execute(
            "UPDATE classes SET version = version + 1 WHERE code = ? RETURNING version", (code,)
        ).fetchone()[0]

    @staticmethod
    def _delete_class(conn: sqlite3.Connection, code: str) -> None:
        for table in ("answers", "questions", "students", "classes"):
            conn.execute(f"DELETE FROM {table} WHERE code = ?", (code,))

    def _delete_expired(self, conn: sqlite3.Connection, now: float) -> int:
        codes = [
            row[0] for row in conn.execute("SELECT code FROM classes WHERE expires_at <= ?", (now,))
        ]
        for code in codes:
            self._delete_class(conn, code)
        return len(codes)

    # -- primitives -----------------------------------------------------------------------------

    def _insert_class(
        self, code: str, lesson_id: str, key_hash: str, created_at: float, expires_at: float
    ) -> bool:
        with self._transaction(write=True) as conn:
            self._delete_expired(conn, created_at)  # a new class is a good moment to tidy up
            inserted = conn.execute(
                "INSERT OR IGNORE INTO classes (code, lesson_id, key_hash, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (code, lesson_id, key_hash, created_at, expires_at),
            ).rowcount
        return inserted == 1

    def _class_info(self, code: str, now: float) -> ClassInfo | None:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT lesson_id, created_at, expires_at FROM classes"
                " WHERE code = ? AND expires_at > ?",
                (code, now),
            ).fetchone()
        return None if row is None else ClassInfo(code, *row)

    def _join(self, code: str, student_id: str, now: float) -> bool:
        with self._transaction(write=True) as conn:
            if self._live_key_hash(conn, code, now) is None:
                return False
            conn.execute(
                "INSERT OR IGNORE INTO students (code, student_id) VALUES (?, ?)",
                (code, student_id),
            )
        return True

    def _student_count(self, code: str, now: float) -> int | None:
        with self._transaction(write=False) as conn:
            if self._live_key_hash(conn, code, now) is None:
                return None
            row = conn.execute("SELECT COUNT(*) FROM students WHERE code = ?", (code,)).fetchone()
            return row[0]

    def _end_class(self, code: str, teacher_key: str, now: float) -> None:
        with self._transaction(write=True) as conn:
            self._teacher(conn, code, teacher_key, now)
            self._delete_class(conn, code)

    def _purge_expired(self, now: float) -> int:
        with self._transaction(write=True) as conn:
            return self._delete_expired(conn, now)

    def _publish_state(
        self, code: str, teacher_key: str, page: str, state_json: str, stop: int, now: float
    ) -> int:
        with self._transaction(write=True) as conn:
            self._teacher(conn, code, teacher_key, now)
            conn.execute(
                "UPDATE classes SET page = ?, state = ?, stop = ? WHERE code = ?",
                (page, state_json, stop, code),
            )
            return self._bump_version(conn, code)

    def _get_state(self, code: str, now: float) -> ClassState | None:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT version, page, state, stop FROM classes WHERE code = ? AND expires_at > ?",
                (code, now),
            ).fetchone()
        if row is None:
            return None
        version, page, state_json, stop = row
        return ClassState(version, page, json.loads(state_json), stop)

    def _register_question(
        self, code: str, teacher_key: str, question_id: str, rule_json: str, now: float
    ) -> None:
        with self._transaction(write=True) as conn:
            self._teacher(conn, code, teacher_key, now)
            row = conn.execute(
                "SELECT rule FROM questions WHERE code = ? AND question_id = ?",
                (code, question_id),
            ).fetchone()
            if row is not None and row[0] == rule_json:
                return
            conn.execute(
                "INSERT OR REPLACE INTO questions (code, question_id, rule, revealed)"
                " VALUES (?, ?, ?, 0)",
                (code, question_id, rule_json),
            )
            conn.execute(
                "DELETE FROM answers WHERE code = ? AND question_id = ?", (code, question_id)
            )
            self._bump_version(conn, code)

    def _submit_answer(
        self,
        code: str,
        student_id: str,
        question_id: str,
        check: Callable[[str], str],
        now: float,
    ) -> None:
        with self._transaction(write=True) as conn:
            if self._live_key_hash(conn, code, now) is None:
                raise ClassNotFound(code)
            row = conn.execute(
                "SELECT rule, revealed FROM questions WHERE code = ? AND question_id = ?",
                (code, question_id),
            ).fetchone()
            if row is None:
                raise QuestionNotFound(code, question_id)
            rule_json, revealed = row
            if revealed:
                raise QuestionClosed(code, question_id)
            conn.execute(
                "INSERT INTO answers (code, question_id, student_id, answer) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (code, question_id, student_id)"
                " DO UPDATE SET answer = excluded.answer",
                (code, question_id, student_id, check(rule_json)),
            )
            conn.execute(
                "INSERT OR IGNORE INTO students (code, student_id) VALUES (?, ?)",
                (code, student_id),
            )

    def _get_answer(self, code: str, student_id: str, question_id: str, now: float) -> str | None:
        with self._transaction(write=False) as conn:
            if self._live_key_hash(conn, code, now) is None:
                raise ClassNotFound(code)
            row = conn.execute(
                "SELECT answer FROM answers WHERE code = ? AND question_id = ? AND student_id = ?",
                (code, question_id, student_id),
            ).fetchone()
        return None if row is None else row[0]

    def _tally_inputs(self, code: str, question_id: str, now: float) -> TallyInputs | None:
        with self._transaction(write=False) as conn:
            key_hash = self._live_key_hash(conn, code, now)
            if key_hash is None:
                return None
            row = conn.execute(
                "SELECT rule, revealed FROM questions WHERE code = ? AND question_id = ?",
                (code, question_id),
            ).fetchone()
            if row is None:
                return TallyInputs(key_hash, None, False, [])
            answers = [
                answer
                for (answer,) in conn.execute(
                    "SELECT answer FROM answers WHERE code = ? AND question_id = ?",
                    (code, question_id),
                )
            ]
        return TallyInputs(key_hash, row[0], bool(row[1]), answers)

    def _reveal(self, code: str, teacher_key: str, question_id: str, now: float) -> None:
        self._set_revealed(code, teacher_key, question_id, now, reveal=True)

    def _reset_question(self, code: str, teacher_key: str, question_id: str, now: float) -> None:
        self._set_revealed(code, teacher_key, question_id, now, reveal=False)

    def _set_revealed(
        self, code: str, teacher_key: str, question_id: str, now: float, *, reveal: bool
    ) -> None:
        """Reveal, or reset (answers deleted, reveal undone); the version moves either way."""
        with self._transaction(write=True) as conn:
            self._teacher(conn, code, teacher_key, now)
            found = conn.execute(
                "UPDATE questions SET revealed = ? WHERE code = ? AND question_id = ?",
                (int(reveal), code, question_id),
            ).rowcount
            if not found:
                raise QuestionNotFound(code, question_id)
            if not reveal:
                conn.execute(
                    "DELETE FROM answers WHERE code = ? AND question_id = ?", (code, question_id)
                )
            self._bump_version(conn, code)

    def _is_revealed(self, code: str, question_id: str, now: float) -> bool | None:
        with self._transaction(write=False) as conn:
            if self._live_key_hash(conn, code, now) is None:
                return None
            row = conn.execute(
                "SELECT revealed FROM questions WHERE code = ? AND question_id = ?",
                (code, question_id),
            ).fetchone()
        return bool(row and row[0])


__all__ = ["SQLiteStore"]
