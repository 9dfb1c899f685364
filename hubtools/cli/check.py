"""``hubtools check-models``: run onnx.checker and onnxruntime on a hub's models
and their test data; exit 0 when every model passes or is skipped, 1 when one
fails or errors, 2 on usage errors. It parses options, calls
:func:`hubtools.check.suite.check_models`, and echoes what
:mod:`hubtools.render.check` builds."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from hubtools.cli.group import EXIT_OK, EXIT_PROBLEMS, cli, note
from hubtools.cli.options import flag_option, format_option, jobs_option


class _Progress:
    """A bar of the models checked, on stderr when it is a terminal."""

    def __init__(self) -> None:
        self.bar: Any = None

    def start(self, total: int) -> None:
        if sys.stderr.isatty() and total > 1:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, unit="model", desc="checking", file=sys.stderr, leave=False
            )

    def done(self, _verdict: object) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@cli.command("check-models")
@click.argument("repo", required=False, default=".", type=click.Path(path_type=Path))
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Manifest to read [default: REPO/ONNX_HUB_MANIFEST.json].",
)
@click.option(
    "--changed-since",
    metavar="REF",
    help="Only the models whose file, bundle, README row or hubtools.toml changed since REF.",
)
@click.option(
    "--model", "models", multiple=True, metavar="NAME", help="Only models of this name (any case)."
)
@jobs_option("Models checked at once, one worker process each.", default=1, show_default=True)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Stop a model's check after this long (an error verdict).",
)
@click.option("--rtol", type=click.FloatRange(min=0), help="Relative tolerance [default: 1e-3].")
@click.option("--atol", type=click.FloatRange(min=0), help="Absolute tolerance [default: 1e-7].")
@flag_option(
    "--compare-quantized",
    help="Compare the test data of quantized models even on a CPU without AVX512-VNNI.",
)
@format_option(
    "text", "json", "github", help="text for people, json for programs, github for annotations."
)
@click.pass_context
def check_models_command(
    ctx: click.Context,
    repo: Path,
    paths: tuple[Path, ...],
    manifest: Path | None,
    changed_since: str | None,
    models: tuple[str, ...],
    jobs: int,
    timeout: float | None,
    rtol: float | None,
    atol: float | None,
    compare_quantized: bool,
    fmt: str,
) -> None:
    """Check the models of the hub at REPO (default: the current folder): onnx.checker
    with full_check, then with onnxruntime (the 'run' extra) a CPU session, the
    manifest's io_ports, and every test_data_set_* beside the model or in its
    test-data bundle. PATH arguments keep only the models under them.

    Exit 0 when every model passes or is skipped, 1 when one fails or errors,
    2 on a usage or I/O error.
    """
    from hubtools.check.suite import check_models
    from hubtools.render.check import json_report, summary_line, verdict_line, verdict_problem
    from hubtools.render.problems import github_command

    start = time.monotonic()
    progress = _Progress()
    try:
        result = check_models(
            repo,
            manifest_path=manifest,
            models=models,
            paths=[str(p) for p in paths],
            changed_since=changed_since,
            jobs=jobs,
            timeout=timeout,
            rtol=rtol,
            atol=atol,
            compare_quantized=compare_quantized,
            on_start=progress.start if fmt == "text" else None,
            on_done=progress.done,
        )
    finally:
        progress.close()
    seconds = time.monotonic() - start
    if fmt == "json":
        click.echo(json_report(result, seconds))
    else:
        for verdict in result.verdicts:
            problem = verdict_problem(verdict) if fmt == "github" else None
            if problem is not None:
                click.echo(github_command(problem))
            click.echo(verdict_line(verdict))
        note(summary_line(result, seconds))
    ctx.exit(EXIT_PROBLEMS if result.failed else EXIT_OK)
