"""Text every renderer shares. Text from untrusted manifests made safe for a
terminal or a Markdown page: control characters (C0, DEL, C1) and the Unicode
bidi controls that reorder what is shown are written as escapes, so a model
name cannot clear the screen, set a window title, or hide text. And the one
way text output gives a size (JSON gives bytes). Pure functions; never prints."""

from __future__ import annotations

import re

__all__ = ["escape_control", "human_size", "size_text"]

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control(text: str) -> str:
    """``text`` with every control and bidi character as ``\\xNN`` / ``\\uNNNN``."""
    return _UNSAFE.sub(_escape, text)


def human_size(size: int | None) -> str:
    """``158 B``, ``26.5 KiB``, ``-1.2 GiB``: powers of 1024, one decimal; empty for None."""
    if size is None:
        return ""
    value, unit = float(abs(size)), "B"
    for larger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    text = f"{abs(size)} B" if unit == "B" else f"{value:.1f} {unit}"
    return f"-{text}" if size < 0 else text


def size_text(size: int | None) -> str:
    """A size a person may compare with a file's: ``26.5 KiB (27136 bytes)``,
    ``217 bytes``, ``unknown`` for None."""
    if size is None:
        return "unknown"
    return f"{size} bytes" if abs(size) < 1024 else f"{human_size(size)} ({size} bytes)"
