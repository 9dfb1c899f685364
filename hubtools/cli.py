"""The ``hubtools`` command line: the only module that imports click.

Each command parses options, calls one library function and turns its result
into output and an exit code: 0 clean, 1 problems found, 2 usage or I/O error.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

import click

from hubtools import __version__
from hubtools.errors import HubtoolsError

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2

log = logging.getLogger("hubtools")


def _configure_logging(verbose: int, quiet: int) -> None:
    level = logging.WARNING - 10 * verbose + 10 * quiet
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(max(logging.DEBUG, min(level, logging.CRITICAL)))
    log.propagate = False


def _fail(err: BaseException, debug: bool, code: int = EXIT_ERROR) -> NoReturn:
    """Print an error the way a user wants to read it, then exit with ``code``."""
    if debug:
        traceback.print_exception(err)
    click.echo(f"hubtools: error: {err}", err=True)
    sys.exit(code)


class _Group(click.Group):
    """A group that turns HubtoolsError into a one-line message and exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HubtoolsError as err:
            debug = bool(ctx.obj and ctx.obj.get("debug"))
            _fail(err, debug, getattr(err, "exit_code", EXIT_ERROR))
        except KeyboardInterrupt:
            click.echo("hubtools: interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hubtools")
@click.option("-v", "--verbose", count=True, help="More diagnostics on stderr (repeatable).")
@click.option("-q", "--quiet", count=True, help="Fewer diagnostics on stderr (repeatable).")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int, debug: bool) -> None:
    """Generate, validate and use ONNX model hub manifests."""
    ctx.obj = {"debug": debug}
    _configure_logging(verbose, quiet)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``hubtools`` console script."""
    cli.main(args=argv, prog_name="hubtools")


# ---- commands ------------------------------------------------------------
# Each command sits in its own section below, headed "# ---- <name> ----".


# ---- validate ----------------------------------------------------------------


@cli.command()
@click.argument("manifests", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also check every path, sha256, size, opset and io_ports against this repository.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    envvar="HUBTOOLS_FORMAT",
    show_envvar=True,
    help="text for people, json for programs, github for workflow annotations.",
)
@click.option("--strict", is_flag=True, help="Warnings fail the run too (exit 1).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Files checked in parallel.")
@click.pass_context
def validate(
    ctx: click.Context,
    manifests: tuple[Path, ...],
    repo: Path | None,
    fmt: str,
    strict: bool,
    jobs: int | None,
) -> None:
    """Lint MANIFEST files: JSON Schema, semantic checks, and with --repo the files.

    Exit 0 when valid, 1 when problems were found, 2 when a file cannot be read.
    """
    from hubtools.checks import validate_manifest
    from hubtools.errors import Location, ManifestError, Problem, Report
    from hubtools.formats import counts_text, github_command, json_report, problem_line

    if repo is not None and not repo.is_dir():
        raise click.BadParameter(f"{repo} is not a directory", param_hint="--repo")
    problems: list[Problem] = []
    totals = Report()
    unreadable = False
    for path in manifests:
        try:
            result = validate_manifest(path, repo=repo, jobs=jobs)
        except ManifestError as err:
            unreadable = True
            problems.append(Problem("unreadable", str(err), Location(str(path))))
            continue
        problems.extend(result.report)
        totals.count("manifests")
        for what, n in result.report.checked.items():
            totals.count(what, n)
    report = Report(problems)
    failed = report.failed(strict=strict)
    if fmt == "json":
        summary: dict[str, object] = {
            **totals.checked,
            "errors": len(report.errors),
            "warnings": len(report.warnings),
            "valid": not failed and not unreadable,
        }
        click.echo(json_report(problems, summary))
    else:
        for problem in problems:
            if problem.code == "unreadable" and fmt == "text":
                click.echo(f"hubtools: error: {problem.message}", err=True)
                continue
            if fmt == "github":
                click.echo(github_command(problem))
            click.echo(problem_line(problem))
        counts = [(k, v) for k, v in totals.checked.items() if k != "manifests"]
        if unreadable:
            verdict = "not validated: a manifest could not be read"
        else:
            errors, warnings = len(report.errors), len(report.warnings)
            verdict = f"{'invalid' if failed else 'valid'}: {errors} error" + (
                "s" if errors != 1 else ""
            )
            verdict += f", {warnings} warning" + ("s" if warnings != 1 else "")
        click.echo(verdict + (f"; checked {counts_text(counts)}" if counts else ""), err=True)
    ctx.exit(EXIT_ERROR if unreadable else EXIT_PROBLEMS if failed else EXIT_OK)


# ---- diff ----------------------------------------------------------------------


@cli.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for programs.",
)
@click.pass_context
def diff_command(ctx: click.Context, old: Path, new: Path, fmt: str) -> None:
    """Show entries added, removed, changed (field by field) and moved between two
    manifests, and every model name whose default resolution changes.

    Exit 0 when the manifests hold the same entries, 1 when they differ, 2 when
    one cannot be read.
    """
    import json

    from hubtools.diff import diff_manifests, render_text, summary_text, to_json
    from hubtools.jsonfile import read_json_file
    from hubtools.manifest import Manifest

    manifests = [Manifest.from_json(read_json_file(p).data) for p in (old, new)]
    result = diff_manifests(*manifests)
    if fmt == "json":
        click.echo(json.dumps(to_json(result), indent=2, ensure_ascii=False))
    else:
        for line in render_text(result):
            click.echo(line)
        click.echo(summary_text(result), err=True)
    ctx.exit(EXIT_OK if result.same else EXIT_PROBLEMS)


# ---- generate ----------------------------------------------------------------


def _generate_summary(result: Any, previous_name: str | None) -> list[str]:
    """Summary lines of a generate run (stderr)."""
    from hubtools.formats import counts_text

    stats = result.stats
    mb = stats.bytes_hashed / 1e6
    counts = [
        ("entries", stats.entries),
        ("from pointers", stats.from_pointers),
        ("files hashed", stats.files_hashed),
    ]
    lines = [
        f"generated {counts_text(counts)} ({mb:.1f} MB hashed); "
        f"io_ports reused: {stats.io_ports_reused}; facts kept from --changed-since: "
        f"{stats.facts_reused}; warnings: {len(result.report.warnings)}"
    ]
    if previous_name is not None and stats.new_entries:
        lines.append(
            f"{len(stats.new_entries)} entries {previous_name} did not have: "
            + ", ".join(stats.new_entries)
        )
    if stats.io_ports_missing:
        missing = len(stats.io_ports_missing)
        text = (
            f"{missing} entries have no io_ports (content not pulled, no previous entry "
            "with the same sha); fill them with: "
        )
        if missing <= 10:
            lines.append(text + str(stats.lfs_pull_command))
        else:
            lines.append(text + "the command `-v` shows")
            log.info("%s", stats.lfs_pull_command)
    return lines


@cli.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Manifest to write (default REPO/ONNX_HUB_MANIFEST.json).",
)
@click.option(
    "--previous",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Manifest to reuse io_ports/extra_ports from, by sha256 (default: the output file).",
)
@click.option(
    "--changed-since",
    metavar="REF",
    help="Recompute only files changed since this git ref; keep the rest from --previous.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if the output would change.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    envvar="HUBTOOLS_JOBS",
    show_envvar=True,
    help="Files hashed in parallel.",
)
@click.option("--strict", is_flag=True, help="Warnings fail the run too (exit 1).")
@click.option(
    "--include-unlinked",
    is_flag=True,
    help="Also take model tables from READMEs that no top-level link reaches.",
)
@click.pass_context
def generate(
    ctx: click.Context,
    repo: Path,
    output: Path | None,
    previous: Path | None,
    changed_since: str | None,
    check: bool,
    jobs: int,
    strict: bool,
    include_unlinked: bool,
) -> None:
    """Write the manifest of the model repository REPO from its README tables.

    Exit 0 when written (or up to date with --check), 1 when warnings fail the
    run (--strict) or --check finds changes, 2 on usage or I/O errors.
    Nothing is written when the run fails.
    """
    from hubtools.formats import problem_line
    from hubtools.generate import compare_manifests, generate_manifest, write_manifest
    from hubtools.manifest import MANIFEST_NAME, Manifest

    if not repo.is_dir():
        raise click.BadParameter(f"{repo} is not a folder", param_hint="REPO")
    output = output if output is not None else repo / MANIFEST_NAME
    previous_path = previous if previous is not None else (output if output.is_file() else None)
    old = Manifest.load(previous_path) if previous_path is not None else None

    bar: Any = None

    def on_total(total: int) -> None:
        nonlocal bar
        if sys.stderr.isatty() and total:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="B", unit_scale=True, desc="hashing", file=sys.stderr)

    def progress(path: str, nbytes: int) -> None:
        if bar is not None:
            bar.update(nbytes)

    try:
        result = generate_manifest(
            repo,
            previous=old,
            changed_since=changed_since,
            jobs=jobs,
            include_unlinked=include_unlinked,
            progress=progress,
            on_total=on_total,
        )
    finally:
        if bar is not None:
            bar.close()
    if not result.stats.is_git:
        click.echo(f"note: {repo} is not a git repository; walking all its files", err=True)
    for problem in result.report:
        click.echo(problem_line(problem), err=True)
    for line in _generate_summary(result, str(previous_path) if previous_path else None):
        click.echo(line, err=True)
    failed = result.report.failed(strict=strict)
    text = result.manifest.dumps()
    if check:
        current = output.read_text(encoding="utf-8") if output.is_file() else None
        if current == text:
            click.echo(f"{output} is up to date", err=True)
            ctx.exit(EXIT_PROBLEMS if failed else EXIT_OK)
        before = Manifest.loads(current) if current is not None else Manifest()
        changes = compare_manifests(before, result.manifest)
        for path in changes.added:
            click.echo(f"added: {path}")
        for path in changes.removed:
            click.echo(f"removed: {path}")
        for path, fields in changes.changed:
            click.echo(f"changed: {path}: {', '.join(fields)}")
        if not changes:
            click.echo(f"changed: {output}: formatting")
        click.echo(f"{output} would change; run `hubtools generate {repo}` to update it", err=True)
        ctx.exit(EXIT_PROBLEMS)
    if failed:
        click.echo(f"{output} not written: warnings fail the run with --strict", err=True)
        ctx.exit(EXIT_PROBLEMS)
    write_manifest(output, text)
    click.echo(f"wrote {output}", err=True)
    ctx.exit(EXIT_OK)
