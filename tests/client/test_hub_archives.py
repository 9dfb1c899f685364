"""Archive entries (issue 5, part 3): ``model_path`` names a ``.tar.gz`` or ``.zip``
holding the ``.onnx`` file and its external data; ``model_archive`` says which."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy
import pytest
from onnx import numpy_helper

from hubtools import hub
from hubtools.client import extracted
from hubtools.client.housekeeping import Pruned, list_cache, prune_cache
from hubtools.errors import ManifestError, ModelNotFoundError, UnsafeArchiveError
from hubtools.hub import Hub
from tests.client_support import (
    Zoo,
    external_data_model,
    make_tar,
    pack,
    serve_zoo,
    sha256,
)
from tests.conftest import RunCli

FOLDER = "Computer_Vision/extnet_Opset17_acme"


def _entry(path: str, data: bytes, kind: str, name: str = "extnet_acme") -> dict[str, object]:
    return {
        "model": name,
        "model_path": path,
        "onnx_version": "1.12",
        "opset_version": 17,
        "metadata": {
            "model_sha": sha256(data),
            "model_bytes": len(data),
            "tags": ["computer vision", "acme"],
            "model_archive": kind,
        },
    }


@pytest.fixture
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Zoo]:
    with serve_zoo(tmp_path, monkeypatch) as z:
        yield z


def _publish(zoo: Zoo, files: dict[str, tuple[bytes, str]]) -> None:
    """Add archive files (path -> (bytes, kind)) to the zoo and its manifest."""
    manifest = json.loads((zoo.root / "ONNX_HUB_MANIFEST.json").read_text())
    for i, (path, (data, kind)) in enumerate(files.items()):
        (zoo.root / path).parent.mkdir(parents=True, exist_ok=True)
        (zoo.root / path).write_bytes(data)
        manifest.append(_entry(path, data, kind, f"extnet_{i}"))
    (zoo.root / "ONNX_HUB_MANIFEST.json").write_text(json.dumps(manifest, indent=4))


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_archive_entry_loads_with_its_external_data(zoo: Zoo, tmp_path: Path, kind: str) -> None:
    _, weights = external_data_model(tmp_path / "build" / "extnet")
    data = pack(tmp_path / "build" / "extnet", kind)
    path = f"{FOLDER}/extnet.{kind}"
    _publish(zoo, {path: (data, kind)})

    model = hub.load("extnet_0", zoo.repo)
    assert model is not None
    (bias,) = model.graph.initializer
    assert numpy_helper.to_array(bias).tobytes() == weights
    got = hub.last_download()
    assert got is not None
    assert got.path.name == f"{sha256(data)}_extnet.{kind}"
    assert got.path.read_bytes() == data
    # Extracted beside the archive, in the onnx.hub layout, and loaded from there.
    onnx_file = Hub().download_model("extnet_0", zoo.repo)
    assert onnx_file == zoo.cache / FOLDER / f"{sha256(data)}_extnet" / "extnet" / "model.onnx"
    assert (onnx_file.parent / "weights.bin").is_file()
    # The second time nothing is fetched or extracted again.
    mtime = onnx_file.stat().st_mtime_ns
    assert hub.load("extnet_0", zoo.repo) is not None
    assert zoo.server.media_hits(path) == 1
    assert onnx_file.stat().st_mtime_ns == mtime
    # The cache knows the extracted folder belongs to the archive.
    kinds = {str(i.path.relative_to(zoo.cache)): i.kind for i in list_cache(zoo.cache)}
    assert kinds[f"{FOLDER}/{sha256(data)}_extnet.{kind}"] == "model"
    assert kinds[f"{FOLDER}/{sha256(data)}_extnet/extnet/weights.bin"] == "extracted"


def test_archive_extraction_is_redone_after_a_new_download(zoo: Zoo, tmp_path: Path) -> None:
    external_data_model(tmp_path / "build" / "extnet")
    data = pack(tmp_path / "build" / "extnet", "zip")
    _publish(zoo, {f"{FOLDER}/extnet.zip": (data, "zip")})
    onnx_file = Hub().download_model("extnet_0", zoo.repo)
    assert onnx_file is not None
    (onnx_file.parent / "weights.bin").write_bytes(b"tampered")
    Hub().download_model("extnet_0", zoo.repo, force_reload=True)
    assert hub.load("extnet_0", zoo.repo) is not None


def test_prune_keeps_extracted_zip_folders_of_kept_archives(zoo: Zoo, tmp_path: Path) -> None:
    external_data_model(tmp_path / "build" / "extnet")
    data = pack(tmp_path / "build" / "extnet", "zip")
    _publish(zoo, {f"{FOLDER}/extnet.zip": (data, "zip")})
    onnx_file = Hub().download_model("extnet_0", zoo.repo)
    assert onnx_file is not None
    assert prune_cache(zoo.cache) == Pruned([], [])
    assert onnx_file.is_file()
    (zoo.cache / FOLDER / f"{sha256(data)}_extnet.zip").unlink()
    removed = prune_cache(zoo.cache).removed
    assert sorted((r.kind, r.path.name) for r in removed) == [
        ("extracted", f".{sha256(data)}_extnet.files.json"),  # the record of the extraction
        ("extracted", f"{sha256(data)}_extnet"),
    ]
    assert not onnx_file.exists()
    assert sorted(p.name for p in (zoo.cache / FOLDER).iterdir()) == []


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_no_onnx_or_several_in_the_archive_say_so(zoo: Zoo) -> None:
    model = zoo.model("MNIST", 12).data
    _publish(
        zoo,
        {
            f"{FOLDER}/none.zip": (_zip({"readme.txt": b"hi"}), "zip"),
            f"{FOLDER}/two.tar.gz": (make_tar({"a/x.onnx": model, "a/y.onnx": model}), "tar.gz"),
        },
    )
    with pytest.raises(ModelNotFoundError, match=r"none\.zip\): the archive holds no \.onnx"):
        hub.load("extnet_0", zoo.repo)
    with pytest.raises(ModelNotFoundError, match=r"holds 2 \.onnx files \(a/x\.onnx, a/y\.onnx\)"):
        hub.load("extnet_1", zoo.repo)


@pytest.mark.parametrize(
    "name", ["../evil.onnx", "/abs/evil.onnx", "a/../../evil.onnx", "C:/evil.onnx"]
)
def test_unsafe_zip_members_are_refused_before_any_write(zoo: Zoo, name: str) -> None:
    data = _zip({name: zoo.model("MNIST", 12).data})
    _publish(zoo, {f"{FOLDER}/evil.zip": (data, "zip")})
    with pytest.raises(UnsafeArchiveError, match="refused"):
        hub.load("extnet_0", zoo.repo)
    assert not (zoo.cache / FOLDER / f"{sha256(data)}_evil").exists()
    assert not list(zoo.cache.parent.rglob("evil.onnx"))


def test_zip_symlink_member_is_refused(zoo: Zoo) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("m/model.onnx")
        info.external_attr = (0o120777 << 16) | 0
        zf.writestr(info, "/etc/passwd")
    _publish(zoo, {f"{FOLDER}/link.zip": (buf.getvalue(), "zip")})
    with pytest.raises(UnsafeArchiveError, match="is a symlink; refused"):
        hub.load("extnet_0", zoo.repo)


def test_zip_member_and_size_limits(tmp_path: Path) -> None:
    from hubtools.core.archives import safe_extract

    archive = tmp_path / "big.zip"
    archive.write_bytes(_zip({f"f{i}": b"x" * 100 for i in range(5)}))
    with pytest.raises(UnsafeArchiveError, match="more than 4 members"):
        safe_extract(archive, tmp_path / "out", max_members=4)
    with pytest.raises(UnsafeArchiveError, match="content larger than 300 bytes"):
        safe_extract(archive, tmp_path / "out", max_bytes=300)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["big.zip"]
    assert safe_extract(archive, tmp_path / "out") == tmp_path / "out"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"f{i}" for i in range(5)]


def test_unknown_archive_kind_is_refused(zoo: Zoo) -> None:
    data = _zip({"m/model.onnx": zoo.model("MNIST", 12).data})
    _publish(zoo, {f"{FOLDER}/m.7z": (data, "7z")})
    # The schema refuses the entry when it knows the key; the client refuses it anyway.
    with pytest.raises((ManifestError, ModelNotFoundError), match=r"7z|No models found"):
        hub.load("extnet_0", zoo.repo)
    assert zoo.server.media_hits("m.7z") == 0


def test_cli_download_prints_the_extracted_model_path(zoo: Zoo, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hubtools.cli import cli

    external_data_model(tmp_path / "build" / "extnet")
    data = pack(tmp_path / "build" / "extnet", "tar.gz")
    _publish(zoo, {f"{FOLDER}/extnet.tar.gz": (data, "tar.gz")})
    result = CliRunner().invoke(cli, ["download", "extnet_0", "--repo", zoo.repo])
    assert result.exit_code == 0, result.output
    folder = zoo.cache / FOLDER / f"{sha256(data)}_extnet"
    assert Path(result.stdout.strip()) == folder / "extnet" / "model.onnx"


def _extnet(zoo: Zoo, tmp_path: Path, kind: str = "tar.gz") -> tuple[Path, bytes]:
    """Publish the external-data model as an archive; its extracted weights file and bytes."""
    _, weights = external_data_model(tmp_path / "build" / "extnet")
    data = pack(tmp_path / "build" / "extnet", kind)
    _publish(zoo, {f"{FOLDER}/extnet.{kind}": (data, kind)})
    onnx_file = Hub().download_model("extnet_0", zoo.repo)
    assert onnx_file is not None
    return onnx_file.parent / "weights.bin", weights


def _bias(model: object) -> list[float]:
    (bias,) = model.graph.initializer  # type: ignore[attr-defined]
    return [float(x) for x in numpy_helper.to_array(bias).ravel()[:3]]


@pytest.mark.parametrize("hash_on_load", [True, False])
def test_changed_extracted_weights_are_extracted_again_on_load(
    zoo: Zoo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    hash_on_load: bool,
) -> None:
    weights_file, weights = _extnet(zoo, tmp_path)
    if not hash_on_load:  # a model over the size hashed on each load: sizes and times
        monkeypatch.setattr(extracted, "HASH_ON_LOAD_MAX", 0)
    tampered = bytearray(weights)
    tampered[4:8] = numpy.float32(666).tobytes()  # the bias 1.0 becomes 666.0, same size
    mtime = weights_file.stat().st_mtime_ns
    weights_file.write_bytes(bytes(tampered))
    if hash_on_load:  # even with the modification time put back, the hash sees it
        os.utime(weights_file, ns=(mtime, mtime))
    model = hub.load("extnet_0", zoo.repo)
    assert _bias(model) == [0.0, 1.0, 2.0]
    assert weights_file.read_bytes() == weights
    assert "extracting it again from the verified archive" in caplog.text
    assert zoo.server.media_hits(f"{FOLDER}/extnet.tar.gz") == 1  # the archive was fine


def test_cache_verify_reports_changed_extracted_files(
    zoo: Zoo, tmp_path: Path, run_cli: RunCli
) -> None:
    weights_file, weights = _extnet(zoo, tmp_path, "zip")
    run = run_cli("cache", "verify")
    assert (run.exit_code, run.stdout) == (0, "")
    assert run.stderr.endswith("file(s) and 1 extracted folder(s) checked, 0 corrupt\n")
    weights_file.write_bytes(b"\x00" * len(weights))
    run = run_cli("cache", "verify")
    assert run.exit_code == 1
    folder = weights_file.parent.parent
    assert run.stdout.startswith(
        f"{folder.relative_to(zoo.cache)}: extnet/weights.bin has sha256 {sha256(bytes(256))}"
    )
    assert run.stdout.endswith("; removed (extracted again from its archive at the next load)\n")
    assert "1 corrupt" in run.stderr
    assert not folder.exists()
    assert _bias(hub.load("extnet_0", zoo.repo)) == [0.0, 1.0, 2.0]
