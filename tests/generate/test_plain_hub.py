"""The plain fixture hub (``fixtures/hubs/plain``, a folder of models without
README tables): it is what its builder writes, it generates its committed
manifest with the files layout, validates against its files, and loads end
to end over a loopback HTTP server, every entry byte for byte."""

from __future__ import annotations

import json
import runpy
import shutil
from pathlib import Path
from typing import Any

import git
import pytest

from hubtools import hub
from tests.client_support import running_server
from tests.conftest import FIXTURES, RunCli

PLAIN = FIXTURES / "hubs" / "plain"
MANIFEST = "ONNX_HUB_MANIFEST.json"


@pytest.fixture(scope="module")
def builder() -> dict[str, Any]:
    """The builder script's functions (it imports build_zoo.py beside it)."""
    return runpy.run_path(str(FIXTURES / "build_plain_hub.py"))


def _committed() -> dict[str, bytes]:
    return {
        p.relative_to(PLAIN).as_posix(): p.read_bytes()
        for p in PLAIN.rglob("*")
        if p.is_file() and p.name != MANIFEST
    }


def test_the_builder_reproduces_the_committed_hub(builder: dict[str, Any], tmp_path: Path) -> None:
    written = builder["build"](tmp_path)
    built = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in written}
    committed = _committed()
    assert sorted(built) == sorted(committed)
    assert [name for name in built if built[name] != committed[name]] == []


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "plain"
    shutil.copytree(PLAIN, root)
    repo = git.Repo.init(root)
    repo.git.add("-A")
    repo.index.commit("plain hub")
    return root


def test_it_generates_its_manifest_and_validates(run_cli: RunCli, tmp_path: Path) -> None:
    root = _copy(tmp_path)
    committed = (root / MANIFEST).read_bytes()
    run = run_cli("generate", root, "--check", "--strict")
    assert (run.exit_code, run.stdout) == (0, ""), run.stderr
    (root / MANIFEST).unlink()
    run = run_cli("generate", root, "--strict")
    assert run.exit_code == 0, run.stderr
    assert (root / MANIFEST).read_bytes() == committed
    run = run_cli("validate", root / MANIFEST, "--repo", root, "--strict")
    assert run.exit_code == 0, run.stdout + run.stderr
    # Unchanged files keep their facts, the opsets that name them included.
    run = run_cli("generate", root, "--check", "--changed-since", "HEAD")
    assert (run.exit_code, run.stdout) == (0, ""), run.stderr
    assert (
        "0 files hashed (0 B hashed); io_ports reused: 0; facts kept from --changed-since: 6"
        in (run.stderr)
    )


def test_what_the_layout_and_hubtools_toml_give() -> None:
    entries = {e["model_path"]: e for e in json.loads((PLAIN / MANIFEST).read_text())}
    named = {path: (e["model"], e["opset_version"]) for path, e in entries.items()}
    assert named == {
        # The opset suffix goes when it is the model's opset.
        "vision/classification/tiny_cnn-12.onnx": ("tiny_cnn", 12),
        "vision/classification/tiny_cnn_opset7.onnx": ("tiny_cnn", 7),
        "text/tiny_lm/tiny-lm.onnx": ("tiny-lm", 17),
        "vision/detection/tiny_det-13.tar.gz": ("tiny_det", 13),
        # A [[models]] rule's template.
        "vision/preprocessing/pixels.onnx": ("pixels-preprocessing", 18),
        # A Git LFS pointer: its opset from hubtools.toml.
        "audio/keyword_spotter.onnx": ("keyword_spotter", 15),
    }  # experiments/ is excluded
    cnn = entries["vision/classification/tiny_cnn-12.onnx"]
    assert cnn["onnx_version"] == "1.7.0"
    assert cnn["metadata"]["tags"] == ["vision", "classification"]
    assert cnn["metadata"]["model_with_data_path"] == "vision/classification/tiny_cnn-12.tar.gz"
    assert list(cnn["metadata"])[-1] == "license"  # after the standard keys
    assert entries["vision/detection/tiny_det-13.tar.gz"]["metadata"]["model_archive"] == "tar.gz"
    spotter = entries["audio/keyword_spotter.onnx"]["metadata"]
    assert spotter["tags"] == ["audio", "keyword spotting"]
    assert "io_ports" not in spotter  # content not pulled
    assert entries["text/tiny_lm/tiny-lm.onnx"]["metadata"]["tags"] == ["text", "tiny lm"]


def test_it_loads_end_to_end_over_http(builder: dict[str, Any], tmp_path: Path) -> None:
    """Served as a static server serves a checkout after `git lfs pull`: every
    entry loads and its cached file is the served file, byte for byte."""
    root = tmp_path / "served"
    builder["build"](root, pulled=True)
    shutil.copy(PLAIN / MANIFEST, root / MANIFEST)
    entries = json.loads((root / MANIFEST).read_text())
    with running_server() as server:
        server.add_repo("acme", "plain", "main", root)
        url = f"{server.url}/raw/acme/plain/main"
        listed = hub.list_models(repo=url)
        assert sorted(i.model_path for i in listed) == sorted(e["model_path"] for e in entries)
        for entry in entries:
            model = hub.load(
                entry["model"], repo=url, opset=entry["opset_version"], trust_repo=True
            )
            assert model is not None, entry["model_path"]
            got = hub.last_download()
            assert got is not None
            assert got.model_path == entry["model_path"]
            assert got.path.read_bytes() == (root / entry["model_path"]).read_bytes()
            assert got.source.startswith(url)
        folder = hub.download_model_with_test_data("tiny_cnn", repo=url, opset=12, trust_repo=True)
        assert folder is not None
        assert (Path(folder) / "test_data_set_0" / "input_0.pb").is_file()
