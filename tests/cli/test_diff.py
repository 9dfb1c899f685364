from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import RunCli

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "manifests"


@pytest.fixture
def old(tmp_path: Path) -> Path:
    path = tmp_path / "old.json"
    path.write_text((FIXTURES / "valid" / "two-entries.json").read_text())
    return path


def _write(path: Path, entries: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps(entries, indent=4))
    return path


def test_same_manifest_exits_0(run_cli: RunCli, old: Path) -> None:
    run = run_cli("diff", old, old)
    assert (run.exit_code, run.stdout) == (0, "")
    assert (
        run.stderr
        == "0 added, 0 removed, 0 changed, 0 moved; 0 default resolutions changed, 0 new names\n"
    )


def test_added_removed_changed_and_resolution(run_cli: RunCli, old: Path, tmp_path: Path) -> None:
    entries = json.loads(old.read_text())
    mnist12, mnist8 = entries
    mnist8["metadata"]["model_bytes"] = 1
    mnist8["metadata"]["tags"].append("digits")
    del mnist8["metadata"]["io_ports"]
    new_entry = json.loads(json.dumps(mnist12))
    new_entry["model_path"] = "vision/classification/mnist/model/mnist-13.onnx"
    new_entry["model"] = "mnist"
    new_entry["opset_version"] = 13
    new = _write(tmp_path / "new.json", [mnist8, new_entry])
    run = run_cli("diff", old, new)
    assert run.exit_code == 1
    assert run.stdout.splitlines() == [
        "+ vision/classification/mnist/model/mnist-13.onnx (mnist, opset 13)",
        "- vision/classification/mnist/model/mnist-12.onnx (MNIST-12, opset 12)",
        "~ vision/classification/mnist/model/mnist-8.onnx (MNIST, opset 8)",
        "    /metadata/model_bytes: 26454 -> 1",
        '    /metadata/tags: ["vision", "classification", "mnist"] -> '
        '["vision", "classification", "mnist", "digits"]',
        '    /metadata/io_ports: removed (was {"inputs": [{"name": "Input3", "shape": [1, 1, 28, '
        '28], "type": "tensor(float)"}], "outputs": [{"name": "Plus214_Output_0", "shape": '
        '[1, 10], "type": "tensor(float)"}]})',
        "! load('MNIST-12') with no opset: was vision/classification/mnist/model/mnist-12.onnx "
        "(opset 12), now nothing (no such model)",
        "! load('mnist') with no opset: was vision/classification/mnist/model/mnist-8.onnx "
        "(opset 8), now vision/classification/mnist/model/mnist-13.onnx (opset 13)",
    ]
    assert run.stderr == (
        "1 added, 1 removed, 1 changed, 0 moved; 2 default resolutions changed, 0 new names\n"
    )


def test_new_names_are_additions_not_resolution_lines(
    run_cli: RunCli, old: Path, tmp_path: Path
) -> None:
    entries = json.loads(old.read_text())
    extra = json.loads(json.dumps(entries[0]))
    extra["model"] = "brand-new"
    extra["model_path"] = "z/new.onnx"
    run = run_cli("diff", old, _write(tmp_path / "n.json", [*entries, extra]))
    assert run.stdout == "+ z/new.onnx (brand-new, opset 12)\n"
    assert run.stderr.endswith("0 default resolutions changed, 1 new names\n")


def test_moved_entry_is_one_move(run_cli: RunCli, old: Path, tmp_path: Path) -> None:
    entries = json.loads(old.read_text())
    entries[1]["model_path"] = "moved/mnist-8.onnx"
    run = run_cli("diff", "--format", "json", old, _write(tmp_path / "n.json", entries))
    data = json.loads(run.stdout)
    assert run.exit_code == 1
    assert data["added"] == data["removed"] == data["changed"] == []
    assert data["moved"] == [
        {
            "from": "vision/classification/mnist/model/mnist-8.onnx",
            "to": "moved/mnist-8.onnx",
            "fields": [
                {
                    "pointer": "/model_path",
                    "old": "vision/classification/mnist/model/mnist-8.onnx",
                    "new": "moved/mnist-8.onnx",
                }
            ],
        }
    ]
    assert data["resolutions"] == [
        {
            "model": "MNIST",
            "old": {
                "model": "MNIST",
                "model_path": "vision/classification/mnist/model/mnist-8.onnx",
                "opset_version": 8,
            },
            "new": {"model": "MNIST", "model_path": "moved/mnist-8.onnx", "opset_version": 8},
        }
    ]


def test_reordering_alone_is_a_difference(run_cli: RunCli, old: Path, tmp_path: Path) -> None:
    entries = json.loads(old.read_text())
    run = run_cli("diff", old, _write(tmp_path / "n.json", entries[::-1]))
    assert run.exit_code == 1
    assert run.stdout == "! the order of entries changed\n"


def test_highest_opset_first_in_file_wins_ties(run_cli: RunCli, old: Path, tmp_path: Path) -> None:
    entries = json.loads(old.read_text())
    twin = json.loads(json.dumps(entries[0]))
    twin["model_path"] = "z/mnist-12.onnx"
    run = run_cli("diff", old, _write(tmp_path / "n.json", [*entries, twin]))
    assert run.stdout == "+ z/mnist-12.onnx (MNIST-12, opset 12)\n"


def test_unreadable_manifest_exits_2(run_cli: RunCli, old: Path, tmp_path: Path) -> None:
    run = run_cli("diff", old, tmp_path / "missing.json")
    assert run.exit_code == 2
    assert run.stderr == f"hubtools: error: {tmp_path / 'missing.json'}: no such file\n"
    bad = tmp_path / "bad.json"
    bad.write_text('{"x": 1}')
    run = run_cli("diff", old, bad)
    assert run.exit_code == 2
    assert "expected list, got dict" in run.stderr


def test_diff_resolves_names_as_the_client_does(shared_zoo: Path) -> None:
    from hubtools import hub
    from hubtools.core.diff import default_entry
    from hubtools.core.manifest import Manifest

    manifest = Manifest.load(shared_zoo / "ONNX_HUB_MANIFEST.json")
    repo = str(shared_zoo)
    counts = Counter(e.model.casefold() for e in manifest)
    # The names where resolution has a choice to make (several opsets or entries).
    names = sorted({e.model for e in manifest if counts[e.model.casefold()] > 1})
    assert len(names) > 10
    for name in names:
        spelling = name.upper()
        entry = default_entry(manifest.entries, spelling)
        assert entry is not None
        info = hub.get_model_info(spelling, repo=repo)
        assert (info.model_path, info.opset) == (entry.model_path, entry.opset_version)
