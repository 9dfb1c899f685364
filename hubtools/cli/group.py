"""The ``hubtools`` click group and the process around it: ``-v/-q/--debug``,
logging set-up, exit codes, how errors become a message and an exit status,
and the console-script entry point. It defines no command: the command
modules register theirs on :data:`cli`. Like the rest of :mod:`hubtools.cli`
it may import click; it must not import onnx, requests, jsonschema or git."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading
import traceback
from typing import Any, NoReturn

import click

from hubtools import __version__
from hubtools.errors import HubtoolsError

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED = 130

#: The exit status of each error type the group turns into a message; an error
#: takes the status of the nearest of its classes listed here.
EXIT_CODES: dict[type[BaseException], int] = {
    HubtoolsError: EXIT_ERROR,
}

log = logging.getLogger("hubtools")


def exit_code(err: BaseException) -> int:
    """The exit status :data:`EXIT_CODES` gives ``err`` (``EXIT_ERROR`` when none does)."""
    for kind in type(err).__mro__:
        if kind in EXIT_CODES:
            return EXIT_CODES[kind]
    return EXIT_ERROR


class _Escaped(logging.Formatter):
    """``LEVEL: message``, with every control character of the message escaped: log
    lines carry paths and names from repositories and servers, and a newline in
    one must not forge a line (a CI annotation), nor an escape sequence drive the
    terminal. A traceback (--debug) is appended as it is."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        from hubtools.render.text import escape_control

        return escape_control(super().formatMessage(record))


def _configure_logging(ctx: click.Context, verbose: int, quiet: int) -> None:
    """Send the ``hubtools`` logger to stderr at the level -v/-q ask for, for
    this command only: the logger is put back as it was when the command ends,
    so a program (or a test) that runs several commands in one process keeps
    its own logging."""
    saved = (log.handlers[:], log.level, log.propagate)

    def restore() -> None:
        log.handlers[:], log.level, log.propagate = saved

    ctx.call_on_close(restore)
    level = logging.WARNING - 10 * verbose + 10 * quiet
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Escaped("%(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(max(logging.DEBUG, min(level, logging.CRITICAL)))
    log.propagate = False


def _fail(err: BaseException, debug: bool) -> NoReturn:
    """Print an error the way a user wants to read it, then exit with its status."""
    if debug:
        traceback.print_exception(err)
    from hubtools.render.text import escape_control

    click.echo(f"hubtools: error: {escape_control(str(err))}", err=True)
    sys.exit(exit_code(err))


def _set_verbosity(ctx: click.Context, change: int) -> None:
    """Add ``change`` (+1 a ``-v``, -1 a ``-q``) to the run's verbosity and set
    the ``hubtools`` logger's level from it: WARNING by default, one step of 10
    per ``-v`` or ``-q``."""
    root = ctx.find_root()
    root.obj = root.obj or {}
    level = root.obj.get("verbosity", 0) + change
    root.obj["verbosity"] = level
    log.setLevel(max(logging.DEBUG, min(logging.WARNING - 10 * level, logging.CRITICAL)))


def _verbosity_option(*names: str, sign: int, help: str) -> click.Option:
    def adjust(ctx: click.Context, _param: click.Parameter, count: int) -> None:
        if count:
            _set_verbosity(ctx, sign * count)

    return click.Option(list(names), count=True, expose_value=False, callback=adjust, help=help)


def verbosity(ctx: click.Context) -> int:
    """The run's verbosity: +1 a ``-v``, -1 a ``-q``, before or after the command.

    At -1 commands leave out notes (summaries, what was written); at -2
    warnings too; errors and results always show.
    """
    obj = ctx.find_root().obj or {}
    return int(obj.get("verbosity", 0))


def quiet(ctx: click.Context) -> bool:
    """True when ``-q`` was given (before or after the command): notes are not shown."""
    return verbosity(ctx) < 0


def note(text: str) -> None:
    """Echo a note to stderr (a summary, what was written or changed, where a file
    came from) unless ``-q`` was given: results go to stdout and always show."""
    if not quiet(click.get_current_context()):
        click.echo(text, err=True)


class _Command(click.Command):
    """A command that also takes ``-v``/``-q`` after its name, as every hubtools
    command does, and shows its first sentence whole in the command list."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params += [
            _verbosity_option("-v", "--verbose", sign=1, help="More diagnostics on stderr."),
            _verbosity_option("-q", "--quiet", sign=-1, help="Fewer diagnostics on stderr."),
        ]

    def get_short_help_str(self, limit: int = 45) -> str:
        """The first sentence of the help, whole (click cuts it at ``limit``)."""
        if self.short_help:
            return self.short_help
        first = (self.help or "").strip().split("\n\n", 1)[0]
        sentence = " ".join(first.split()).split(". ", 1)[0].rstrip(".")
        return sentence + "." if sentence else ""


class _SubGroup(click.Group):
    """A group of commands (``cache``) whose commands take ``-v``/``-q`` too."""

    command_class = _Command

    def get_short_help_str(self, limit: int = 45) -> str:
        return _Command.get_short_help_str(self, limit)  # type: ignore[arg-type]


class _Group(click.Group):
    """A group that turns the errors of :data:`EXIT_CODES` into a one-line
    message and their exit status, and Ctrl-C into exit 130."""

    command_class = _Command
    group_class = _SubGroup

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except tuple(EXIT_CODES) as err:
            _fail(err, debug=bool(ctx.obj and ctx.obj.get("debug")))
        except KeyboardInterrupt:
            click.echo("hubtools: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hubtools")
@click.option("-v", "--verbose", count=True, help="More diagnostics on stderr (repeatable).")
@click.option("-q", "--quiet", count=True, help="Fewer diagnostics on stderr (repeatable).")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int, debug: bool) -> None:
    """Generate, validate and use ONNX model hub manifests.

    Every command takes -v/-q (more or fewer diagnostics on stderr) before or
    after its name; results go to stdout. Exit status: 0 ok, 1 problems found,
    2 usage or I/O error (each command's help says what its codes mean).
    """
    ctx.obj = {"debug": debug, "verbosity": verbose - quiet}
    _configure_logging(ctx, verbose, quiet)


def main(argv: list[str] | None = None) -> None:
    """Run one ``hubtools`` command; ends with :exc:`SystemExit`, as click does."""
    cli.main(args=argv, prog_name="hubtools")


def run() -> NoReturn:
    """Entry point of the ``hubtools`` console script and ``python -m hubtools``.

    :func:`main`, then a quick exit, as mypy's ``hard_exit`` does: once the
    command is done, its atexit handlers have run and its output is flushed,
    the process ends without freeing every object of every module: with onnx,
    numpy and protobuf loaded that teardown took 0.05-0.1 s here, a fifth of a
    `hubtools inspect` run. When some other thread is still running, it exits
    the usual way so that thread is waited for.
    """
    # numpy comes in with onnx only (hubtools does no linear algebra); left to
    # itself, OpenBLAS starts a thread per core at import that spins for ~0.1 s
    # of CPU, taken from the hashing threads.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        main()
        status: object = 0
    except SystemExit as done:
        status = done.code
    if isinstance(status, int) or status is None:
        code = status or 0
    else:  # sys.exit("message"): what Python prints and returns for it
        print(status, file=sys.stderr)
        code = 1
    if threading.active_count() > 1 or not hasattr(atexit, "_run_exitfuncs"):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (`| head`) or stream has nothing left to keep.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
