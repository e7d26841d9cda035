"""A live class: the store behind it (codes, teacher keys, the teacher's published state,
questions and the room's answers) and the student link's QR code. No Streamlit here: pages
call `open_store()` and show `str(error)` for any ClassError.

    store = open_store()                                   # SQLite, or Redis from the env
    code, teacher_key = store.create_class("lesson-1")
    store.register_question(code, teacher_key, "q1", ChoiceRule(("A", "B", "C")))
    me = store.join(code)                                  # a student's random id
    store.submit_answer(code, me, "q1", "B")
    store.tally(code, "q1", teacher_key)                   # the teacher sees the counts
    store.reveal(code, teacher_key, "q1")                  # now everyone may
"""

from __future__ import annotations

from .codes import (
    ALPHABET,
    CODE_LENGTH,
    CODE_SPACE,
    DEFAULT_TTL_S,
    format_code,
    new_student_id,
    parse_code,
)
from .errors import (
    AnswersHidden,
    ClassError,
    ClassNotFound,
    InvalidAnswer,
    InvalidCode,
    InvalidInput,
    InvalidStudentId,
    NotAllowed,
    QuestionClosed,
    QuestionNotFound,
    StoreUnavailable,
    WrongTeacherKey,
)
from .rules import ChoiceRule, ChoiceTally, NumberRule, NumberTally, Rule, Tally
from .store import ClassInfo, ClassState, ClassStore, open_store

__all__ = [
    "ALPHABET",
    "CODE_LENGTH",
    "CODE_SPACE",
    "DEFAULT_TTL_S",
    "AnswersHidden",
    "ChoiceRule",
    "ChoiceTally",
    "ClassError",
    "ClassInfo",
    "ClassNotFound",
    "ClassState",
    "ClassStore",
    "InvalidAnswer",
    "InvalidCode",
    "InvalidInput",
    "InvalidStudentId",
    "NotAllowed",
    "NumberRule",
    "NumberTally",
    "QuestionClosed",
    "QuestionNotFound",
    "Rule",
    "StoreUnavailable",
    "Tally",
    "WrongTeacherKey",
    "format_code",
    "new_student_id",
    "open_store",
    "parse_code",
]
