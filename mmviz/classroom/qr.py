"""The student link and its QR code for the projector.

The link carries the class code only: the teacher key never leaves the teacher's session, so a
photo of the projector (or a student forwarding the link) gives no teacher powers.
"""

from __future__ import annotations

import io
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import segno

from .codes import parse_code
from .errors import InvalidInput

CLASS_PARAM = "class"  # ?class=K7MX3QRP


def student_link(app_url: str, code: str) -> str:
    """`app_url` with `?class=CODE` (other query parameters kept, e.g. hide/lock)."""
    parts = urlsplit(app_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"the app address {app_url!r} must be an http(s) URL with a host")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != CLASS_PARAM]
    query.append((CLASS_PARAM, parse_code(code)))
    return urlunsplit(parts._replace(query=urlencode(query), fragment=""))


def _qr(data: str) -> segno.QRCode:
    if not isinstance(data, str) or not data:
        raise InvalidInput("a QR code needs a non-empty text, such as the student link")
    # Error level M (15 % of the symbol may be unreadable): survives a dim projector and glare
    # while keeping the modules big enough to scan from the back of a room.
    return segno.make(data, error="m", micro=False)


def qr_svg(data: str, *, scale: int = 10, border: int = 4) -> bytes:
    """An SVG of `data`'s QR code (scales without blur on any projector)."""
    buffer = io.BytesIO()
    _qr(data).save(buffer, kind="svg", scale=scale, border=border, xmldecl=False)
    return buffer.getvalue()


def qr_png(data: str, *, scale: int = 10, border: int = 4) -> bytes:
    """A PNG of `data`'s QR code: (modules + 2 × border) × scale pixels square."""
    buffer = io.BytesIO()
    _qr(data).save(buffer, kind="png", scale=scale, border=border)
    return buffer.getvalue()


__all__ = ["CLASS_PARAM", "qr_png", "qr_svg", "student_link"]
