"""Rendering a manifest diff: the text lines, the summary line and the JSON."""

from __future__ import annotations

import json

import pytest

from hubtools.core.diff import ManifestDiff, diff_manifests
from hubtools.core.manifest import JSONValue, Manifest, Metadata, ModelEntry
from hubtools.render.diff import json_text, render_text, summary_text, to_json


def entry(
    model: str,
    path: str,
    opset: int,
    sha: str,
    *,
    onnx_version: str = "1.9",
    model_bytes: int = 10,
    tags: tuple[str, ...] = (),
    extra: tuple[tuple[str, JSONValue], ...] = (),
) -> ModelEntry:
    meta = Metadata(model_sha=sha, model_bytes=model_bytes, tags=tags, extra=extra)
    return ModelEntry(model, path, onnx_version, opset, meta)


ALPHA = entry("alpha", "a/alpha-12.onnx", 12, "1" * 64, tags=("vision",), extra=(("note", "x"),))
BETA = entry("beta", "b/beta-7.onnx", 7, "2" * 64)
GAMMA = entry("gamma", "c/gamma.onnx", 9, "3" * 64)
ALPHA_NEW = entry(
    "alpha",
    "a/alpha-12.onnx",
    12,
    "1" * 64,
    onnx_version="1.10",
    model_bytes=11,
    tags=("vision", "new"),
    extra=(("license", "MIT ©"),),
)
GAMMA_MOVED = entry("gamma", "c2/gamma.onnx", 9, "3" * 64)
DELTA = entry("delta", "d/delta.onnx", 12, "4" * 64)


@pytest.fixture
def diff() -> ManifestDiff:
    old = Manifest.from_entries([ALPHA, BETA, GAMMA])
    new = Manifest.from_entries([ALPHA_NEW, GAMMA_MOVED, DELTA])
    return diff_manifests(old, new)


def test_text_lines(diff: ManifestDiff) -> None:
    assert render_text(diff) == [
        "+ d/delta.onnx (delta, opset 12)",
        "- b/beta-7.onnx (beta, opset 7)",
        "~ a/alpha-12.onnx (alpha, opset 12)",
        '    /onnx_version: "1.9" -> "1.10"',
        "    /metadata/model_bytes: 10 -> 11",
        '    /metadata/tags: ["vision"] -> ["vision", "new"]',
        '    /metadata/note: removed (was "x")',
        '    /metadata/license: added "MIT ©"',
        "> c/gamma.onnx -> c2/gamma.onnx",
        "! load('beta') with no opset: was b/beta-7.onnx (opset 7), now nothing (no such model)",
        "! load('gamma') with no opset: was c/gamma.onnx (opset 9), now c2/gamma.onnx (opset 9)",
    ]


def test_summary_line(diff: ManifestDiff) -> None:
    assert summary_text(diff) == (
        "1 added, 1 removed, 1 changed, 1 moved; 2 default resolutions changed, 1 new names"
    )


def test_a_moved_entry_lists_its_other_changes() -> None:
    moved = entry("gamma", "c2/gamma.onnx", 9, "3" * 64, tags=("t",))
    result = diff_manifests(Manifest.from_entries([GAMMA]), Manifest.from_entries([moved]))
    assert render_text(result) == [
        "> c/gamma.onnx -> c2/gamma.onnx",
        '    /metadata/tags: [] -> ["t"]',
        "! load('gamma') with no opset: was c/gamma.onnx (opset 9), now c2/gamma.onnx (opset 9)",
    ]


def test_order_change_and_no_change() -> None:
    old = Manifest.from_entries([ALPHA, BETA])
    reordered = diff_manifests(old, Manifest.from_entries([BETA, ALPHA]))
    assert render_text(reordered) == ["! the order of entries changed"]
    assert summary_text(reordered) == (
        "0 added, 0 removed, 0 changed, 0 moved; 0 default resolutions changed, 0 new names"
    )
    assert render_text(diff_manifests(old, old)) == []


def test_json(diff: ManifestDiff) -> None:
    expected = {
        "same": False,
        "added": [
            {
                "model": "delta",
                "model_path": "d/delta.onnx",
                "onnx_version": "1.9",
                "opset_version": 12,
                "metadata": {"model_sha": "4" * 64, "model_bytes": 10, "tags": []},
            }
        ],
        "removed": [
            {
                "model": "beta",
                "model_path": "b/beta-7.onnx",
                "onnx_version": "1.9",
                "opset_version": 7,
                "metadata": {"model_sha": "2" * 64, "model_bytes": 10, "tags": []},
            }
        ],
        "changed": [
            {
                "model_path": "a/alpha-12.onnx",
                "fields": [
                    {"pointer": "/onnx_version", "old": "1.9", "new": "1.10"},
                    {"pointer": "/metadata/model_bytes", "old": 10, "new": 11},
                    {"pointer": "/metadata/tags", "old": ["vision"], "new": ["vision", "new"]},
                    {"pointer": "/metadata/note", "old": "x"},
                    {"pointer": "/metadata/license", "new": "MIT ©"},
                ],
            }
        ],
        "moved": [
            {
                "from": "c/gamma.onnx",
                "to": "c2/gamma.onnx",
                "fields": [
                    {"pointer": "/model_path", "old": "c/gamma.onnx", "new": "c2/gamma.onnx"}
                ],
            }
        ],
        "resolutions": [
            {
                "model": "beta",
                "old": {"model": "beta", "model_path": "b/beta-7.onnx", "opset_version": 7},
                "new": None,
            },
            {
                "model": "gamma",
                "old": {"model": "gamma", "model_path": "c/gamma.onnx", "opset_version": 9},
                "new": {"model": "gamma", "model_path": "c2/gamma.onnx", "opset_version": 9},
            },
            {
                "model": "delta",
                "old": None,
                "new": {"model": "delta", "model_path": "d/delta.onnx", "opset_version": 12},
            },
        ],
        "order_changed": False,
    }
    assert to_json(diff) == expected
    assert json_text(diff) == json.dumps(expected, indent=2, ensure_ascii=False)
    assert '"new": "MIT ©"' in json_text(diff)


def test_json_of_no_change() -> None:
    old = Manifest.from_entries([ALPHA])
    assert json_text(diff_manifests(old, old)) == (
        "{\n"
        '  "same": true,\n'
        '  "added": [],\n'
        '  "removed": [],\n'
        '  "changed": [],\n'
        '  "moved": [],\n'
        '  "resolutions": [],\n'
        '  "order_changed": false\n'
        "}"
    )


def test_markdown_for_a_pull_request(diff: ManifestDiff) -> None:
    from hubtools.render.diff import render_markdown

    assert render_markdown(diff, "ONNX_HUB_MANIFEST.json") == (
        "### ONNX_HUB_MANIFEST.json: 1 added, 1 removed, 2 changed, 2 resolution changes\n"
        "\n"
        "| | model | opset | path | size before | size after | change | what changed |\n"
        "|---|---|---|---|---|---|---|---|\n"
        "| added | `delta` | 12 | d/delta.onnx |  | 10 B |  | new |\n"
        "| removed | `beta` | 7 | b/beta-7.onnx | 10 B |  |  | removed |\n"
        "| changed | `alpha` | 12 | a/alpha-12.onnx | 10 B | 11 B | +1 B "
        "| onnx_version, size, tags, note, license |\n"
        "| moved | `gamma` | 9 | c2/gamma.onnx | 10 B | 10 B |  | path |\n"
        "\n"
        "**What `load(name)` with no opset now gives:**\n"
        "\n"
        "- `beta`: was b/beta-7.onnx (opset 7), now nothing (no such model)\n"
        "- `gamma`: was c/gamma.onnx (opset 9), now c2/gamma.onnx (opset 9)\n"
    )


def test_markdown_stays_under_the_comment_limit_and_says_so() -> None:
    from hubtools.render.diff import GITHUB_COMMENT_LIMIT, render_markdown

    many = [entry(f"m{i}", f"m/m{i:05}.onnx", 12, f"{i:064x}") for i in range(5000)]
    text = render_markdown(diff_manifests(Manifest(), Manifest.from_entries(many)), "M")
    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert text.startswith("### M: 5000 added, 0 removed, 0 changed, 0 resolution changes\n")
    shown = text.count("\n| added |")
    assert 0 < shown < 5000
    assert text.endswith(
        f"_{5000 - shown} more rows not shown, to stay under GitHub's 65,536-character limit; "
        "`hubtools diff` lists them all._\n"
    )


def test_markdown_escapes_what_a_manifest_says() -> None:
    from hubtools.render.diff import render_markdown

    hostile = entry("x|<img src=x>`\x1b[2J", "p/a|b.onnx", 1, "5" * 64)
    text = render_markdown(diff_manifests(Manifest(), Manifest.from_entries([hostile])), "M")
    assert "| added | `x\\|&lt;img src=x&gt;'\\x1b[2J` | 1 | p/a\\|b.onnx |" in text
    assert "\x1b" not in text


def test_markdown_of_equal_manifests() -> None:
    from hubtools.render.diff import render_markdown

    same = Manifest.from_entries([ALPHA])
    assert render_markdown(diff_manifests(same, same), "M") == (
        "### M: 0 added, 0 removed, 0 changed, 0 resolution changes\n\nNo entry changed.\n"
    )
