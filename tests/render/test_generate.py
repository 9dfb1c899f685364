"""Rendering a generate run: the summary lines, the -v details and --check lines."""

from __future__ import annotations

import shlex

from hubtools.core.diff import diff_manifests
from hubtools.core.manifest import Manifest, Metadata, ModelEntry
from hubtools.errors import Location, Problem, Report, Severity
from hubtools.generate.pipeline import GenerateResult, GenerateStats
from hubtools.render.generate import (
    COMMAND_CHARS,
    check_lines,
    generate_details,
    generate_summary,
    lfs_pull_commands,
)

WARNING = Problem("bad-opset", "not an integer", Location("README.md", 5), Severity.WARNING)


def result(stats: GenerateStats, *problems: Problem) -> GenerateResult:
    return GenerateResult(Manifest(), Report(list(problems)), stats)


def paths(n: int) -> tuple[str, ...]:
    return tuple(f"m/model-{i}.onnx" for i in range(n))


def test_summary_of_a_plain_run() -> None:
    stats = GenerateStats(
        entries=3,
        from_pointers=1,
        files_hashed=2,
        bytes_hashed=1_250_000,
        io_ports_reused=1,
        facts_reused=0,
        new_entries=paths(3),
    )
    run = result(stats, WARNING)
    assert generate_summary(run, None) == [
        "generated 3 entries, 1 from pointers, 2 files hashed (1.2 MiB hashed); "
        "io_ports reused: 1; facts kept from --changed-since: 0; warnings: 1"
    ]
    assert generate_details(run, None) == []


def test_summary_names_new_entries_and_notes() -> None:
    stats = GenerateStats(entries=2, new_entries=paths(2), notes=("left out skip/ folders",))
    run = result(stats)
    assert generate_summary(run, "old.json") == [
        "generated 2 entries, 0 from pointers, 0 files hashed (0 B hashed); "
        "io_ports reused: 0; facts kept from --changed-since: 0; warnings: 0",
        "left out skip/ folders",
        "2 entries old.json did not have: m/model-0.onnx, m/model-1.onnx",
    ]
    assert generate_details(run, "old.json") == []


def test_summary_cuts_long_lists_and_details_give_them_whole() -> None:
    run = result(GenerateStats(entries=12, new_entries=paths(12), io_ports_missing=paths(11)))
    lines = generate_summary(run, "old.json")
    assert lines[1:] == [
        "12 entries old.json did not have: "
        + ", ".join(paths(10))
        + " and 2 more (-v lists them all)",
        "11 entries have no io_ports (content not pulled, no previous entry with the same "
        "sha); fill them with: the commands `-v` shows",
    ]
    missing = [
        "11 entries have no io_ports:",
        *(f"  {p}" for p in paths(11)),
        "fill them with:",
        "  git lfs pull --include=" + ",".join(paths(11)),
    ]
    assert generate_details(run, "old.json") == [
        "12 entries old.json did not have:",
        *(f"  {p}" for p in paths(12)),
        *missing,
    ]
    assert generate_details(run, None) == missing


def test_lfs_pull_commands_stay_short_and_quoted() -> None:
    """One --include of 100k paths would fail with "Argument list too long"; a path
    with a space or a quote must survive the shell."""
    many = tuple(f"vision/classification/model-{i:05d}/model/net-{i:05d}.onnx" for i in range(500))
    stats = GenerateStats(io_ports_missing=(*many, "odd dir/it's.onnx"))
    commands = lfs_pull_commands(stats.io_ports_missing)
    assert len(commands) == 7
    assert all(len(c) <= COMMAND_CHARS + 40 for c in commands)
    included = []
    for command in commands:
        words = shlex.split(command)
        assert words[:3] == ["git", "lfs", "pull"]
        included += words[3].removeprefix("--include=").split(",")
    assert included == [*many, "odd dir/it's.onnx"]
    lines = generate_details(result(stats), None)
    assert lines[-7:] == [f"  {c}" for c in commands]
    assert "\n" not in "".join(lines)


def test_summary_gives_a_short_lfs_pull_command() -> None:
    run = result(GenerateStats(io_ports_missing=("a.onnx", "b.onnx")))
    assert generate_summary(run, None)[1:] == [
        "2 entries have no io_ports (content not pulled, no previous entry with the same "
        "sha); fill them with: git lfs pull --include=a.onnx,b.onnx"
    ]
    assert generate_details(run, None) == []


def test_check_lines() -> None:
    net = ModelEntry("net", "n/net.onnx", "1.9", 12, Metadata(model_sha="a" * 64))
    changed = diff_manifests(Manifest(), Manifest.from_entries([net]))
    assert check_lines(changed, "out.json") == ["+ n/net.onnx (net, opset 12)"]
    same = diff_manifests(Manifest(), Manifest())
    assert check_lines(same, "out.json") == ["~ out.json: formatting"]
