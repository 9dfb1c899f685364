"""Click options that several ``hubtools`` commands share, written once so
their names, types and help text stay the same everywhere. Decorators only:
nothing here runs a command or imports onnx, requests, jsonschema or git."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hubtools.client.config import DEFAULT_REPO

F = TypeVar("F", bound=Callable[..., Any])


def format_option(*choices: str, **extra: Any) -> Callable[[F], F]:
    """``--format`` (parameter ``fmt``): one of ``choices``, the first by default."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=choices[0],
        show_default=True,
        **extra,
    )


def jobs_option(help: str, **extra: Any) -> Callable[[F], F]:
    """``--jobs/-j``: how many files are worked on in parallel (at least 1)."""
    return click.option("--jobs", "-j", type=click.IntRange(min=1), help=help, **extra)


def flag_option(*decls: str, help: str) -> Callable[[F], F]:
    """An on/off flag, off by default."""
    return click.option(*decls, is_flag=True, help=help)


strict_option = flag_option("--strict", help="Warnings fail the run too (exit 1).")

ignore_option = click.option(
    "--ignore",
    "ignore",
    multiple=True,
    metavar="CODE",
    help="Leave out problems with this code (repeatable; a * glob like schema-* works); "
    "they are still counted. Adds to `ignore` in hubtools.toml.",
)

opset_option = click.option("--opset", type=int, help="Opset version [default: the highest].")

cache_dir_option = click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Cache folder [default: $ONNX_HOME/hub, $XDG_CACHE_HOME/onnx/hub, ~/.cache/onnx/hub].",
)

# No envvar= here: the library reads HUBTOOLS_OFFLINE itself (one yes/no
# parser for both); the flag only turns offline mode on.
_offline_option = flag_option(
    "--offline",
    help="Use only the cache (manifests and files); fail naming what is missing. "
    "[env var: HUBTOOLS_OFFLINE]",
)

_repo_option = click.option(
    "--repo",
    default=DEFAULT_REPO,
    show_default=True,
    envvar="HUBTOOLS_REPO",
    show_envvar=True,
    help="owner/name[:ref] on GitHub, an http(s):// base URL, or a folder; "
    "onnx/models:archive is the whole archived zoo, listed without network.",
)


def client_options(func: F) -> F:
    """Options every client command takes: --repo, --cache-dir, --offline."""
    return _repo_option(cache_dir_option(_offline_option(func)))
