"""Render problems and the verdict of a validate run for people (text),
programs (JSON) and GitHub Actions (workflow commands). Pure functions: they
return what the CLI prints, never print, and never import click."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from hubtools.errors import Problem, Report, Severity
from hubtools.render.text import human_size


def problem_line(problem: Problem) -> str:
    """``file:line:col: severity CODE pointer: message (fix: hint)`` on one line."""
    return str(problem)


def problem_lines(problem: Problem, *, github: bool = False) -> list[str]:
    """The stdout lines of one problem: its text line, after its workflow
    command (:func:`github_command`) with ``github``."""
    line = problem_line(problem)
    return [github_command(problem), line] if github else [line]


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


def relocated(problem: Problem, folder: Path) -> Problem:
    """``problem`` with its file given from the current folder rather than from
    ``folder`` (a repository's paths, for an annotation made in the workspace)."""
    import dataclasses
    import posixpath

    if str(folder) in ("", "."):
        return problem
    where = posixpath.normpath(posixpath.join(folder.as_posix(), problem.location.file))
    return dataclasses.replace(problem, location=dataclasses.replace(problem.location, file=where))


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


#: How a counter (a snake_case key in JSON) reads in text.
_COUNT_WORDS = {"from_lfs_pointers": "from LFS pointers"}
#: Counters of bytes, and the counter whose size they are.
_SIZE_OF = {"bytes_hashed": "hashed"}


def counts_text(counts: Iterable[tuple[str, int]]) -> str:
    """``7 files, 1 from LFS pointers, 6 hashed (1.2 MiB)`` from (counter, n) pairs:
    a size follows the count it measures, or stands as ``1.2 MiB hashed``."""
    parts: dict[str, str] = {}
    for what, n in counts:
        if what in _SIZE_OF:
            owner = _SIZE_OF[what]
            if owner in parts:
                parts[owner] += f" ({human_size(n)})"
            else:
                parts[what] = f"{human_size(n)} {owner}"
        else:
            parts[what] = f"{n} {_COUNT_WORDS.get(what, what.replace('_', ' '))}"
    return ", ".join(parts.values())


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("s" if n != 1 else "")


def validate_summary(
    checked: Mapping[str, int], report: Report, *, valid: bool
) -> dict[str, object]:
    """The ``summary`` object of ``validate --format json``: what was checked,
    how many errors and warnings, and whether the run is valid."""
    return {
        **checked,
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "ignored": report.ignored,
        "valid": valid,
    }


def verdict_line(
    report: Report, checked: Mapping[str, int], *, failed: bool, unreadable: bool
) -> str:
    """The last line of a validate run: ``valid: 0 errors, 1 warning; checked
    3 entries`` (the count of manifests is left out of what was checked)."""
    if unreadable:
        verdict = "not validated: a manifest could not be read"
    else:
        verdict = f"{'invalid' if failed else 'valid'}: {_plural(len(report.errors), 'error')}"
        verdict += f", {_plural(len(report.warnings), 'warning')}"
        if report.ignored:
            verdict += f" ({report.ignored} ignored)"
    counts = [(k, v) for k, v in checked.items() if k != "manifests"]
    return verdict + (f"; checked {counts_text(counts)}" if counts else "")
