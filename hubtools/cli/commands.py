"""The ``hubtools`` command line: the only module that imports click.

Each command parses options, calls one library function and turns its result
into output and an exit code: 0 clean, 1 problems found, 2 usage or I/O error.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, NoReturn

import click

from hubtools import __version__
from hubtools.client.config import DEFAULT_REPO
from hubtools.errors import HubtoolsError

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2

log = logging.getLogger("hubtools")


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


# ---- commands ------------------------------------------------------------
# Each command sits in its own section below, headed "# ---- <name> ----".


# ---- validate ----------------------------------------------------------------


@cli.command()
@click.argument("manifests", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also check every path, sha256, size, opset and io_ports against this repository.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    envvar="HUBTOOLS_FORMAT",
    show_envvar=True,
    help="text for people, json for programs, github for workflow annotations.",
)
@click.option("--strict", is_flag=True, help="Warnings fail the run too (exit 1).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Files checked in parallel.")
@click.pass_context
def validate(
    ctx: click.Context,
    manifests: tuple[Path, ...],
    repo: Path | None,
    fmt: str,
    strict: bool,
    jobs: int | None,
) -> None:
    """Lint MANIFEST files: JSON Schema, semantic checks, and with --repo the files.

    Exit 0 when valid, 1 when problems were found, 2 when a file cannot be read.
    """
    from hubtools.errors import Location, ManifestError, Problem, Report
    from hubtools.render.problems import counts_text, github_command, json_report, problem_line
    from hubtools.validate.checks import validate_manifest

    if repo is not None and not repo.is_dir():
        raise click.BadParameter(f"{repo} is not a directory", param_hint="--repo")
    problems: list[Problem] = []
    totals = Report()
    unreadable = False
    for path in manifests:
        try:
            result = validate_manifest(path, repo=repo, jobs=jobs)
        except ManifestError as err:
            unreadable = True
            problems.append(Problem("unreadable", str(err), Location(str(path))))
            continue
        problems.extend(result.report)
        totals.count("manifests")
        for what, n in result.report.checked.items():
            totals.count(what, n)
    report = Report(problems)
    failed = report.failed(strict=strict)
    if fmt == "json":
        summary: dict[str, object] = {
            **totals.checked,
            "errors": len(report.errors),
            "warnings": len(report.warnings),
            "valid": not failed and not unreadable,
        }
        click.echo(json_report(problems, summary))
    else:
        for problem in problems:
            if problem.code == "unreadable" and fmt == "text":
                click.echo(f"hubtools: error: {problem.message}", err=True)
                continue
            if fmt == "github":
                click.echo(github_command(problem))
            click.echo(problem_line(problem))
        counts = [(k, v) for k, v in totals.checked.items() if k != "manifests"]
        if unreadable:
            verdict = "not validated: a manifest could not be read"
        else:
            errors, warnings = len(report.errors), len(report.warnings)
            verdict = f"{'invalid' if failed else 'valid'}: {errors} error" + (
                "s" if errors != 1 else ""
            )
            verdict += f", {warnings} warning" + ("s" if warnings != 1 else "")
        click.echo(verdict + (f"; checked {counts_text(counts)}" if counts else ""), err=True)
    ctx.exit(EXIT_ERROR if unreadable else EXIT_PROBLEMS if failed else EXIT_OK)


# ---- diff ----------------------------------------------------------------------


@cli.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for programs.",
)
@click.pass_context
def diff_command(ctx: click.Context, old: Path, new: Path, fmt: str) -> None:
    """Show entries added, removed, changed (field by field) and moved between two
    manifests, and every model name whose default resolution changes.

    Exit 0 when the manifests hold the same entries, 1 when they differ, 2 when
    one cannot be read.
    """
    import json

    from hubtools.core.diff import diff_manifests, render_text, summary_text, to_json
    from hubtools.core.jsonfile import read_json_file
    from hubtools.core.manifest import Manifest

    manifests = [Manifest.from_json(read_json_file(p).data) for p in (old, new)]
    result = diff_manifests(*manifests)
    if fmt == "json":
        click.echo(json.dumps(to_json(result), indent=2, ensure_ascii=False))
    else:
        for line in render_text(result):
            click.echo(line)
        click.echo(summary_text(result), err=True)
    ctx.exit(EXIT_OK if result.same else EXIT_PROBLEMS)


# ---- generate ----------------------------------------------------------------


_LISTED = 10  # paths a summary line names before it says "and N more"


def _generate_summary(result: Any, previous_name: str | None) -> list[str]:
    """Summary lines of a generate run (stderr)."""
    from hubtools.render.problems import counts_text

    stats = result.stats
    mb = stats.bytes_hashed / 1e6
    counts = [
        ("entries", stats.entries),
        ("from pointers", stats.from_pointers),
        ("files hashed", stats.files_hashed),
    ]
    lines = [
        f"generated {counts_text(counts)} ({mb:.1f} MB hashed); "
        f"io_ports reused: {stats.io_ports_reused}; facts kept from --changed-since: "
        f"{stats.facts_reused}; warnings: {len(result.report.warnings)}"
    ]
    lines.extend(stats.notes)
    if previous_name is not None and stats.new_entries:
        shown = stats.new_entries[:_LISTED]
        more = len(stats.new_entries) - len(shown)
        lines.append(
            f"{len(stats.new_entries)} entries {previous_name} did not have: "
            + ", ".join(shown)
            + (f" and {more} more (-v lists them all)" if more else "")
        )
        if more:
            log.info("new entries: %s", ", ".join(stats.new_entries))
    if stats.io_ports_missing:
        missing = len(stats.io_ports_missing)
        text = (
            f"{missing} entries have no io_ports (content not pulled, no previous entry "
            "with the same sha); fill them with: "
        )
        if missing <= _LISTED:
            lines.append(text + str(stats.lfs_pull_command))
        else:
            lines.append(text + "the command `-v` shows")
            log.info("%s", stats.lfs_pull_command)
    return lines


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
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if the output would change.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    envvar="HUBTOOLS_JOBS",
    show_envvar=True,
    help="Files hashed in parallel.",
)
@click.option("--strict", is_flag=True, help="Warnings fail the run too (exit 1).")
@click.option(
    "--include-unlinked",
    is_flag=True,
    help="Also take model tables from READMEs that no top-level link reaches.",
)
@click.option(
    "--include-skipped",
    is_flag=True,
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
    include_unlinked: bool,
    include_skipped: bool,
) -> None:
    """Write the manifest of the model repository REPO: models from its README
    tables and from its turnkey_stats.yaml model folders.

    Exit 0 when written (or up to date with --check), 1 when warnings fail the
    run (--strict) or --check finds changes, 2 on usage or I/O errors.
    Nothing is written when the run fails.
    """
    from hubtools.core.manifest import MANIFEST_NAME, Manifest
    from hubtools.generate.pipeline import generate_manifest, write_manifest
    from hubtools.render.problems import problem_line

    if not repo.is_dir():
        raise click.BadParameter(f"{repo} is not a folder", param_hint="REPO")
    output = output if output is not None else repo / MANIFEST_NAME
    previous_path = previous if previous is not None else (output if output.is_file() else None)
    old = Manifest.load(previous_path) if previous_path is not None else None

    bar: Any = None

    def on_total(total: int) -> None:
        nonlocal bar
        if sys.stderr.isatty() and total:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="B", unit_scale=True, desc="hashing", file=sys.stderr)

    def progress(path: str, nbytes: int) -> None:
        if bar is not None:
            bar.update(nbytes)

    try:
        result = generate_manifest(
            repo,
            previous=old,
            changed_since=changed_since,
            jobs=jobs,
            include_unlinked=include_unlinked,
            include_skipped=include_skipped,
            progress=progress,
            on_total=on_total,
        )
    finally:
        if bar is not None:
            bar.close()
    if not result.stats.is_git:
        click.echo(f"note: {repo} is not a git repository; walking all its files", err=True)
    for problem in result.report:
        click.echo(problem_line(problem), err=True)
    for line in _generate_summary(result, str(previous_path) if previous_path else None):
        click.echo(line, err=True)
    failed = result.report.failed(strict=strict)
    text = result.manifest.dumps()
    if check:
        current = output.read_text(encoding="utf-8") if output.is_file() else None
        if current == text:
            click.echo(f"{output} is up to date", err=True)
            ctx.exit(EXIT_PROBLEMS if failed else EXIT_OK)
        from hubtools.core.diff import diff_manifests, render_text

        before = Manifest.loads(current) if current is not None else Manifest()
        changes = diff_manifests(before, result.manifest)
        for line in render_text(changes):
            click.echo(line)
        if changes.same:
            click.echo(f"~ {output}: formatting")
        click.echo(f"{output} would change; run `hubtools generate {repo}` to update it", err=True)
        ctx.exit(EXIT_PROBLEMS)
    if failed:
        click.echo(f"{output} not written: warnings fail the run with --strict", err=True)
        ctx.exit(EXIT_PROBLEMS)
    write_manifest(output, text)
    click.echo(f"wrote {output}", err=True)
    ctx.exit(EXIT_OK)


# ---- client ----------------------------------------------------------------
# `hubtools list/info/download/cache`: the shell face of `hubtools.hub`.


def _client_options(func: Any) -> Any:
    """Options every client command takes: --repo, --cache-dir, --offline."""
    # No envvar= here: the library reads HUBTOOLS_OFFLINE itself (one yes/no
    # parser for both); the flag only turns offline mode on.
    func = click.option(
        "--offline",
        is_flag=True,
        help="Use only the cache (manifests and files); fail naming what is missing. "
        "[env var: HUBTOOLS_OFFLINE]",
    )(func)
    func = click.option(
        "--cache-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Cache folder [default: $ONNX_HOME/hub, $XDG_CACHE_HOME/onnx/hub, ~/.cache/onnx/hub].",
    )(func)
    return click.option(
        "--repo",
        default=DEFAULT_REPO,
        show_default=True,
        envvar="HUBTOOLS_REPO",
        show_envvar=True,
        help="owner/name[:ref] on GitHub, an http(s):// base URL, or a folder; "
        "onnx/models:archive is the whole archived zoo, listed without network.",
    )(func)


def _client(
    cache_dir: Path | None,
    offline: bool,
    progress: bool | None = None,
    ask: bool = False,
    mirrors: dict[str, list[str]] | None = None,
) -> Any:
    from hubtools.client.config import Settings
    from hubtools.hub import Hub

    settings = Settings.resolve(
        cache_dir=cache_dir, offline=True if offline else None, progress=progress, mirrors=mirrors
    )
    if ask:
        return Hub(settings, confirm=lambda message: click.confirm(message, err=True))
    return Hub(settings)


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]
    return "\n".join(lines)


@cli.command("list")
@_client_options
@click.option("--model", help="Only models with this name (any case).")
@click.option("--tag", "tags", multiple=True, help="Only models with any of these tags.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def list_cmd(
    repo: str,
    cache_dir: Path | None,
    offline: bool,
    model: str | None,
    tags: tuple[str, ...],
    fmt: str,
) -> None:
    """List the models of a repository's manifest."""
    import json

    infos = _client(cache_dir, offline).list_models(repo, model, list(tags) or None)
    if fmt == "json":
        click.echo(json.dumps([i.raw_model_info for i in infos], indent=2))
        return
    rows = [[i.model, str(i.opset), ", ".join(sorted(i.tags)), i.model_path] for i in infos]
    click.echo(_table(rows, ["MODEL", "OPSET", "TAGS", "PATH"]))
    click.echo(f"{len(infos)} model(s)", err=True)


@cli.command()
@_client_options
@click.argument("model")
@click.option("--opset", type=int, help="Opset version [default: the highest].")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def info(
    repo: str, cache_dir: Path | None, offline: bool, model: str, opset: int | None, fmt: str
) -> None:
    """Show one model's manifest entry."""
    import json

    found = _client(cache_dir, offline).get_model_info(model, repo, opset)
    if fmt == "json":
        click.echo(json.dumps(found.raw_model_info, indent=2))
        return
    md = found.metadata
    lines = [
        f"model: {found.model}",
        f"opset: {found.opset}",
        f"path: {found.model_path}",
        f"sha256: {found.model_sha}",
        f"bytes: {md.get('model_bytes')}",
        f"tags: {', '.join(sorted(found.tags))}",
    ]
    ports = md.get("io_ports")
    if isinstance(ports, dict):
        for side in ("inputs", "outputs"):
            side_ports = ports.get(side)
            for port in side_ports if isinstance(side_ports, list) else []:
                if isinstance(port, dict):
                    name, kind, shape = port.get("name"), port.get("type"), port.get("shape")
                    lines.append(f"{side[:-1]}: {name} {kind} {shape}")
    if md.get("model_with_data_path"):
        lines.append(f"test data: {md.get('model_with_data_path')}")
    click.echo("\n".join(lines))


@cli.command()
@_client_options
@click.argument("model")
@click.option("--opset", type=int, help="Opset version [default: the highest].")
@click.option("--with-test-data", is_flag=True, help="Fetch and extract the test-data tarball.")
@click.option("--force-reload", is_flag=True, help="Download again even when cached.")
@click.option("--trust", is_flag=True, help="Trust this repository for this run.")
@click.option(
    "--mirror",
    "mirrors",
    multiple=True,
    metavar="URL",
    help="Payload mirror of --repo, tried in order after its own host; replaces the "
    "configured ones (HUBTOOLS_MIRRORS, config file, built-in), which the word "
    "'default' brings back at its place.",
)
@click.option(
    "--no-progress",
    is_flag=True,
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
    client = _client(
        cache_dir,
        offline,
        progress=False if no_progress else None,
        ask=True,
        mirrors={repo: list(mirrors)} if mirrors else None,
    )
    fetch = client.download_model_with_test_data if with_test_data else client.download_model
    path = fetch(model, repo, opset, force_reload, False, trust_repo=trust)
    if path is None:
        click.echo(f"hubtools: not downloaded: {repo} was not trusted", err=True)
        ctx.exit(EXIT_PROBLEMS)
    got = client.last_download
    if got is not None:
        where = "cache" if got.from_cache else got.source
        click.echo(f"hubtools: {got.model_path} from {where}", err=True)
    click.echo(str(path))


@cli.group()
def cache() -> None:
    """Inspect and clean the model cache."""


def _cache_dir(cache_dir: Path | None) -> Path:
    from hubtools.client.config import Settings

    resolved: Path = Settings.resolve(cache_dir=cache_dir).cache_dir
    return resolved


_cache_dir_option = click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Cache folder [default: $ONNX_HOME/hub, $XDG_CACHE_HOME/onnx/hub, ~/.cache/onnx/hub].",
)


@cache.command("ls")
@_cache_dir_option
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def cache_ls(cache_dir: Path | None, fmt: str) -> None:
    """List cached files with their sizes and kinds, and the total."""
    import json

    from hubtools.client.cache import list_cache

    root = _cache_dir(cache_dir)
    items = list_cache(root)
    total = sum(i.size for i in items)
    if fmt == "json":
        files = [
            {"path": str(i.path.relative_to(root)), "size": i.size, "kind": i.kind} for i in items
        ]
        click.echo(json.dumps({"cache_dir": str(root), "files": files, "total": total}, indent=2))
        return
    rows = [[str(i.size), i.kind, str(i.path.relative_to(root))] for i in items]
    click.echo(_table(rows, ["BYTES", "KIND", "PATH"]))
    click.echo(f"total: {len(items)} file(s), {total} bytes in {root}")


@cache.command("verify")
@_cache_dir_option
@click.pass_context
def cache_verify(ctx: click.Context, cache_dir: Path | None) -> None:
    """Rehash every cached model; remove and report the corrupt ones (exit 1)."""
    from hubtools.client.cache import verify_cache

    root = _cache_dir(cache_dir)
    results = verify_cache(root)
    bad = [r for r in results if not r.ok]
    for r in bad:
        click.echo(
            f"{r.path.relative_to(root)}: got sha256 {r.actual}, name says {r.expected}; removed"
        )
    click.echo(f"{len(results)} file(s) checked, {len(bad)} corrupt", err=True)
    ctx.exit(EXIT_PROBLEMS if bad else EXIT_OK)


@cache.command("prune")
@_cache_dir_option
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
def cache_prune(cache_dir: Path | None, dry_run: bool) -> None:
    """Remove partial downloads, unused locks and files no kept manifest names."""
    from hubtools.client.cache import prune_cache

    root = _cache_dir(cache_dir)
    removed = prune_cache(root, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for item in removed:
        click.echo(f"{verb} {item.kind} {item.path.relative_to(root)} ({item.size} bytes)")
    click.echo(f"{verb} {len(removed)} item(s), {sum(i.size for i in removed)} bytes", err=True)


# ---- inspect ----------------------------------------------------------------


def _format_dims(shape: list[Any]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _inspect_text(facts: Any) -> str:
    """The facts of one file as lines for people."""
    data = facts.to_json()
    lines = [str(facts.path)]
    sha = data["model_sha"] if data["model_sha"] is not None else "(not computed: --no-hash)"
    lines.append(f"  sha256        {sha}")
    lines.append(f"  bytes         {data['model_bytes']}")
    if data["lfs_pointer"]:
        lines.append("  Git LFS pointer: content not present, ONNX facts unknown")
        return "\n".join(lines)
    imports = ", ".join(f"{o['domain'] or 'ai.onnx'} {o['version']}" for o in data["opset_import"])
    lines.append(f"  ir_version    {data['ir_version']}")
    lines.append(f"  opset         {data['opset_version']} ({imports or 'no imports'})")
    for kind in ("inputs", "outputs"):
        lines.append(f"  {kind}")
        for port in data["io_ports"][kind]:
            lines.append(f"    {port['name']}  {port['type']}  {_format_dims(port['shape'])}")
    for name in data["external_data"]:
        lines.append(f"  external data {name}")
    for problem in data["problems"]:
        lines.append(f"  problem: {problem}")
    return "\n".join(lines)


@cli.command("inspect")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="JSON output (JSON Lines for several files).")
@click.option("--no-hash", is_flag=True, help="Skip sha256; read only the model's header.")
@click.pass_context
def inspect_command(
    ctx: click.Context, paths: tuple[Path, ...], as_json: bool, no_hash: bool
) -> None:
    """Show sha256, size, opset and io_ports of ONNX model files.

    A .tar.gz or .zip holding one .onnx model and its external data (the zoo's
    new-layout archives) gives the archive's sha256 and size and the model's
    ONNX facts, read without extracting anything.

    Exit 0 when every file is a model without problems, 1 when one is not an
    ONNX model or has a problem (such as external data outside its folder),
    2 when one cannot be read.
    """
    import json

    from hubtools.core.archives import archive_format
    from hubtools.errors import InvalidModelError
    from hubtools.inspect.facts import inspect_archive, inspect_file

    status = EXIT_OK
    several = len(paths) > 1
    for path in paths:
        archive = archive_format(path.name, model_archive=True)
        try:
            if archive is not None:
                facts = inspect_archive(path, archive.name, hash=not no_hash)
            else:
                facts = inspect_file(path, hash=not no_hash)
        except (HubtoolsError, OSError) as err:
            code = EXIT_PROBLEMS if isinstance(err, InvalidModelError) else EXIT_ERROR
            status = max(status, code)
            click.echo(f"hubtools: error: {err}", err=True)
            if as_json and several:
                click.echo(json.dumps({"path": str(path), "error": str(err)}))
            continue
        if facts.problems:
            status = max(status, EXIT_PROBLEMS)
            for problem in facts.problems:
                click.echo(f"hubtools: problem: {path}: {problem}", err=True)
        if as_json:
            data = facts.to_json()
            click.echo(json.dumps({"path": str(path), **data} if several else data))
        else:
            click.echo(_inspect_text(facts))
    ctx.exit(status)
