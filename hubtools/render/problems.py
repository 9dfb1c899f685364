"""Render problems for people (text), programs (JSON) and GitHub Actions
(workflow commands). Pure functions: the CLI prints what they return."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from hubtools.errors import Problem, Severity


def problem_line(problem: Problem) -> str:
    """``file:line:col: severity CODE pointer: message (fix: hint)`` on one line."""
    return str(problem)


def problem_json(problem: Problem) -> dict[str, object]:
    """A problem as a JSON object with every field (null where unknown)."""
    loc = problem.location
    return {
        "code": problem.code,
        "severity": problem.severity.value,
        "message": problem.message,
        "hint": problem.hint,
        "file": loc.file,
        "line": loc.line,
        "column": loc.column,
        "pointer": loc.pointer,
    }


def _escape_data(text: str) -> str:
    # https://github.com/actions/toolkit/blob/main/packages/core/src/command.ts
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_command(problem: Problem) -> str:
    """A ``::error file=…,line=…,col=…,title=…::message`` workflow command."""
    loc = problem.location
    kind = "error" if problem.severity is Severity.ERROR else "warning"
    props = [f"file={_escape_property(loc.file)}"]
    if loc.line is not None:
        props.append(f"line={loc.line}")
    if loc.column is not None:
        props.append(f"col={loc.column}")
    props.append(f"title={_escape_property(problem.code)}")
    message = problem.message
    if loc.pointer is not None:
        message = f"{loc.pointer or '/'}: {message}"
    if problem.hint:
        message += f"\n{problem.hint}"
    return f"::{kind} {','.join(props)}::{_escape_data(message)}"


def json_report(problems: Sequence[Problem], summary: dict[str, object]) -> str:
    """The whole run as one JSON document: ``{"problems": [...], "summary": {...}}``."""
    return json.dumps(
        {"problems": [problem_json(p) for p in problems], "summary": summary}, indent=2
    )


def counts_text(counts: Iterable[tuple[str, int]]) -> str:
    """``3 files, 2 from LFS pointers`` from (what, n) pairs."""
    return ", ".join(f"{n} {what}" for what, n in counts)
