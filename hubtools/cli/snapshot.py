"""``hubtools snapshot``: copy chosen entries of a repository, verified, into a
folder that is then a hub of its own, for machines without a network. The
shell face of :func:`hubtools.client.snapshot.snapshot`."""

from __future__ import annotations

from pathlib import Path

import click

from hubtools.cli.group import EXIT_PROBLEMS, cli, note
from hubtools.cli.options import client_options, flag_option, format_option


@cli.command()
@client_options
@click.option(
    "--model", "models", multiple=True, help="Only entries with this name (any case; repeatable)."
)
@click.option("--tag", "tags", multiple=True, help="Only entries with any of these tags.")
@flag_option("--no-test-data", help="Leave out the test-data bundles (model_with_data_path).")
@flag_option("--trust", help="Trust this repository for this run.")
@flag_option(
    "--no-progress",
    help="No progress bar (it is only shown on a terminal anyway). [env var: HUBTOOLS_NO_PROGRESS]",
)
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@format_option("text", "json", help="text: a line per file, then a summary; json: one document.")
@click.pass_context
def snapshot(
    ctx: click.Context,
    repo: str,
    cache_dir: Path | None,
    offline: bool,
    models: tuple[str, ...],
    tags: tuple[str, ...],
    no_test_data: bool,
    trust: bool,
    no_progress: bool,
    dest: Path,
    fmt: str,
) -> None:
    """Copy entries of --repo (all, or those --model and --tag choose) into DEST,
    verified, with a manifest of them: DEST is then a hub that works offline
    (--repo DEST). Files already in DEST with the manifest's sha256 are not
    fetched again, so an interrupted snapshot resumes and a later one adds to
    it.

    Exit 0 when DEST holds every chosen entry, 1 when the repository was not
    trusted, 2 on a usage, network, checksum or write error.
    """
    from hubtools.cli.client import _client
    from hubtools.client.snapshot import snapshot as take_snapshot
    from hubtools.render.client import snapshot_json, snapshot_lines, snapshot_summary

    client = _client(cache_dir, offline, progress=False if no_progress else None, ask=True)
    done = take_snapshot(
        client,
        repo,
        dest,
        models=models,
        tags=tags,
        test_data=not no_test_data,
        trust_repo=trust,
    )
    if done is None:
        click.echo(f"hubtools: no snapshot: {repo} was not trusted", err=True)
        ctx.exit(EXIT_PROBLEMS)
    if fmt == "json":
        click.echo(snapshot_json(done))
        return
    for line in snapshot_lines(done):
        click.echo(line)
    note(snapshot_summary(done))
