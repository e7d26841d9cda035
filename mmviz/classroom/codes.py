"""Class codes, teacher keys and student ids: every one drawn with `secrets`, none derived from
another.

**Class codes** are short enough to read off a projector and too many to find by guessing.
`ALPHABET` has 31 characters, the digits 2-9 and the capitals without I, L and O (0/O and 1/I/L
are the pairs people misread, so none of them is used), and a code is `CODE_LENGTH` = 8 of them:
31**8 = 852,891,037,441 ≈ 8.5e11 codes.

Enumeration, with generous numbers for the attacker: one Streamlit server on the project's
2-core machine serves some hundreds of page reruns a second, so assume 1,000 join attempts a
second aimed at it for a class's whole default lifetime, 6 h = 21,600 s: 2.16e7 attempts. With
100 classes live at once each attempt hits one with probability 100 / 8.5e11, so the expected
number of hits is 2.16e7 × 100 / 8.5e11 ≈ 2.5e-3, and for a server with one class 2.5e-5
(`expected_guess_hits` computes these).

So the store keeps no attempt limit. A limit has to know who is trying, which means an IP
address, personal data the store promises not to keep; and a whole school behind one NAT shares
one, so a limit tight enough to matter would lock a room out after a few mistyped codes. What a
stranger who did get in could do is answer anonymously and see what the room sees after a reveal.

**Teacher keys** are `secrets.token_urlsafe(32)` (256 bits), independent of the code; the store
keeps only their SHA-256 and compares in constant time, so neither the code, the student link nor
the store's contents give the key.

**Student ids** are `secrets.token_urlsafe(16)` (128 bits), made per browser session: the only
thing the store keeps about a student besides their answers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from .errors import InvalidCode, InvalidStudentId

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
CODE_LENGTH = 8
CODE_SPACE = len(ALPHABET) ** CODE_LENGTH  # 852,891,037,441
DEFAULT_TTL_S = 6 * 3600
SEPARATORS = " -_"  # what people type between the two halves; dropped when parsing

STUDENT_ID_MIN, STUDENT_ID_MAX = 16, 64
_STUDENT_ID = re.compile(r"[A-Za-z0-9_-]+")
_TEACHER_KEY_MAX = 256


def new_code() -> str:
    """A fresh class code: `CODE_LENGTH` characters of `ALPHABET`, uniformly at random."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def parse_code(text: object) -> str:
    """The canonical code in what someone typed ("k7mx-3qrp" -> "K7MX3QRP"), or InvalidCode."""
    if not isinstance(text, str):
        raise InvalidCode(text, f"a code is text, not {type(text).__name__}")
    code = "".join(ch for ch in text.strip().upper() if ch not in SEPARATORS)
    if len(code) != CODE_LENGTH:
        raise InvalidCode(text, f"it has {len(code)} characters, not {CODE_LENGTH}")
    wrong = sorted({ch for ch in code if ch not in ALPHABET})
    if wrong:
        hint = " (codes never use 0, O, 1, I or L)" if set(wrong) & set("0O1IL") else ""
        raise InvalidCode(text, f"{''.join(wrong)!r} cannot appear in a code{hint}")
    return code


def format_code(code: str) -> str:
    """The code as shown on a projector, in two halves: "K7MX3QRP" -> "K7MX-3QRP"."""
    code = parse_code(code)
    half = CODE_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


def expected_guess_hits(attempts_per_s: float, seconds: float, live_classes: int) -> float:
    """How many live classes a stranger guessing codes at random is expected to find."""
    return attempts_per_s * seconds * live_classes / CODE_SPACE


def new_teacher_key() -> str:
    """256 random bits; nothing about the class is in it."""
    return secrets.token_urlsafe(32)


def hash_teacher_key(teacher_key: str) -> str:
    """What the store keeps instead of the key. The key is 256 random bits, so one SHA-256
    (not a slow password hash) already makes it impossible to recover."""
    return hashlib.sha256(teacher_key.encode()).hexdigest()


def teacher_key_matches(teacher_key: object, stored_hash: str) -> bool:
    """Constant-time comparison of a presented key with the stored hash; False for non-keys."""
    if not isinstance(teacher_key, str) or not 0 < len(teacher_key) <= _TEACHER_KEY_MAX:
        return False
    return hmac.compare_digest(hash_teacher_key(teacher_key), stored_hash)


def new_student_id() -> str:
    """A random id for one browser session (22 URL-safe characters, 128 bits)."""
    return secrets.token_urlsafe(16)


def check_student_id(student_id: object) -> str:
    """`student_id` itself if it looks like `new_student_id()`'s output, else InvalidStudentId."""
    if not isinstance(student_id, str):
        raise InvalidStudentId(f"it is {type(student_id).__name__}, not text")
    if not STUDENT_ID_MIN <= len(student_id) <= STUDENT_ID_MAX:
        raise InvalidStudentId(
            f"it has {len(student_id)} characters, not {STUDENT_ID_MIN} to {STUDENT_ID_MAX}"
        )
    if not _STUDENT_ID.fullmatch(student_id):
        raise InvalidStudentId("only letters, digits, '-' and '_' are allowed")
    return student_id


__all__ = [
    "ALPHABET",
    "CODE_LENGTH",
    "CODE_SPACE",
    "DEFAULT_TTL_S",
    "check_student_id",
    "expected_guess_hits",
    "format_code",
    "hash_teacher_key",
    "new_code",
    "new_student_id",
    "new_teacher_key",
    "parse_code",
    "teacher_key_matches",
]
