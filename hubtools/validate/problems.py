"""The validator's Problem constructor: a problem located by the source's name
and a JSON pointer, whose line and column the caller fills in later from the
text. It must not read files or run any check itself.
"""

from __future__ import annotations

from hubtools.errors import Location, Problem, Severity

__all__ = ["problem_at"]


def problem_at(
    source: str,
    pointer: str,
    code: str,
    message: str,
    hint: str | None = None,
    severity: Severity = Severity.ERROR,
) -> Problem:
    """A problem at ``pointer`` in ``source`` (an error unless ``severity`` says otherwise)."""
    return Problem(code, message, Location(source, pointer=pointer), severity, hint)
