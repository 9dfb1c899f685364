"""``hubtools inspect``: show sha256, size, opset and io_ports of model files
and archives, exit 0 (clean), 1 (a problem) or 2 (unreadable). It parses
options, calls :mod:`hubtools.inspect.facts`, and echoes what
:mod:`hubtools.render.inspect` builds; onnx is only imported when it runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from hubtools.cli.group import EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, cli
from hubtools.cli.options import flag_option, format_option
from hubtools.errors import HubtoolsError, InvalidModelError

if TYPE_CHECKING:
    from hubtools.inspect.facts import FileFacts


def _facts(path: Path, no_hash: bool) -> FileFacts:
    """The facts of a model file, or of the one model in a model archive."""
    from hubtools.core.archives import archive_format
    from hubtools.inspect.facts import inspect_archive, inspect_file

    archive = archive_format(path.name, model_archive=True)
    if archive is not None:
        return inspect_archive(path, archive.name, hash=not no_hash)
    return inspect_file(path, hash=not no_hash)


@cli.command("inspect")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=True, path_type=Path))
@format_option("text", "json", help="text for people, json for programs (JSON Lines for several).")
@flag_option("--json", "as_json", help="The same as --format json.")
@flag_option("--no-hash", help="Skip sha256; read only the model's header.")
@click.pass_context
def inspect_command(
    ctx: click.Context, paths: tuple[Path, ...], fmt: str, as_json: bool, no_hash: bool
) -> None:
    """Show sha256, size, opset and io_ports of ONNX model files.

    A .tar.gz or .zip holding one .onnx model and its external data (the zoo's
    new-layout archives) gives the archive's sha256 and size and the model's
    ONNX facts, read without extracting anything.

    Exit 0 when every file is a model without problems, 1 when one is not an
    ONNX model or has a problem (such as external data outside its folder),
    2 when one cannot be read.
    """
    from hubtools.render.inspect import error_json, inspect_json, inspect_text, problem_lines

    as_json = as_json or fmt == "json"
    status = EXIT_OK
    several = len(paths) > 1
    for path in paths:
        try:
            facts = _facts(path, no_hash)
        except (HubtoolsError, OSError) as err:
            code = EXIT_PROBLEMS if isinstance(err, InvalidModelError) else EXIT_ERROR
            status = max(status, code)
            click.echo(f"hubtools: error: {err}", err=True)
            if as_json and several:
                click.echo(error_json(path, str(err)))
            continue
        if facts.problems:
            status = max(status, EXIT_PROBLEMS)
        for line in problem_lines(path, facts):
            click.echo(line, err=True)
        if as_json:
            click.echo(inspect_json(facts, path if several else None))
        else:
            click.echo(inspect_text(facts))
    ctx.exit(status)
