"""Issue 5 on the real zoo snapshot: the new-layout folders join the 184 legacy
entries without changing any of them or what any legacy name resolves to."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hubtools import hub
from hubtools.core.diff import default_entry, diff_manifests
from hubtools.core.manifest import Manifest
from hubtools.generate.pipeline import generate_manifest
from hubtools.validate.checks import validate_manifest
from tests.conftest import RunCli


def _folders(root: Path) -> list[Path]:
    """New-layout folders not under skip/, counted from the files."""
    return [p.parent for p in root.rglob("turnkey_stats.yaml") if "skip" not in p.parts]


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Manifest]:
    from tests.conftest import SHARED_ZOO

    if not (SHARED_ZOO / "ONNX_HUB_MANIFEST.json").is_file():
        pytest.skip(f"real zoo snapshot not found at {SHARED_ZOO}")
    official = Manifest.load(SHARED_ZOO / "ONNX_HUB_MANIFEST.json")
    result = generate_manifest(SHARED_ZOO, previous=official)
    assert [p.code for p in result.report] == ["unlinked-readme"]
    out = tmp_path_factory.mktemp("full") / "ONNX_HUB_MANIFEST.json"
    out.write_text(result.manifest.dumps())
    return SHARED_ZOO, out, official


def test_one_entry_per_folder_plus_the_legacy_ones(full: tuple[Path, Path, Manifest]) -> None:
    zoo, out, official = full
    manifest = Manifest.load(out)
    folders = _folders(zoo)
    new = [e for e in manifest if not e.model_path.startswith("validated/")]
    assert len(new) == len(folders)
    assert {str(Path(e.model_path).parent) for e in new} == {
        str(f.relative_to(zoo)) for f in folders
    }
    paths = {e.model_path for e in official}
    restricted = Manifest(tuple(e for e in manifest if e.model_path in paths))
    assert restricted.dumps() == official.dumps()


def test_passes_validate_against_the_repository(full: tuple[Path, Path, Manifest]) -> None:
    zoo, out, _ = full
    result = validate_manifest(out, repo=zoo)
    assert [str(p) for p in result.report] == []
    assert result.report.checked["from_lfs_pointers"] == result.report.checked["files"]


def test_diff_shows_only_additions_and_no_legacy_resolution_change(
    full: tuple[Path, Path, Manifest],
) -> None:
    _, out, official = full
    manifest = Manifest.load(out)
    diff = diff_manifests(official, manifest)
    assert (diff.removed, diff.changed, diff.moved) == ((), (), ())
    assert not diff.order_changed
    assert [r.name for r in diff.resolutions if r.old is not None] == []
    legacy_names = {e.model.casefold() for e in official}
    for name in legacy_names:
        assert default_entry(manifest.entries, name) == default_entry(official.entries, name)
    assert default_entry(manifest.entries, "resnet50") == default_entry(
        official.entries, "ResNet50"
    )


def test_names_never_collide(full: tuple[Path, Path, Manifest]) -> None:
    _, out, _ = full
    data = json.loads(out.read_text())
    keys = [(e["model"].casefold(), e["opset_version"]) for e in data]
    assert len(keys) == len(set(keys))


def test_client_lists_by_tag(
    full: tuple[Path, Path, Manifest],
    tmp_path: Path,
    run_cli: RunCli,
) -> None:
    _, out, _ = full
    repo = tmp_path / "zoo"
    repo.mkdir()
    shutil.copy(out, repo / "ONNX_HUB_MANIFEST.json")
    timm = hub.list_models(repo=str(repo), tags=["timm"])
    assert timm
    assert all("timm" in m.tags for m in timm)
    assert {m.metadata["author"] for m in timm} == {"timm"}
    run = run_cli("list", "--repo", repo, "--tag", "computer vision", "--format", "json")
    assert run.exit_code == 0, run.stderr
    listed = json.loads(run.stdout)
    vision = [e for e in json.loads(out.read_text()) if "computer vision" in e["metadata"]["tags"]]
    assert len(listed) == len(vision) > 1000
