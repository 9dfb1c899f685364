"""Render a ``check-models`` run for people (one line a model and a summary),
programs (JSON) and GitHub Actions (an annotation per failing model). Pure
functions: they return what the CLI prints, never print, never import click."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from hubtools.errors import Location, Problem

if TYPE_CHECKING:
    from hubtools.check.model import Verdict
    from hubtools.check.suite import CheckResult

_STATUSES = ("pass", "fail", "error", "skip")


def verdict_line(verdict: Verdict) -> str:
    """``STATUS  model (opset N)  path: reason`` on one line."""
    sets = f"{verdict.test_sets} test set{'s' if verdict.test_sets != 1 else ''}"
    tail = verdict.reason or (sets if verdict.status == "pass" else "")
    text = f"{verdict.status:<5}  {verdict.model} (opset {verdict.opset})  {verdict.model_path}"
    return f"{text}: {tail}" if tail else text


def summary_line(result: CheckResult, seconds: float) -> str:
    """``checked N of M models in S s: a pass, b fail, c error, d skip``."""
    counts = ", ".join(f"{result.count(s)} {s}" for s in _STATUSES)
    return (
        f"checked {len(result.verdicts)} of {result.manifest_entries} models "
        f"in {seconds:.1f} s: {counts}"
    )


def verdict_problem(verdict: Verdict) -> Problem | None:
    """A failing or erroring model as a Problem located at its file (None otherwise)."""
    if verdict.status not in ("fail", "error"):
        return None
    return Problem(f"model-{verdict.status}", verdict.reason, Location(verdict.model_path))


def _verdict_json(verdict: Verdict) -> dict[str, object]:
    mismatch = verdict.mismatch
    return {
        "model": verdict.model,
        "model_path": verdict.model_path,
        "opset": verdict.opset,
        "status": verdict.status,
        "reason": verdict.reason,
        "test_sets": verdict.test_sets,
        "seconds": verdict.seconds,
        "mismatch": None
        if mismatch is None
        else {
            "output": mismatch.output,
            "where": mismatch.where,
            "expected": mismatch.expected,
            "got": mismatch.got,
            "max_abs_error": mismatch.max_abs,
            "max_rel_error": mismatch.max_rel,
        },
    }


def json_report(result: CheckResult, seconds: float) -> str:
    """The run as ``{"models": [...], "summary": {...}}``."""
    summary: Mapping[str, object] = {
        "selected": result.selected,
        "manifest_entries": result.manifest_entries,
        **{status: result.count(status) for status in _STATUSES},
        "seconds": round(seconds, 3),
        "passed": not result.failed,
    }
    return json.dumps(
        {"models": [_verdict_json(v) for v in result.verdicts], "summary": summary}, indent=2
    )
