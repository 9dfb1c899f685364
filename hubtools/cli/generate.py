"""``hubtools generate``: write (or ``--check``) the manifest of a model
repository. It parses options, calls the generate pipeline, shows a progress
bar on a terminal, and echoes what :mod:`hubtools.render.generate` builds; it
collects, hashes and formats nothing itself."""

from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from hubtools.cli.group import EXIT_OK, EXIT_PROBLEMS, cli, note, verbosity
from hubtools.cli.options import (
    flag_option,
    format_option,
    ignore_option,
    jobs_option,
    strict_option,
)
from hubtools.generate.config import LAYOUTS

if TYPE_CHECKING:
    from tqdm import tqdm

    from hubtools.core.manifest import Manifest
    from hubtools.errors import Problem
    from hubtools.generate.pipeline import GenerateResult

log = logging.getLogger("hubtools")


class _HashingBar:
    """A progress bar of the bytes hashed, on stderr when it is a terminal."""

    def __init__(self) -> None:
        self.bar: tqdm[NoReturn] | None = None

    def on_total(self, total: int) -> None:
        if sys.stderr.isatty() and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="B", unit_scale=True, desc="hashing", file=sys.stderr)

    def progress(self, path: str, nbytes: int) -> None:
        if self.bar is not None:
            self.bar.update(nbytes)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _report(result: GenerateResult, repo: Path, previous_name: str | None, *, github: bool) -> None:
    """Echo the run's note, problems and summary to stderr (details to the -v log);
    with ``github``, each problem also as a workflow annotation on stdout, its
    file given from the current folder (where the workflow runs)."""
    from hubtools.errors import Severity
    from hubtools.render.generate import generate_details, generate_summary
    from hubtools.render.problems import github_command, problem_line, relocated

    level = verbosity(click.get_current_context())
    if not result.stats.is_git and level >= 0:
        click.echo(f"note: {repo} is not a git repository; walking all its files", err=True)
    for problem in result.report:
        if github:
            click.echo(github_command(relocated(problem, repo)))
        if problem.severity is Severity.ERROR or level >= -1:  # -qq: errors only
            click.echo(problem_line(problem), err=True)
    for detail in generate_details(result, previous_name):
        log.info("%s", detail)
    for line in generate_summary(result, previous_name) if level >= 0 else ():
        click.echo(line, err=True)


def _finish(
    ctx: click.Context,
    result: GenerateResult,
    code: int,
    outcome: str,
    *,
    fmt: str,
    changes: list[str] | None = None,
) -> NoReturn:
    """End the run: with ``--format json``, first the run as one JSON document
    (its outcome, problems, figures and, for --check, what would change)."""
    if fmt == "json":
        from hubtools.render.generate import generate_json

        click.echo(generate_json(result, outcome, changes or []))
    ctx.exit(code)


def _check(
    ctx: click.Context,
    result: GenerateResult,
    output: Path,
    repo: Path,
    failed: bool,
    fmt: str,
) -> NoReturn:
    """``--check``: exit 0 when ``output`` is up to date, else show what would change, exit 1."""
    from hubtools.core.diff import diff_manifests
    from hubtools.core.manifest import Manifest
    from hubtools.errors import ManifestError
    from hubtools.render.generate import check_lines

    text = fmt != "json"
    errors = len(result.report.errors)
    if errors:  # what generate would write is not known until they are fixed
        if text:
            click.echo(f"{output} not checked: {_errors_text(errors)}", err=True)
        _finish(ctx, result, EXIT_PROBLEMS, "not_checked", fmt=fmt)
    current = output.read_text(encoding="utf-8") if output.is_file() else None
    if current == result.dumps():
        if text:
            note(f"{output} is up to date")
        _finish(ctx, result, EXIT_PROBLEMS if failed else EXIT_OK, "up_to_date", fmt=fmt)
    try:
        before = Manifest.loads(current, str(output)) if current is not None else Manifest()
    except ManifestError as err:
        changes = [f"~ {output}: cannot be read ({err}); it would be written anew"]
    else:
        changes = check_lines(diff_manifests(before, result.manifest), str(output))
    if text:
        for line in changes:
            click.echo(line)
        click.echo(f"{output} would change; run `hubtools generate {repo}` to update it", err=True)
    _finish(ctx, result, EXIT_PROBLEMS, "would_change", fmt=fmt, changes=changes)


def _errors_text(errors: int) -> str:
    return f"{errors} error{'s' if errors != 1 else ''} above; fix them and run again"


def _own_manifest(repo: Path, name: str) -> Path:
    """``repo/name``, the manifest generate reads (to reuse and compare) and
    writes by default, once it is known to be a regular file inside the
    repository: a committed symlink must not make generate read outside it.

    Raises UsageError otherwise (nothing read).
    """
    from hubtools.errors import Problem, UsageError
    from hubtools.generate.repo import repo_file

    found = repo_file(repo, name, "generate stopped")
    if isinstance(found, Problem):
        raise UsageError(f"{repo / name} {found.message}; {found.hint}")
    return found


def _previous(
    own: Path | None, given: Path | None, *, use: bool
) -> tuple[Manifest | None, str | None, Problem | None]:
    """The manifest to reuse io_ports from, its name, and the warning that the
    repository's own could not be read (generation goes on without it).

    ``given`` (``--previous``) must be readable; else ``own`` (the repository's
    manifest) is read when ``use`` and it exists.
    """
    from hubtools.core.manifest import MANIFEST_NAME, Manifest
    from hubtools.errors import Location, ManifestError, Problem, Severity

    if given is not None:
        return Manifest.load(given), str(given), None
    if not use or own is None or not own.is_file():
        return None, None, None
    try:
        return Manifest.load(own), str(own), None
    except ManifestError as err:
        problem = Problem(
            "previous-unreadable",
            f"cannot be read, so no io_ports or extra_ports were reused from it: {err}",
            Location(MANIFEST_NAME),
            Severity.WARNING,
            "resolve the merge conflict in it (or delete it): generate writes it anew",
        )
        return None, None, problem


def _write(output: Path, text: str) -> None:
    """The manifest to ``output``, or to stdout for ``-``."""
    from hubtools.generate.pipeline import write_manifest

    if str(output) == "-":
        click.echo(text, nl=False)
        note("wrote the manifest to stdout")
        return
    write_manifest(output, text)
    note(f"wrote {output}")


@cli.command()
@click.argument("repo", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Manifest to write (default REPO/ONNX_HUB_MANIFEST.json; - for stdout). "
    "A symlink gets its target written; a FIFO or device is written through.",
)
@click.option(
    "--previous",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Manifest to reuse io_ports/extra_ports from, by sha256 "
    "(default: REPO/ONNX_HUB_MANIFEST.json, whatever -o says).",
)
@flag_option("--no-previous", help="Reuse nothing from an existing manifest.")
@click.option(
    "--layout",
    "layouts",
    multiple=True,
    type=click.Choice(list(LAYOUTS)),
    help="Collect this layout (repeatable); replaces `layouts` of hubtools.toml for this run. "
    "Default: readme-tables and turnkey when the repository follows them, files otherwise.",
)
@click.option(
    "--changed-since",
    metavar="REF",
    help="Recompute only files changed since this git ref; keep the rest from --previous.",
)
@flag_option("--check", help="Write nothing; exit 1 if the output would change.")
@jobs_option(
    "Files hashed in parallel.",
    default=1,
    show_default=True,
    envvar="HUBTOOLS_JOBS",
    show_envvar=True,
)
@strict_option
@ignore_option
@format_option(
    "text",
    "json",
    "github",
    help="text for people, json (the run as one document on stdout) for programs, "
    "github to add workflow annotations on stdout.",
)
@flag_option(
    "--include-unlinked",
    help="Also take model tables from READMEs that no top-level link reaches.",
)
@flag_option(
    "--include-skipped",
    help="Also take turnkey_stats.yaml model folders under a skip/ folder.",
)
@click.pass_context
def generate(
    ctx: click.Context,
    repo: Path,
    output: Path | None,
    previous: Path | None,
    no_previous: bool,
    layouts: tuple[str, ...],
    changed_since: str | None,
    check: bool,
    jobs: int,
    strict: bool,
    ignore: tuple[str, ...],
    fmt: str,
    include_unlinked: bool,
    include_skipped: bool,
) -> None:
    """Write the manifest of the model repository REPO: models from its README
    tables and its turnkey_stats.yaml model folders, or, in a folder that has
    neither, from its model files (see --layout and hubtools.toml).

    Exit 0 when written (or up to date with --check), 1 on errors, when
    warnings fail the run (--strict) or --check finds changes, 2 on usage or
    I/O errors. Nothing is written when the run fails.
    """
    from hubtools.core.manifest import MANIFEST_NAME
    from hubtools.errors import UsageError
    from hubtools.generate.config import read_generate_config
    from hubtools.generate.pipeline import generate_manifest

    if not repo.is_dir():
        raise click.BadParameter(f"{repo} is not a folder", param_hint="REPO")
    to_stdout = output is not None and str(output) == "-"
    if to_stdout and (check or fmt != "text"):
        raise UsageError(
            "-o - writes the manifest to stdout: --check and --format github or json need a file"
        )
    if previous is not None and no_previous:
        raise UsageError("--previous and --no-previous cannot be given together")
    config = read_generate_config(repo)
    ignored = [*config.ignore, *ignore]
    # The repository's own manifest is read (to reuse io_ports) whatever -o
    # says, once it is known to be a file inside the repository.
    needed = output is None or (previous is None and not no_previous)
    own = _own_manifest(repo, MANIFEST_NAME) if needed else None
    if output is None:
        output = own
    assert output is not None
    old, previous_name, unreadable = _previous(own, previous, use=not no_previous)
    bar = _HashingBar()
    try:
        result = generate_manifest(
            repo,
            previous=old,
            changed_since=changed_since,
            jobs=jobs,
            include_unlinked=include_unlinked,
            include_skipped=include_skipped,
            layouts=layouts or None,
            config=config,
            progress=bar.progress,
            on_total=bar.on_total,
        )
    finally:
        bar.close()
    if unreadable is not None:
        result.report.problems.insert(0, unreadable)
    result = dataclasses.replace(result, report=result.report.ignoring(ignored))
    if fmt != "json":
        _report(result, repo, previous_name, github=fmt == "github")
    failed = result.report.failed(strict=strict)
    if check:
        _check(ctx, result, output, repo, failed, fmt)
    if failed:
        errors = len(result.report.errors)
        why = _errors_text(errors) if errors else "warnings fail the run with --strict"
        if fmt != "json":
            click.echo(f"{'the manifest' if to_stdout else output} not written: {why}", err=True)
        _finish(ctx, result, EXIT_PROBLEMS, "not_written", fmt=fmt)
    _write(output, result.dumps())
    _finish(ctx, result, EXIT_OK, "written", fmt=fmt)
