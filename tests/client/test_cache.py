"""Cache layout, path safety, locks, atomic verified writes, what killed processes
leave, records of extracted archives, ls / verify / prune."""

from __future__ import annotations

import json
import threading
import time
import zipfile
from pathlib import Path

import pytest

from hubtools.client import cache, extracted, housekeeping, locks
from hubtools.core.archives import safe_extract
from hubtools.errors import ChecksumMismatchError, DownloadError, ManifestError
from tests.client_support import make_tar, sha256

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
    kinds = {i.path.name: i.kind for i in housekeeping.list_cache(tmp_path)}
    assert kinds == {
        f"{sha256(good)}_good.onnx": "model",
        f"{sha256(good)}_bad.onnx": "model",
        f"{sha256(b'x')}_x.onnx.partial": "partial",
        ".y.onnx.abc.tmp": "partial",
        "gone.onnx.lock": "lock",
    }
    results = housekeeping.verify_cache(tmp_path)
    assert {(r.path.name, r.ok) for r in results} == {
        (f"{sha256(good)}_good.onnx", True),
        (f"{sha256(good)}_bad.onnx", False),
    }
    assert not (d / f"{sha256(good)}_bad.onnx").exists()
    # Checking took each file's lock, and releasing it removed the lock file.
    assert sorted(p.name for p in d.glob("*.lock")) == ["gone.onnx.lock"]
    would = housekeeping.prune_cache(tmp_path, dry_run=True)
    assert {i.path.name for i in would.removed} == {
        f"{sha256(b'x')}_x.onnx.partial",
        ".y.onnx.abc.tmp",
        "gone.onnx.lock",
    }
    assert would.in_use == []
    assert (d / ".y.onnx.abc.tmp").exists()
    assert (d / "gone.onnx.lock").exists()
    housekeeping.prune_cache(tmp_path)
    assert sorted(p.name for p in d.iterdir()) == [f"{sha256(good)}_good.onnx"]


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
    removed = housekeeping.prune_cache(tmp_path).removed
    assert {i.path.name for i in removed} == {f"{SHA}_old.onnx", f"{SHA}_old"}
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [f"{sha256(kept)}_m.onnx"]


def test_one_bad_entry_in_a_kept_manifest_does_not_stop_rm_or_prune(tmp_path: Path) -> None:
    """A server's manifest is kept as served, and the client refuses its bad entries
    one by one: the cache commands read it the same way. An integer too long to
    read in one entry made `cache rm` fail for every model and `cache prune` keep
    every orphan."""
    good, old = b"good", b"old"
    manifest = cache.manifest_path(tmp_path, "github:o/r:main")
    manifest.parent.mkdir(parents=True)
    entry = (
        '{{"model": "{name}", "model_path": "a/{name}.onnx", "onnx_version": "1.2", '
        '"opset_version": 7, "metadata": {{"model_sha": "{sha}", "model_bytes": {size}, '
        '"tags": ["t"]}}}}'
    )
    manifest.write_text(
        "["
        + entry.format(name="bad", sha=SHA, size="1" + "0" * 5000)
        + ", "
        + entry.format(name="good", sha=sha256(good), size=len(good))
        + "]"
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / f"{sha256(good)}_good.onnx").write_bytes(good)
    (tmp_path / "a" / f"{sha256(old)}_old.onnx").write_bytes(old)
    pruned = housekeeping.prune_cache(tmp_path, dry_run=True).removed
    assert [i.path.name for i in pruned] == [f"{sha256(old)}_old.onnx"]
    done = housekeeping.remove_cached(tmp_path, model="good")
    assert (done.matched, [i.path.name for i in done.removed]) == (1, [f"{sha256(good)}_good.onnx"])


# ---- locks, leftovers of killed processes, extraction records ----------------------


def test_a_lock_leaves_no_file_and_still_excludes(tmp_path: Path) -> None:
    target = tmp_path / "d" / "m.onnx"
    order: list[str] = []
    with locks.locked(target):
        assert (tmp_path / "d" / "m.onnx.lock").exists()
        with locks.lock_if_free(target) as free:
            assert not free  # another open of the lock file: excluded, as another process is

        def other() -> None:
            with locks.locked(target):
                order.append("other")

        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.1)
        order.append("first")
    thread.join(5)
    assert order == ["first", "other"]
    assert list((tmp_path / "d").iterdir()) == []  # removed when released
    with pytest.raises(TimeoutError), locks.locked(target), locks.locked(target, timeout=0.1):
        pass


def test_a_download_resumes_from_what_a_killed_one_left(tmp_path: Path) -> None:
    data = b"0123456789"
    target = tmp_path / f"{sha256(data)}_m.onnx"
    # What an older hubtools killed mid-download left: temporary files, no partial.
    (tmp_path / f".{target.name}.k2j4h5g6.tmp").write_bytes(data[:6])
    (tmp_path / f".{target.name}.aaaabbbb.tmp").write_bytes(data[:2])
    seen: list[bytes] = []

    def rest(part: Path) -> tuple[int, str]:
        seen.append(part.read_bytes())
        return _fetcher(data[len(seen[0]) :])(part)  # type: ignore[no-any-return]

    cache.fetch_into_cache(target, rest, sha=sha256(data), size=10, what="m")
    assert seen == [b"012345"]  # the longest one
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def _hold(target: Path) -> tuple[threading.Event, threading.Thread]:
    """Hold the lock of ``target`` in another thread until the event is set."""
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        with locks.locked(target):
            taken.set()
            done.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait(5)
    return done, thread


def test_prune_skips_what_a_running_process_holds_and_says_so(tmp_path: Path) -> None:
    busy = tmp_path / f"{SHA}_busy.onnx"
    free = tmp_path / f"{SHA}_free.onnx"
    for target in (busy, free):
        (tmp_path / f"{target.name}.partial").write_bytes(b"half")
    done, thread = _hold(busy)
    try:
        would = housekeeping.prune_cache(tmp_path, dry_run=True)
        pruned = housekeeping.prune_cache(tmp_path)
        assert (tmp_path / f"{busy.name}.partial").exists()
    finally:
        done.set()
        thread.join(5)
    for result in (would, pruned):
        assert [i.path.name for i in result.removed] == [f"{free.name}.partial"]
        assert [i.path.name for i in result.in_use] == [f"{busy.name}.partial"]
    assert [p.name for p in tmp_path.iterdir()] == [f"{busy.name}.partial"]
    assert housekeeping.prune_cache(tmp_path).in_use == []
    assert list(tmp_path.iterdir()) == []


def _killed_extraction(folder: Path) -> list[Path]:
    """What a SIGKILL during extraction into ``folder`` leaves beside it."""
    temp = folder.with_name(f".{folder.name}.x1y2z3w4.tmp")
    (temp / "m").mkdir(parents=True)
    (temp / "m" / "weights.bin").write_bytes(b"w" * 100)
    old = folder.with_name(f".{folder.name}.4242.old")
    old.mkdir()
    (old / "model.onnx").write_bytes(b"m")
    empty = folder.with_name(f".{folder.name}.emptyone.tmp")
    empty.mkdir()
    return [temp, old, empty]


def test_prune_removes_what_killed_extractions_left_under_the_folder_s_lock(
    tmp_path: Path,
) -> None:
    folder = tmp_path / f"{SHA}_ext"
    leftovers = _killed_extraction(folder)
    assert {i.kind for i in housekeeping.list_cache(tmp_path)} == {"partial"}
    done, thread = _hold(folder)  # an extraction is running
    try:
        assert housekeeping.prune_cache(tmp_path).removed == []
    finally:
        done.set()
        thread.join(5)
    removed = housekeeping.prune_cache(tmp_path).removed
    assert sorted(i.path for i in removed) == sorted(leftovers)
    assert sum(i.size for i in removed) == 101
    assert list(tmp_path.iterdir()) == []


def test_an_extraction_removes_the_leftovers_of_killed_ones_and_records_the_files(
    tmp_path: Path,
) -> None:
    archive = tmp_path / f"{SHA}_ext.tar.gz"
    archive.write_bytes(make_tar({"m/model.onnx": b"model", "m/weights.bin": b"w" * 10}))
    folder = extracted.extracted_folder(archive)
    _killed_extraction(folder)
    with locks.locked(folder):
        extracted.extract_into(archive, folder, safe_extract)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [archive.name, folder.name, f".{folder.name}.files.json"]
    )
    record = json.loads(extracted.record_path(folder).read_text())
    assert record["archive"] == archive.name
    assert record["files"]["m/weights.bin"]["sha256"] == sha256(b"w" * 10)
    assert extracted.check_extracted(folder) is None
    kinds = {str(i.path.relative_to(tmp_path)): i.kind for i in housekeeping.list_cache(tmp_path)}
    assert kinds[f".{folder.name}.files.json"] == "extracted"


@pytest.mark.parametrize("hash_on_load", [True, False])
def test_check_extracted_finds_every_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hash_on_load: bool
) -> None:
    archive = tmp_path / f"{SHA}_ext.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("m/model.onnx", b"model")
        zf.writestr("m/weights.bin", b"\x00\x00\x80\x3f")  # float 1.0
    folder = extracted.extracted_folder(archive)
    extracted.extract_into(archive, folder, safe_extract)
    if not hash_on_load:
        monkeypatch.setattr(extracted, "HASH_ON_LOAD_MAX", 0)
    weights = folder / "m" / "weights.bin"
    weights.write_bytes(b"\x00\x80\x26\x44")  # float 666.0: same size
    if hash_on_load:
        assert "m/weights.bin has sha256" in (extracted.check_extracted(folder) or "")
    else:
        assert (
            extracted.check_extracted(folder) == "m/weights.bin was modified after it was extracted"
        )
    # cache verify hashes whatever the size.
    assert "m/weights.bin has sha256" in (extracted.check_extracted(folder, full=True) or "")
    weights.write_bytes(b"\x00\x00\x80\x3f\x00")
    assert extracted.check_extracted(folder) == "m/weights.bin has 5 bytes, 4 when extracted"
    weights.unlink()
    assert extracted.check_extracted(folder) == "m/weights.bin is missing"
    (folder / "m" / "other.onnx").write_bytes(b"x")
    assert extracted.check_extracted(folder) == "m/other.onnx was not in the archive"
    extracted.record_path(folder).unlink()
    assert (
        extracted.check_extracted(folder)
        == f"no record of what was extracted (.{folder.name}.files.json)"
    )


def test_verify_checks_extracted_folders_and_removes_changed_ones(tmp_path: Path) -> None:
    data = make_tar({"m/model.onnx": b"model", "m/weights.bin": b"1"})
    archive = tmp_path / f"{sha256(data)}_ext.tar.gz"
    archive.write_bytes(data)
    folder = extracted.extracted_folder(archive)
    extracted.extract_into(archive, folder, safe_extract)
    assert [(r.kind, r.ok) for r in housekeeping.verify_cache(tmp_path)] == [
        ("model", True),
        ("extracted", True),
    ]
    (folder / "m" / "weights.bin").write_bytes(b"6")
    results = housekeeping.verify_cache(tmp_path)
    assert [(r.kind, r.ok, r.kept) for r in results] == [
        ("model", True, None),
        ("extracted", False, None),
    ]
    assert results[1].actual.startswith("m/weights.bin has sha256 ")
    assert not folder.exists()
    assert not extracted.record_path(folder).exists()
    assert archive.exists()


def test_a_resumed_download_that_does_not_match_is_fetched_again_from_its_start(
    tmp_path: Path,
) -> None:
    data = b"0123456789"
    target = tmp_path / f"{sha256(data)}_m.onnx"
    (tmp_path / f"{target.name}.partial").write_bytes(b"XYZ")  # kept from a wrong source
    seen: list[bytes] = []

    def rest(part: Path) -> tuple[int, str]:
        seen.append(part.read_bytes() if part.exists() else b"")
        return _fetcher(data[len(seen[-1]) :])(part)  # type: ignore[no-any-return]

    cache.fetch_into_cache(target, rest, sha=sha256(data), size=10, what="m")
    assert seen == [b"XYZ", b""]
    assert target.read_bytes() == data
