"""``hubtools validate``: lint manifests and exit 0 (valid), 1 (problems) or 2
(unreadable). It parses options, calls the validator, and echoes what
:mod:`hubtools.render.problems` builds; it checks and formats nothing itself."""

from __future__ import annotations

from pathlib import Path

import click

from hubtools.cli.group import EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, cli, note
from hubtools.cli.options import (
    flag_option,
    format_option,
    ignore_option,
    jobs_option,
    strict_option,
)
from hubtools.errors import Location, ManifestError, Problem, Report


def _ignored_codes(root: Path, given: tuple[str, ...]) -> list[str]:
    """``--ignore`` codes plus ``ignore`` of ``[validate]`` in ``root/hubtools.toml``."""
    from hubtools.core.hubconfig import CONFIG_NAME, read_table, string_list

    table = read_table(root, "validate", known=("ignore",))
    return [*string_list(table, "ignore", f"{root / CONFIG_NAME}: [validate]"), *given]


def _validate_all(
    manifests: tuple[Path, ...],
    repo: Path | None,
    jobs: int | None,
    *,
    with_files: bool,
    ignore: tuple[str, ...],
) -> tuple[list[Problem], Report, bool]:
    """The problems of every manifest, the totals of what was checked (and how
    many problems were ignored), and whether a manifest could not be read (its
    problem has code ``unreadable``)."""
    from hubtools.validate.checks import validate_manifest

    problems: list[Problem] = []
    totals = Report()
    unreadable = False
    for path in manifests:
        root = repo if repo is not None else path.parent
        try:
            result = validate_manifest(path, repo=root if with_files or repo else None, jobs=jobs)
        except ManifestError as err:
            unreadable = True
            where = Location(str(path), err.line, err.column)
            hint = "fix the JSON at that line and column" if err.line is not None else None
            message = err.detail if err.line is not None else str(err)
            problems.append(Problem("unreadable", message, where, hint=hint))
            continue
        kept = result.report.ignoring(_ignored_codes(root, ignore))
        problems.extend(kept)
        totals.ignored += kept.ignored
        totals.count("manifests")
        for what, n in kept.checked.items():
            totals.count(what, n)
    return problems, totals, unreadable


@cli.command()
@click.argument("manifests", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also check every path, sha256, size, opset and io_ports against this repository.",
)
@format_option(
    "text",
    "json",
    "github",
    envvar="HUBTOOLS_FORMAT",
    show_envvar=True,
    help="text for people, json for programs, github for workflow annotations.",
)
@flag_option(
    "--with-files",
    help="Check each manifest against the files of the folder it sits in "
    "(what --repo DIR does with DIR).",
)
@strict_option
@ignore_option
@jobs_option("Files checked in parallel.")
@click.pass_context
def validate(
    ctx: click.Context,
    manifests: tuple[Path, ...],
    repo: Path | None,
    fmt: str,
    with_files: bool,
    strict: bool,
    ignore: tuple[str, ...],
    jobs: int | None,
) -> None:
    """Lint MANIFEST files: JSON Schema, semantic checks, and with --repo (or
    --with-files) every path, sha256, size, opset and io_ports against the files.

    Exit 0 when valid, 1 when problems were found, 2 when a file cannot be read.
    """
    from hubtools.render.problems import json_report, problem_lines, validate_summary, verdict_line

    if repo is not None and not repo.is_dir():
        raise click.BadParameter(f"{repo} is not a directory", param_hint="--repo")
    problems, totals, unreadable = _validate_all(
        manifests, repo, jobs, with_files=with_files, ignore=ignore
    )
    report = Report(problems, ignored=totals.ignored)
    failed = report.failed(strict=strict)
    if fmt == "json":
        summary = validate_summary(totals.checked, report, valid=not failed and not unreadable)
        click.echo(json_report(problems, summary))
    else:
        for problem in problems:
            if problem.code == "unreadable" and fmt == "text":
                where = f"{problem.location}: " if problem.location.line is not None else ""
                click.echo(f"hubtools: error: {where}{problem.message}", err=True)
                continue
            for line in problem_lines(problem, github=fmt == "github"):
                click.echo(line)
        verdict = verdict_line(report, totals.checked, failed=failed, unreadable=unreadable)
        note(verdict)
    ctx.exit(EXIT_ERROR if unreadable else EXIT_PROBLEMS if failed else EXIT_OK)
