"""`hubtools snapshot`: chosen entries of a repository copied, verified, into a
folder that is a hub of its own, which loads and validates without a network."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubtools import hub
from tests.client_support import (
    FixtureModel,
    Zoo,
    external_data_model,
    pack,
    serve_zoo,
    sha256,
    tiny_model_bytes,
)
from tests.conftest import RunCli

MANIFEST = "ONNX_HUB_MANIFEST.json"
EXTNET = "Computer_Vision/extnet_Opset17_acme/extnet.tar.gz"


@pytest.fixture
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Zoo]:
    """The fixture zoo (MNIST at opsets 8 and 12 with test data, ResNet18) plus an
    archive entry with external data and a model no snapshot here asks for."""
    with serve_zoo(tmp_path, monkeypatch) as z:
        _, _ = external_data_model(tmp_path / "build" / "extnet")
        archive = pack(tmp_path / "build" / "extnet", "tar.gz")
        (z.root / EXTNET).parent.mkdir(parents=True)
        (z.root / EXTNET).write_bytes(archive)
        squeeze = FixtureModel(
            "SqueezeNet", 13, "validated/vision/squeezenet.onnx", tiny_model_bytes()
        )
        (z.root / squeeze.model_path).write_bytes(squeeze.data)
        entries = json.loads((z.root / MANIFEST).read_text())
        entries.append(squeeze.entry())
        entries.append(
            {
                "model": "extnet_acme",
                "model_path": EXTNET,
                "onnx_version": "1.12",
                "opset_version": 17,
                "metadata": {
                    "model_sha": sha256(archive),
                    "model_bytes": len(archive),
                    "tags": ["computer vision", "acme"],
                    "model_archive": "tar.gz",
                },
            }
        )
        (z.root / MANIFEST).write_text(json.dumps(entries, indent=4))
        yield z


def _snapshot(run_cli: RunCli, zoo: Zoo, dest: Path) -> list[str]:
    run = run_cli(
        "snapshot",
        "--repo",
        zoo.repo,
        "--model",
        "mnist",
        "--model",
        "ResNet18",
        "--model",
        "extnet_acme",
        dest,
    )
    assert run.exit_code == 0, run.stderr
    assert f"load from it with --repo {dest}" in run.stderr
    return run.stdout.splitlines()


def test_a_snapshot_of_three_models_loads_and_validates_offline(
    run_cli: RunCli, zoo: Zoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "air-gapped"
    lines = _snapshot(run_cli, zoo, dest)
    assert [ln.split()[0] for ln in lines] == ["fetched"] * 6  # 4 entries, 2 test-data bundles
    listed = json.loads((dest / MANIFEST).read_text())
    assert [(e["model"], e["opset_version"]) for e in listed] == [
        ("extnet_acme", 17),
        ("MNIST", 12),
        ("MNIST", 8),
        ("ResNet18", 13),
    ]
    assert listed == sorted(listed, key=lambda e: e["model_path"])
    for entry in listed:
        assert (dest / entry["model_path"]).read_bytes() == (
            zoo.root / entry["model_path"]
        ).read_bytes()
    # A hub of its own: validate passes against its files, strictly.
    run = run_cli("validate", dest / MANIFEST, "--repo", dest, "--strict")
    assert run.exit_code == 0, run.stdout
    # Served offline, as a folder, into an empty cache: no request reaches the server.
    hits = sum(zoo.server.hits.values())
    monkeypatch.setenv("HUBTOOLS_OFFLINE", "1")
    monkeypatch.delenv("HUBTOOLS_TRUSTED_REPOS")
    hub.set_dir(tmp_path / "another-machine")
    for name in ("mnist", "resnet18", "extnet_acme"):
        model = hub.load(name, repo=str(dest))
        assert model is not None, name
    folder = hub.download_model_with_test_data("mnist", repo=str(dest), opset=8)
    assert folder is not None
    assert (Path(folder) / "test_data_set_0").is_dir()
    assert sum(zoo.server.hits.values()) == hits
    assert [m.model for m in hub.list_models(str(dest))] == [e["model"] for e in listed]


def test_a_snapshot_resumes_and_fetches_only_what_is_missing_or_wrong(
    run_cli: RunCli, zoo: Zoo, tmp_path: Path
) -> None:
    dest = tmp_path / "snap"
    _snapshot(run_cli, zoo, dest)
    media = {p: n for p, n in zoo.server.hits.items() if p.startswith("/media/")}
    assert [ln.split()[0] for ln in _snapshot(run_cli, zoo, dest)] == ["kept"] * 6
    resnet = zoo.model("ResNet18", 13)
    (dest / resnet.model_path).write_bytes(b"damaged")
    again = _snapshot(run_cli, zoo, dest)
    assert [ln for ln in again if ln.startswith("fetched")] == [
        f"fetched ResNet18 (opset 13) {resnet.model_path}"
    ]
    assert (dest / resnet.model_path).read_bytes() == resnet.data
    # Everything came from the cache the first run filled: nothing fetched twice.
    assert {p: n for p, n in zoo.server.hits.items() if p.startswith("/media/")} == media
    # A later snapshot adds to the folder's manifest.
    run = run_cli("snapshot", "--repo", zoo.repo, "--tag", "classification", "--no-test-data", dest)
    assert run.exit_code == 0, run.stderr
    listed = json.loads((dest / MANIFEST).read_text())
    assert "SqueezeNet" in [e["model"] for e in listed]
    assert len(listed) == 5
    mnist8 = next(e for e in listed if e["opset_version"] == 8)
    assert "model_with_data_path" not in mnist8["metadata"]  # left out this time
    run = run_cli("snapshot", "--repo", zoo.repo, "--model", "nope", dest)
    assert run.exit_code == 2
    assert "acme/zoo:main has no model named nope" in run.stderr
