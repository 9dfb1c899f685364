"""``hubtools list/info/download`` and the ``cache`` group (ls, verify,
prune): the shell face of :mod:`hubtools.hub` and :mod:`hubtools.client.cache`.
Each command parses options, makes one library call, and echoes what
:mod:`hubtools.render.client` builds; requests is only imported when one runs."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hubtools.cli.group import EXIT_OK, EXIT_PROBLEMS, cli
from hubtools.cli.options import (
    cache_dir_option,
    client_options,
    flag_option,
    format_option,
    opset_option,
)

if TYPE_CHECKING:
    from hubtools.hub import Hub


def _client(
    cache_dir: Path | None,
    offline: bool,
    progress: bool | None = None,
    ask: bool = False,
    mirrors: dict[str, list[str]] | None = None,
) -> Hub:
    from hubtools.client.config import Settings
    from hubtools.hub import Hub

    settings = Settings.resolve(
        cache_dir=cache_dir, offline=True if offline else None, progress=progress, mirrors=mirrors
    )
    if ask:
        return Hub(settings, confirm=lambda message: click.confirm(message, err=True))
    return Hub(settings)


@cli.command("list")
@client_options
@click.option("--model", help="Only models with this name (any case).")
@click.option("--tag", "tags", multiple=True, help="Only models with any of these tags.")
@format_option("table", "json")
def list_cmd(
    repo: str,
    cache_dir: Path | None,
    offline: bool,
    model: str | None,
    tags: tuple[str, ...],
    fmt: str,
) -> None:
    """List the models of a repository's manifest."""
    from hubtools.render.client import models_count, models_json, models_table

    infos = _client(cache_dir, offline).list_models(repo, model, list(tags) or None)
    if fmt == "json":
        click.echo(models_json(infos))
        return
    click.echo(models_table(infos))
    click.echo(models_count(infos), err=True)


@cli.command()
@client_options
@click.argument("model")
@opset_option
@format_option("text", "json")
def info(
    repo: str, cache_dir: Path | None, offline: bool, model: str, opset: int | None, fmt: str
) -> None:
    """Show one model's manifest entry."""
    from hubtools.render.client import info_json, info_lines

    found = _client(cache_dir, offline).get_model_info(model, repo, opset)
    click.echo(info_json(found) if fmt == "json" else "\n".join(info_lines(found)))


@cli.command()
@client_options
@click.argument("model")
@opset_option
@flag_option("--with-test-data", help="Fetch and extract the test-data tarball.")
@flag_option("--force-reload", help="Download again even when cached.")
@flag_option("--trust", help="Trust this repository for this run.")
@click.option(
    "--mirror",
    "mirrors",
    multiple=True,
    metavar="URL",
    help="Payload mirror of --repo, tried in order after its own host; replaces the "
    "configured ones (HUBTOOLS_MIRRORS, config file, built-in), which the word "
    "'default' brings back at its place.",
)
@flag_option(
    "--no-progress",
    help="No progress bar (it is only shown on a terminal anyway). [env var: HUBTOOLS_NO_PROGRESS]",
)
@click.pass_context
def download(
    ctx: click.Context,
    repo: str,
    cache_dir: Path | None,
    offline: bool,
    model: str,
    opset: int | None,
    with_test_data: bool,
    force_reload: bool,
    trust: bool,
    mirrors: tuple[str, ...],
    no_progress: bool,
) -> None:
    """Download a model into the cache (verified) and print its local path.

    Archive entries are extracted and the path of their .onnx file printed.
    Which source served the file goes to stderr.
    """
    from hubtools.render.client import download_source, local_path

    client = _client(
        cache_dir,
        offline,
        progress=False if no_progress else None,
        ask=True,
        mirrors={repo: list(mirrors)} if mirrors else None,
    )
    fetch = client.download_model_with_test_data if with_test_data else client.download_model
    try:
        with _sigterm_interrupts():
            path = fetch(model, repo, opset, force_reload, False, trust_repo=trust)
    except _Terminated:
        click.echo(
            "hubtools: terminated (SIGTERM); what was downloaded is kept, and the next "
            "`hubtools download` resumes from it",
            err=True,
        )
        ctx.exit(EXIT_TERMINATED)
    if path is None:
        click.echo(f"hubtools: not downloaded: {repo} was not trusted", err=True)
        ctx.exit(EXIT_PROBLEMS)
    if client.last_download is not None:
        click.echo(download_source(client.last_download), err=True)
    click.echo(local_path(path))


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the download is, so it stops as Ctrl-C stops it:
    the partial download is kept for a resume and the worker threads finish."""


#: The shell's status for a process ended by SIGTERM (128 + 15).
EXIT_TERMINATED = 143


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Turn SIGTERM into :class:`_Terminated` while the block runs (in the main
    thread only: elsewhere Python cannot set a handler)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---- cache -----------------------------------------------------------------------


@cli.group()
def cache() -> None:
    """Inspect and clean the model cache."""


def _cache_dir(cache_dir: Path | None) -> Path:
    from hubtools.client.config import Settings

    resolved: Path = Settings.resolve(cache_dir=cache_dir).cache_dir
    return resolved


@cache.command("ls")
@cache_dir_option
@format_option("table", "json")
def cache_ls(cache_dir: Path | None, fmt: str) -> None:
    """List cached files with their sizes and kinds, and the total."""
    from hubtools.client.cache import list_cache
    from hubtools.render.client import cache_json, cache_table, cache_total

    root = _cache_dir(cache_dir)
    items = list_cache(root)
    if fmt == "json":
        click.echo(cache_json(items, root))
        return
    click.echo(cache_table(items, root))
    click.echo(cache_total(items, root))


@cache.command("verify")
@cache_dir_option
@click.pass_context
def cache_verify(ctx: click.Context, cache_dir: Path | None) -> None:
    """Rehash every cached model; remove and report the corrupt ones (exit 1)."""
    from hubtools.client.cache import verify_cache
    from hubtools.render.client import verify_lines, verify_summary

    root = _cache_dir(cache_dir)
    results = verify_cache(root)
    bad = verify_lines(results, root)
    for line in bad:
        click.echo(line)
    click.echo(verify_summary(results), err=True)
    ctx.exit(EXIT_PROBLEMS if bad else EXIT_OK)


@cache.command("prune")
@cache_dir_option
@flag_option("--dry-run", help="Only list what would be removed.")
def cache_prune(cache_dir: Path | None, dry_run: bool) -> None:
    """Remove what interrupted downloads and extractions left, unused locks, and files
    no kept manifest names; skip (and list) what a running download holds."""
    from hubtools.client.cache import prune_cache
    from hubtools.render.client import prune_in_use_lines, prune_lines, prune_summary

    root = _cache_dir(cache_dir)
    pruned = prune_cache(root, dry_run=dry_run)
    for line in prune_lines(pruned.removed, root, dry_run=dry_run):
        click.echo(line)
    for line in prune_in_use_lines(pruned.in_use, root):
        click.echo(line)
    click.echo(prune_summary(pruned.removed, dry_run=dry_run, in_use=pruned.in_use), err=True)
