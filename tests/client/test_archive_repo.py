"""``onnx/models:archive``: the whole archived zoo, listed from the manifest shipped in
``hubtools/data`` without network (issue 6), and proof that the shipped file is current."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hubtools import hub
from hubtools.cli import cli
from hubtools.client.config import Settings
from hubtools.hub import ARCHIVE_REPO, parse_repo
from tests.conftest import REPO_ROOT

SHIPPED = REPO_ROOT / "hubtools" / "data" / "onnx-models-archive.json"
HF = "https://huggingface.co/onnxmodelzoo/legacy_models/resolve/main"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every endpoint at a closed loopback port: any request would fail."""
    for name in ("HUBTOOLS_GITHUB_RAW", "HUBTOOLS_GITHUB_MEDIA", "HUBTOOLS_HF_ENDPOINT"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.setenv("HUBTOOLS_RETRIES", "0")


def test_every_shipped_entry_is_usable(no_network: None) -> None:
    raw = json.loads(SHIPPED.read_text(encoding="utf-8"))
    infos = hub.list_models(ARCHIVE_REPO)
    assert len(infos) == len(raw)
    paths = [i.model_path for i in infos]
    assert any(p.startswith("validated/") for p in paths)
    assert any(p.startswith("Computer_Vision/") for p in paths)
    # Legacy names still resolve as the official manifest has them.
    assert hub.get_model_info("mnist", ARCHIVE_REPO).model_path.startswith("validated/")


def test_cli_lists_new_layout_models_without_network(no_network: None) -> None:
    result = CliRunner().invoke(cli, ["list", "--repo", ARCHIVE_REPO, "--tag", "timm"])
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()[1:]
    assert len(rows) > 500
    assert all("timm" in row for row in rows)
    assert all(row.split()[-1].startswith("Computer_Vision/") for row in rows)


def test_archive_alias_works_offline_and_keeps_its_manifest(
    no_network: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBTOOLS_OFFLINE", "1")
    assert hub.list_models(ARCHIVE_REPO, tags=["transformers"])
    kept = list(Path(hub.get_dir()).glob(".hubtools/manifests/*/ONNX_HUB_MANIFEST.json"))
    assert [p.read_bytes() for p in kept] == [SHIPPED.read_bytes()]


def test_archive_files_come_from_github_then_the_hugging_face_mirror() -> None:
    repo = parse_repo(ARCHIVE_REPO, Settings.resolve(env={}))
    assert repo.official
    path = "Computer_Vision/alexnet_Opset17_torch_hub/alexnet_Opset17.onnx"
    assert repo.payload_urls(path) == (
        f"https://media.githubusercontent.com/media/onnx/models/main/{path}",
        f"{HF}/{path}",
    )


@pytest.mark.shared
def test_shipped_archive_manifest_is_what_generate_makes_from_the_snapshot(
    shared_zoo: Path, tmp_path: Path
) -> None:
    """The shipped file is `hubtools generate SNAPSHOT --previous SNAPSHOT/ONNX_HUB_MANIFEST.json`;
    regenerate it with the file at hand after changing the generator or the snapshot."""
    out = tmp_path / "onnx-models-archive.json"
    args = ["generate", str(shared_zoo), "-o", str(out)]
    args += ["--previous", str(shared_zoo / "ONNX_HUB_MANIFEST.json")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output[-2000:]
    assert out.read_bytes() == SHIPPED.read_bytes(), (
        "hubtools/data/onnx-models-archive.json is stale; regenerate it with "
        f"`hubtools generate {shared_zoo} -o {SHIPPED} --previous "
        f"{shared_zoo / 'ONNX_HUB_MANIFEST.json'}`"
    )
