"""``hubtools list/info/download``, the ``cache`` group (ls, rm, verify, prune)
and the ``trust`` group (ls, add, rm): the shell face of :mod:`hubtools.hub`,
:mod:`hubtools.client.cache` and :mod:`hubtools.client.trust`. Each command
parses options, makes one library call, and echoes what
:mod:`hubtools.render.client` builds; requests is only imported when one runs."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hubtools.cli.group import EXIT_OK, EXIT_PROBLEMS, cli, note
from hubtools.cli.options import (
    cache_dir_option,
    client_options,
    flag_option,
    format_option,
    opset_option,
)

if TYPE_CHECKING:
    from hubtools.client.config import Settings
    from hubtools.hub import Hub


def _client(
    cache_dir: Path | None,
    offline: bool,
    progress: bool | None = None,
    ask: bool = False,
    mirrors: dict[str, list[str]] | None = None,
) -> Hub:
    """A client with the settings the options give; ``ask`` asks on the terminal
    whether to trust a repository."""
    from hubtools.client.config import Settings
    from hubtools.hub import Hub

    settings = Settings.resolve(
        cache_dir=cache_dir,
        offline=True if offline else None,
        offline_by="--offline",
        progress=progress,
        mirrors=mirrors,
    )
    if ask:
        return Hub(settings, confirm=lambda message: click.confirm(message, err=True))
    return Hub(settings)


@cli.command("list")
@client_options
@click.option("--model", help="Only models with this name (any case).")
@click.option("--tag", "tags", multiple=True, help="Only models with any of these tags.")
@format_option(
    "text", "json", "table", help="text (or its old name table) for people, json for programs."
)
def list_cmd(
    repo: str,
    cache_dir: Path | None,
    offline: bool,
    model: str | None,
    tags: tuple[str, ...],
    fmt: str,
) -> None:
    """List the models of a repository's manifest.

    Exit 0 when listed, 2 when the manifest cannot be had or read.
    """
    from hubtools.render.client import models_count, models_json, models_table

    infos = _client(cache_dir, offline).list_models(repo, model, list(tags) or None)
    if fmt == "json":
        click.echo(models_json(infos))
        return
    click.echo(models_table(infos))
    note(models_count(infos))


@cli.command()
@client_options
@click.argument("model")
@opset_option
@format_option("text", "json")
def info(
    repo: str, cache_dir: Path | None, offline: bool, model: str, opset: int | None, fmt: str
) -> None:
    """Show one model's manifest entry.

    Exit 0 when shown, 2 when there is no such model or the manifest cannot be had.
    """
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
@format_option("text", "json", help="text: the local path; json: it and where it came from.")
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
    fmt: str,
) -> None:
    """Download a model into the cache (verified) and print its local path.

    Archive entries are extracted and the path of their .onnx file printed.
    Which source served the file goes to stderr.

    Exit 0 when downloaded (or cached), 1 when the repository was not trusted at
    the prompt, 2 on a usage, network, checksum or cache error.
    """
    from hubtools.render.client import download_json, download_source, local_path

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
    if fmt == "json":
        click.echo(download_json(path, client.last_download))
        return
    if client.last_download is not None:
        note(download_source(client.last_download))
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
    """Inspect and clean the model cache.

    Exit 0 when done, 1 when problems were found (verify), 2 on usage or I/O errors.
    """


def _settings(cache_dir: Path | None) -> Settings:
    from hubtools.client.config import Settings

    return Settings.resolve(cache_dir=cache_dir)


def _cache_dir(cache_dir: Path | None) -> Path:
    return _settings(cache_dir).cache_dir


@cache.command("ls")
@cache_dir_option
@format_option(
    "text", "json", "table", help="text (or its old name table) for people, json for programs."
)
def cache_ls(cache_dir: Path | None, fmt: str) -> None:
    """List cached files with the repository and model they belong to (from the
    kept manifests), their sizes and kinds, and the total.

    Exit 0 when listed, 2 when the cache cannot be read.
    """
    from hubtools.client.housekeeping import describe_cache
    from hubtools.render.client import cache_json, cache_table, cache_total

    root = _cache_dir(cache_dir)
    described = describe_cache(root)
    if fmt == "json":
        click.echo(cache_json(described, root))
        return
    click.echo(cache_table(described, root))
    click.echo(cache_total([item for item, _ in described], root))


def _kept_key(repo: str, settings: Settings) -> str:
    """The cache key of the repository ``repo`` names: as ``--repo`` reads it, or the
    label ``cache ls`` shows (a folder since removed). Raises UsageError."""
    from hubtools.client.housekeeping import kept_manifests, repo_label
    from hubtools.client.repository import parse_repo
    from hubtools.errors import UsageError

    labels = {repo_label(key): key for key, _ in kept_manifests(settings.cache_dir)}
    if repo.rstrip("/") in labels:
        return labels[repo.rstrip("/")]
    try:
        return parse_repo(repo, settings).key
    except UsageError:
        raise UsageError(
            f"no kept manifest of {repo!r} in {settings.cache_dir}; `hubtools cache ls` "
            "shows the repositories the cache holds"
        ) from None


@cache.command("rm")
@cache_dir_option
@click.argument("model", required=False)
@opset_option
@click.option(
    "--repo",
    help="Only entries of this repository (as --repo names it, with its ref); without "
    "MODEL, all of its files and its kept manifest, but files another repository uses.",
)
@flag_option("--dry-run", help="Only list what would be removed.")
@format_option("text", "json")
@click.pass_context
def cache_rm(
    ctx: click.Context,
    cache_dir: Path | None,
    model: str | None,
    opset: int | None,
    repo: str | None,
    dry_run: bool,
    fmt: str,
) -> None:
    """Remove the cached files of MODEL (every opset, or --opset N) or of a
    repository (--repo R): model files, test data, extracted folders and
    partial downloads, found through the kept manifests.

    Exit 0 when removed (with --dry-run: listed), 1 when no kept manifest lists
    what was asked for, 2 on a usage or cache error.
    """
    from hubtools.client.housekeeping import remove_cached
    from hubtools.errors import UsageError
    from hubtools.render.client import removed_json, removed_lines, removed_summary

    if model is None and repo is None:
        raise UsageError("name a MODEL, a --repo, or both (`hubtools cache rm --help`)")
    settings = _settings(cache_dir)
    key = _kept_key(repo, settings) if repo is not None else None
    root = settings.cache_dir
    done = remove_cached(root, model=model, opset=opset, repo_key=key, dry_run=dry_run)
    if fmt == "json":
        click.echo(removed_json(done, root, dry_run=dry_run))
    else:
        for line in removed_lines(done, root, dry_run=dry_run):
            click.echo(line)
    note(removed_summary(done, model, opset, repo, dry_run=dry_run))
    ctx.exit(EXIT_OK if done.matched else EXIT_PROBLEMS)


@cache.command("verify")
@cache_dir_option
@format_option("text", "json")
@click.pass_context
def cache_verify(ctx: click.Context, cache_dir: Path | None, fmt: str) -> None:
    """Rehash every cached model; remove and report the corrupt ones.

    Exit 0 when every file matches, 1 when some did not, 2 when the cache cannot be read.
    """
    from hubtools.client.housekeeping import verify_cache
    from hubtools.render.client import verify_json, verify_lines, verify_summary

    root = _cache_dir(cache_dir)
    results = verify_cache(root)
    bad = verify_lines(results, root)
    if fmt == "json":
        click.echo(verify_json(results, root))
    else:
        for line in bad:
            click.echo(line)
        note(verify_summary(results))
    ctx.exit(EXIT_PROBLEMS if bad else EXIT_OK)


@cache.command("prune")
@cache_dir_option
@flag_option("--dry-run", help="Only list what would be removed.")
@format_option("text", "json")
def cache_prune(cache_dir: Path | None, dry_run: bool, fmt: str) -> None:
    """Remove what interrupted downloads and extractions left, unused locks, and files
    no kept manifest names; skip (and list) what a running download holds.

    Exit 0 when done, 2 when the cache cannot be written.
    """
    from hubtools.client.housekeeping import prune_cache
    from hubtools.render.client import (
        prune_in_use_lines,
        prune_json,
        prune_lines,
        prune_summary,
    )

    root = _cache_dir(cache_dir)
    pruned = prune_cache(root, dry_run=dry_run)
    if fmt == "json":
        click.echo(prune_json(pruned, root, dry_run=dry_run))
        return
    for line in prune_lines(pruned.removed, root, dry_run=dry_run):
        click.echo(line)
    for line in prune_in_use_lines(pruned.in_use, root):
        click.echo(line)
    note(prune_summary(pruned.removed, dry_run=dry_run, in_use=pruned.in_use))


# ---- trust -----------------------------------------------------------------------


@cli.group()
def trust() -> None:
    """Show and change which repositories are trusted without asking.

    Exit 0 when done, 1 when rm finds nothing to remove, 2 on usage or I/O errors.
    """


@trust.command("ls")
@cache_dir_option
@format_option(
    "text", "json", "table", help="text (or its old name table) for people, json for programs."
)
def trust_ls(cache_dir: Path | None, fmt: str) -> None:
    """List what is trusted without asking, and where each entry comes from.

    Exit 0 when listed, 2 when the list cannot be read.
    """
    from hubtools.client.trust import trusted_entries
    from hubtools.render.client import trust_json, trust_table

    entries = trusted_entries(_settings(cache_dir))
    click.echo(trust_json(entries) if fmt == "json" else trust_table(entries))


_TRUST_FORMATS = "text: one line on stderr; json: the entry, the list's path and what changed."


@trust.command("add")
@cache_dir_option
@click.argument("repo")
@format_option("text", "json", help=_TRUST_FORMATS)
def trust_add(cache_dir: Path | None, repo: str, fmt: str) -> None:
    """Trust REPO from now on (owner/name for any ref, owner/name:ref, a URL, or *
    for all): a line in trusted_repos.txt in the cache folder.

    Exit 0 when recorded, 2 when the list cannot be written.
    """
    from hubtools.client.cache import add_trusted, trusted_file
    from hubtools.client.trust import trust_entry
    from hubtools.render.client import trust_changed, trust_changed_json

    settings = _settings(cache_dir)
    entry = trust_entry(repo, settings)
    with _cache_write(settings, f"trust {entry}"):
        added = add_trusted(settings.cache_dir, entry)
    where = trusted_file(settings.cache_dir)
    if fmt == "json":
        click.echo(trust_changed_json(entry, where, added=added))
    else:
        note(trust_changed(entry, where, added=added))


@trust.command("rm")
@cache_dir_option
@click.argument("repo")
@format_option("text", "json", help=_TRUST_FORMATS)
@click.pass_context
def trust_rm(ctx: click.Context, cache_dir: Path | None, repo: str, fmt: str) -> None:
    """Stop trusting REPO: remove its lines from trusted_repos.txt
    (HUBTOOLS_TRUSTED_REPOS is not changed).

    Exit 0 when removed, 1 when there were none, 2 when the list cannot be written.
    """
    from hubtools.client.cache import trusted_file
    from hubtools.client.trust import forget
    from hubtools.render.client import trust_changed, trust_changed_json

    settings = _settings(cache_dir)
    with _cache_write(settings, f"stop trusting {repo}"):
        removed = forget(repo, settings)
    where = trusted_file(settings.cache_dir)
    if fmt == "json":
        click.echo(trust_changed_json(repo, where, removed=removed))
    else:
        note(trust_changed(repo, where, removed=removed))
    ctx.exit(EXIT_OK if removed else EXIT_PROBLEMS)


def _cache_write(settings: Settings, doing: str) -> contextlib.AbstractContextManager[None]:
    """A write to the cache folder that fails with one clear message when it is read-only."""
    from hubtools.client.cache import writing

    return writing(settings.cache_dir, doing)
