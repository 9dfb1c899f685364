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

from hubtools.cli.group import EXIT_OK, EXIT_PROBLEMS, cli
from hubtools.cli.options import (
    flag_option,
    format_option,
    ignore_option,
    jobs_option,
    strict_option,
)

if TYPE_CHECKING:
    from tqdm import tqdm

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
    from hubtools.render.generate import generate_details, generate_summary
    from hubtools.render.problems import github_command, problem_line, relocated

    if not result.stats.is_git:
        click.echo(f"note: {repo} is not a git repository; walking all its files", err=True)
    for problem in result.report:
        if github:
            click.echo(github_command(relocated(problem, repo)))
        click.echo(problem_line(problem), err=True)
    for detail in generate_details(result, previous_name):
        log.info("%s", detail)
    for line in generate_summary(result, previous_name):
        click.echo(line, err=True)


def _check(
    ctx: click.Context, result: GenerateResult, output: Path, repo: Path, failed: bool
) -> NoReturn:
    """``--check``: exit 0 when ``output`` is up to date, else show what would change, exit 1."""
    from hubtools.core.diff import diff_manifests
    from hubtools.core.manifest import Manifest
    from hubtools.render.generate import check_lines

    current = output.read_text(encoding="utf-8") if output.is_file() else None
    if current == result.manifest.dumps():
        click.echo(f"{output} is up to date", err=True)
        ctx.exit(EXIT_PROBLEMS if failed else EXIT_OK)
    before = Manifest.loads(current) if current is not None else Manifest()
    for line in check_lines(diff_manifests(before, result.manifest), str(output)):
        click.echo(line)
    click.echo(f"{output} would change; run `hubtools generate {repo}` to update it", err=True)
    ctx.exit(EXIT_PROBLEMS)


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
    "text", "github", help="text for people, github to add workflow annotations on stdout."
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
    tables and from its turnkey_stats.yaml model folders.

    Exit 0 when written (or up to date with --check), 1 when warnings fail the
    run (--strict) or --check finds changes, 2 on usage or I/O errors.
    Nothing is written when the run fails.
    """
    from hubtools.core.hubconfig import CONFIG_NAME, read_table, string_list
    from hubtools.core.manifest import MANIFEST_NAME, Manifest
    from hubtools.generate.pipeline import generate_manifest, write_manifest

    if not repo.is_dir():
        raise click.BadParameter(f"{repo} is not a folder", param_hint="REPO")
    config = read_table(repo, "generate", known=("ignore",))
    ignored = [*string_list(config, "ignore", f"{repo / CONFIG_NAME}: [generate]"), *ignore]
    if output is None:
        output = _own_manifest(repo, MANIFEST_NAME)
    previous_path = previous if previous is not None else (output if output.is_file() else None)
    old = Manifest.load(previous_path) if previous_path is not None else None
    bar = _HashingBar()
    try:
        result = generate_manifest(
            repo,
            previous=old,
            changed_since=changed_since,
            jobs=jobs,
            include_unlinked=include_unlinked,
            include_skipped=include_skipped,
            progress=bar.progress,
            on_total=bar.on_total,
        )
    finally:
        bar.close()
    result = dataclasses.replace(result, report=result.report.ignoring(ignored))
    _report(result, repo, str(previous_path) if previous_path else None, github=fmt == "github")
    failed = result.report.failed(strict=strict)
    if check:
        _check(ctx, result, output, repo, failed)
    if failed:
        click.echo(f"{output} not written: warnings fail the run with --strict", err=True)
        ctx.exit(EXIT_PROBLEMS)
    write_manifest(output, result.manifest.dumps())
    click.echo(f"wrote {output}", err=True)
    ctx.exit(EXIT_OK)
