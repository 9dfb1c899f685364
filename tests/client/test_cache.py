"""Cache layout, path safety, atomic verified writes, ls / verify / prune."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubtools.client import cache
from hubtools.errors import ChecksumMismatchError, DownloadError, ManifestError
from tests.client_support import sha256

SHA = "ab" * 32


@pytest.mark.parametrize(
    "path",
    [
        "../evil.onnx",
        "a/../../evil.onnx",
        "/etc/passwd",
        "a\\..\\evil.onnx",
        "https://example.com/x.onnx",
        "C:/windows/x.onnx",
        "c:evil.onnx",
        "a//b.onnx",
        "./a.onnx",
        "",
        ".hubtools/manifests/x",
        "a/\x00.onnx",
    ],
)
def test_paths_that_could_escape_are_refused(path: str, tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="could escape the cache"):
        cache.cached_path(tmp_path, path, SHA)


@pytest.mark.parametrize("sha", ["../../x", "AB" * 32, "ab" * 31, "g" * 64])
def test_sha_must_be_hex_because_it_becomes_a_file_name(sha: str, tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not a sha256"):
        cache.cached_path(tmp_path, "a/b.onnx", sha)


def test_layout_is_onnx_hub_s(tmp_path: Path) -> None:
    assert cache.cached_path(tmp_path, "vision/mnist/model/mnist-8.onnx", SHA) == (
        tmp_path / "vision" / "mnist" / "model" / f"{SHA}_mnist-8.onnx"
    )
    assert cache.cached_path(tmp_path, "a/b.onnx", None) == tmp_path / "a" / "b.onnx"


def _fetcher(data: bytes):  # type: ignore[no-untyped-def]
    def fetch(temp: Path) -> tuple[int, str]:
        with temp.open("ab") as f:
            f.write(data)
        whole = temp.read_bytes()
        return len(whole), sha256(whole)

    return fetch


def test_fetch_into_cache_renames_only_verified_bytes(tmp_path: Path) -> None:
    data = b"model bytes"
    target = tmp_path / "d" / f"{sha256(data)}_m.onnx"
    cache.fetch_into_cache(target, _fetcher(data), sha=sha256(data), size=len(data), what="m")
    assert target.read_bytes() == data
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_mismatch_deletes_the_temp_file_and_says_both_shas(tmp_path: Path) -> None:
    good = b"model bytes"
    target = tmp_path / f"{sha256(good)}_m.onnx"
    with pytest.raises(ChecksumMismatchError) as info:
        cache.fetch_into_cache(
            target, _fetcher(b"evil bytes!"), sha=sha256(good), size=11, what="m"
        )
    message = str(info.value)
    assert sha256(good) in message
    assert sha256(b"evil bytes!") in message
    assert "retry" in message
    assert list(tmp_path.iterdir()) == []


def test_failed_fetch_keeps_a_partial_that_the_next_one_resumes(tmp_path: Path) -> None:
    data = b"0123456789"
    target = tmp_path / f"{sha256(data)}_m.onnx"

    def broken(temp: Path) -> tuple[int, str]:
        temp.write_bytes(data[:4])
        raise DownloadError("connection lost")

    with pytest.raises(DownloadError):
        cache.fetch_into_cache(target, broken, sha=sha256(data), size=10, what="m")
    assert not target.exists()
    partial = tmp_path / f"{target.name}.partial"
    assert partial.read_bytes() == b"0123"
    seen: list[bytes] = []

    def rest(temp: Path) -> tuple[int, str]:
        seen.append(temp.read_bytes())
        return _fetcher(data[4:])(temp)  # type: ignore[no-any-return]

    cache.fetch_into_cache(target, rest, sha=sha256(data), size=10, what="m")
    assert seen == [b"0123"]
    assert target.read_bytes() == data
    assert not partial.exists()


def test_verify_file_deletes_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    cache.verify_file(path, sha256(b"abc"), 3)
    with pytest.raises(ChecksumMismatchError, match=sha256(b"abc")):
        cache.verify_file(path, SHA, 3)
    assert not path.exists()


def test_ls_verify_prune(tmp_path: Path) -> None:
    good, bad = b"good", b"bad"
    d = tmp_path / "vision"
    d.mkdir()
    (d / f"{sha256(good)}_good.onnx").write_bytes(good)
    (d / f"{sha256(good)}_bad.onnx").write_bytes(bad)  # name says good's sha
    (d / f"{sha256(b'x')}_x.onnx.partial").write_bytes(b"x")
    (d / ".y.onnx.abc.tmp").write_bytes(b"y")
    (d / "gone.onnx.lock").write_bytes(b"")
    kinds = {i.path.name: i.kind for i in cache.list_cache(tmp_path)}
    assert kinds == {
        f"{sha256(good)}_good.onnx": "model",
        f"{sha256(good)}_bad.onnx": "model",
        f"{sha256(b'x')}_x.onnx.partial": "partial",
        ".y.onnx.abc.tmp": "partial",
        "gone.onnx.lock": "lock",
    }
    results = cache.verify_cache(tmp_path)
    assert {(r.path.name, r.ok) for r in results} == {
        (f"{sha256(good)}_good.onnx", True),
        (f"{sha256(good)}_bad.onnx", False),
    }
    assert not (d / f"{sha256(good)}_bad.onnx").exists()
    would = cache.prune_cache(tmp_path, dry_run=True)
    assert {i.path.name for i in would} == {
        f"{sha256(b'x')}_x.onnx.partial",
        ".y.onnx.abc.tmp",
        "gone.onnx.lock",
        f"{sha256(good)}_bad.onnx.lock",  # its file was just removed by verify
    }
    assert (d / ".y.onnx.abc.tmp").exists()
    cache.prune_cache(tmp_path)
    assert sorted(p.name for p in d.iterdir()) == [
        f"{sha256(good)}_good.onnx",
        f"{sha256(good)}_good.onnx.lock",
    ]


def test_prune_removes_files_no_kept_manifest_names(tmp_path: Path) -> None:
    kept = b"kept"
    manifest = cache.manifest_path(tmp_path, "github:o/r:main")
    manifest.parent.mkdir(parents=True)
    manifest.write_text(
        '[{"model": "m", "model_path": "a/m.onnx", "onnx_version": "1", "opset_version": 1,'
        f' "metadata": {{"model_sha": "{sha256(kept)}"}}}}]'
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / f"{sha256(kept)}_m.onnx").write_bytes(kept)
    (tmp_path / "a" / f"{SHA}_old.onnx").write_bytes(b"old")
    (tmp_path / "a" / f"{SHA}_old").mkdir()  # extracted folder of a removed archive
    removed = cache.prune_cache(tmp_path)
    assert {i.path.name for i in removed} == {f"{SHA}_old.onnx", f"{SHA}_old"}
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [f"{sha256(kept)}_m.onnx"]
