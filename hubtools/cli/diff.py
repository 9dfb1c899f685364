"""``hubtools diff``: compare two manifests and exit 0 (same), 1 (different)
or 2 (unreadable). It parses options, calls the diff engine, and echoes what
:mod:`hubtools.render.diff` builds; it compares and formats nothing itself."""

from __future__ import annotations

from pathlib import Path

import click

from hubtools.cli.group import EXIT_OK, EXIT_PROBLEMS, cli, note
from hubtools.cli.options import format_option


@cli.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@format_option(
    "text",
    "json",
    "markdown",
    help="text for people, json for programs, markdown for a pull request's summary.",
)
@click.pass_context
def diff_command(ctx: click.Context, old: Path, new: Path, fmt: str) -> None:
    """Show entries added, removed, changed (field by field) and moved between two
    manifests, and every model name whose default resolution changes.

    Exit 0 when the manifests hold the same entries in the same order, 1 when
    they differ (a change of order alone counts: generate writes entries sorted,
    so it makes the files differ), 2 when one cannot be read.
    """
    from hubtools.core.diff import diff_manifests
    from hubtools.core.manifest import Manifest
    from hubtools.render.diff import json_text, render_markdown, render_text, summary_text

    manifests = [Manifest.load(p) for p in (old, new)]
    result = diff_manifests(*manifests)
    if fmt == "json":
        click.echo(json_text(result))
    elif fmt == "markdown":
        click.echo(render_markdown(result, new.name), nl=False)
    else:
        for line in render_text(result):
            click.echo(line)
        note(summary_text(result))
    ctx.exit(EXIT_OK if result.same else EXIT_PROBLEMS)
