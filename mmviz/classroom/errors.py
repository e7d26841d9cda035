"""What can go wrong in a live class, as exceptions whose message says what was wrong and what
to do, so the app can show `str(error)` to a teacher or a student as it is.

    ClassError
    ├── ClassNotFound      (LookupError)      the code names no live class
    ├── QuestionNotFound   (LookupError)      the teacher has not opened that question
    ├── NotAllowed         (PermissionError)
    │   ├── WrongTeacherKey                   a teacher action without the class's key
    │   ├── AnswersHidden                     a tally asked for before the reveal
    │   └── QuestionClosed                    an answer sent after the reveal
    ├── InvalidInput       (ValueError)
    │   ├── InvalidCode                       not shaped like a class code
    │   ├── InvalidStudentId
    │   └── InvalidAnswer                     not one of the options / not a number in range
    └── StoreUnavailable   (ConnectionError)  SQLite file or Redis server unreachable
"""

from __future__ import annotations


class ClassError(Exception):
    """Base of every class-store error; the message is meant for the person at the screen."""


class ClassNotFound(ClassError, LookupError):
    """Also raised for an expired or ended class: to a student they are the same."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(
            f"class {code} does not exist or has ended: ask your teacher for the current code"
        )


class QuestionNotFound(ClassError, LookupError):
    def __init__(self, code: str, question_id: str) -> None:
        self.code = code
        self.question_id = question_id
        super().__init__(
            f"class {code} has no question {question_id!r} yet: the teacher opens it when the "
            "lesson reaches it; wait for that stop"
        )


class NotAllowed(ClassError, PermissionError):
    """Refused because of who is asking or when."""


class WrongTeacherKey(NotAllowed):
    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(
            f"the teacher key for class {code} is wrong: only the session that started the "
            "class can publish, reveal, reset or end it; start a new class if that session is lost"
        )


class AnswersHidden(NotAllowed):
    def __init__(self, code: str, question_id: str) -> None:
        self.code = code
        self.question_id = question_id
        super().__init__(
            f"the answers to question {question_id!r} in class {code} are hidden until the "
            "teacher reveals them"
        )


class QuestionClosed(NotAllowed):
    def __init__(self, code: str, question_id: str) -> None:
        self.code = code
        self.question_id = question_id
        super().__init__(
            f"question {question_id!r} in class {code} has been revealed, so answers are "
            "closed: the teacher can reset the question to ask it again"
        )


class InvalidInput(ClassError, ValueError):
    """A value of the wrong type, size or shape; the message names it and what is accepted."""


class InvalidCode(InvalidInput):
    def __init__(self, text: object, why: str) -> None:
        self.text = text
        super().__init__(
            f"{text!r} is not a class code ({why}): a code is 8 letters and digits such as "
            "K7MX-3QRP; check it with your teacher"
        )


class InvalidStudentId(InvalidInput):
    def __init__(self, why: str) -> None:
        super().__init__(
            f"student id refused: {why}; give each browser session new_student_id() "
            "(a random secrets.token_urlsafe id)"
        )


class InvalidAnswer(InvalidInput):
    def __init__(self, question_id: str, why: str) -> None:
        self.question_id = question_id
        super().__init__(f"answer to question {question_id!r} refused: {why}")


class StoreUnavailable(ClassError, ConnectionError):
    """The backing store cannot be reached; single-user pages keep working without it."""

    def __init__(self, where: str, detail: object) -> None:
        self.where = where
        super().__init__(
            f"class store unavailable ({where}): {detail}. Single-user pages still work; the "
            "class resumes when the store is back"
        )


__all__ = [
    "AnswersHidden",
    "ClassError",
    "ClassNotFound",
    "InvalidAnswer",
    "InvalidCode",
    "InvalidInput",
    "InvalidStudentId",
    "NotAllowed",
    "QuestionClosed",
    "QuestionNotFound",
    "StoreUnavailable",
    "WrongTeacherKey",
]
