"""Text from untrusted manifests made safe for a terminal or a Markdown page:
control characters (C0, DEL, C1) and the Unicode bidi controls that reorder
what is shown are written as escapes, so a model name cannot clear the
screen, set a window title, or hide text. Pure functions; never prints."""

from __future__ import annotations

import re

__all__ = ["escape_control"]

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control(text: str) -> str:
    """``text`` with every control and bidi character as ``\\xNN`` / ``\\uNNNN``."""
    return _UNSAFE.sub(_escape, text)
