"""Render the outcome of a generate run: the summary lines for stderr, the
details that ``-v`` adds, and the changes ``--check`` finds. Pure functions
over :class:`~hubtools.generate.pipeline.GenerateResult`: they return what
the CLI prints or logs (the ``git lfs pull`` commands that fill missing
io_ports included), never print, and never import click."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hubtools.render.diff import render_text
from hubtools.render.problems import counts_text
from hubtools.render.text import escape_control, human_size

if TYPE_CHECKING:
    from hubtools.core.diff import ManifestDiff
    from hubtools.generate.pipeline import GenerateResult

LISTED = 10  # paths a summary line names before it says "and N more"
#: The longest ``--include`` list of one suggested ``git lfs pull`` command.
COMMAND_CHARS = 4000


def lfs_pull_commands(paths: Sequence[str]) -> list[str]:
    """The ``git lfs pull`` commands that fetch ``paths``, quoted for a POSIX
    shell, as few as fit :data:`COMMAND_CHARS` each (one argument of over
    128 KiB fails with "Argument list too long")."""
    commands: list[str] = []
    chunk: list[str] = []
    for path in paths:
        if chunk and len(",".join((*chunk, path))) > COMMAND_CHARS:
            commands.append(_lfs_pull(chunk))
            chunk = []
        chunk.append(path)
    if chunk:
        commands.append(_lfs_pull(chunk))
    return commands


def _lfs_pull(paths: list[str]) -> str:
    return f"git lfs pull --include={shlex.quote(','.join(paths))}"


def generate_summary(result: GenerateResult, previous_name: str | None) -> list[str]:
    """Summary lines of a generate run; ``previous_name`` is the manifest the
    run was compared with (None: there was none)."""
    stats = result.stats
    counts = [
        ("entries", stats.entries),
        ("from pointers", stats.from_pointers),
        ("files hashed", stats.files_hashed),
    ]
    errors = len(result.report.errors)
    lines = [
        f"generated {counts_text(counts)} ({human_size(stats.bytes_hashed)} hashed); "
        f"io_ports reused: {stats.io_ports_reused}; facts kept from --changed-since: "
        f"{stats.facts_reused}; "
        + (f"errors: {errors}; " if errors else "")
        + f"warnings: {len(result.report.warnings)}"
        + (f" ({result.report.ignored} ignored)" if result.report.ignored else "")
    ]
    lines.extend(stats.notes)
    unlisted = len(stats.unlisted)
    if unlisted or stats.left_out:
        lines.append(
            f"{unlisted + stats.left_out} .onnx file{'s' if unlisted + stats.left_out != 1 else ''}"
            f" in no entry: {stats.left_out} left out as said above, {unlisted} unlisted "
            "(unlisted-model)"
        )
    if previous_name is not None and stats.new_entries:
        shown = stats.new_entries[:LISTED]
        more = len(stats.new_entries) - len(shown)
        lines.append(
            f"{len(stats.new_entries)} entries {previous_name} did not have: "
            + ", ".join(shown)
            + (f" and {more} more (-v lists them all)" if more else "")
        )
    if stats.io_ports_missing:
        text = (
            f"{len(stats.io_ports_missing)} entries have no io_ports (content not pulled, "
            "no previous entry with the same sha); fill them with: "
        )
        commands = lfs_pull_commands(stats.io_ports_missing)
        if len(stats.io_ports_missing) <= LISTED and len(commands) == 1:
            lines.append(text + commands[0])
        else:
            lines.append(text + "the commands `-v` shows")
    return [escape_control(line) for line in lines]  # paths and notes come from the repository


def generate_details(result: GenerateResult, previous_name: str | None) -> list[str]:
    """What the summary cut short, for ``-v``, one item per line: every new
    entry when more than :data:`LISTED` were, and every entry without io_ports
    with the ``git lfs pull`` commands that fill them when they were not shown."""
    stats = result.stats
    lines = []
    if previous_name is not None and len(stats.new_entries) > LISTED:
        lines.append(f"{len(stats.new_entries)} entries {previous_name} did not have:")
        lines += [f"  {escape_control(path)}" for path in stats.new_entries]
    commands = lfs_pull_commands(stats.io_ports_missing)
    if len(stats.io_ports_missing) > LISTED or len(commands) > 1:
        lines.append(f"{len(stats.io_ports_missing)} entries have no io_ports:")
        lines += [f"  {escape_control(path)}" for path in stats.io_ports_missing]
        lines.append("fill them with:")
        lines += [f"  {escape_control(command)}" for command in commands]
    return lines


def check_lines(changes: ManifestDiff, output: str) -> list[str]:
    """What ``generate --check`` prints when ``output`` would change: the diff
    lines, or a formatting line when only the bytes differ."""
    lines = render_text(changes)
    if changes.same:
        lines.append(f"~ {output}: formatting")
    return lines


def generate_json(result: GenerateResult, outcome: str, changes: list[str]) -> str:
    """``generate --format json``: the outcome (``written``, ``up_to_date``,
    ``would_change``, ``not_written`` or ``not_checked``), every problem, the
    run's figures, and for --check the lines of what would change."""
    import json

    from hubtools.render.problems import problem_json

    stats = result.stats
    report = result.report
    summary = {
        "entries": stats.entries,
        "from_pointers": stats.from_pointers,
        "files_hashed": stats.files_hashed,
        "bytes_hashed": stats.bytes_hashed,
        "io_ports_reused": stats.io_ports_reused,
        "facts_reused": stats.facts_reused,
        "io_ports_missing": len(stats.io_ports_missing),
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "ignored": report.ignored,
    }
    document = {
        "outcome": outcome,
        "problems": [problem_json(p) for p in report],
        "summary": summary,
        "changes": changes,
    }
    return json.dumps(document, indent=2)
