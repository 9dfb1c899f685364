"""The ``hubtools`` command line: the only module that imports click.

Each command parses options, calls one library function and turns its result
into output and an exit code: 0 clean, 1 problems found, 2 usage or I/O error.
"""

from __future__ import annotations

import logging
import sys
import traceback
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
