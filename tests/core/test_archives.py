"""Test-data tarballs are extracted safely: every bad member is refused before any write."""

from __future__ import annotations

import gzip
import tarfile
from pathlib import Path

import pytest

from hubtools.core.archive_policy import DEFAULT_LIMITS, Limits
from hubtools.core.archives import (
    MODEL_ARCHIVE_FORMATS,
    archive_format,
    check_archive,
    find_model_folder,
    safe_extract,
    strip_archive_suffix,
)
from hubtools.errors import FileReadError, UnsafeArchiveError
from tests.client_support import make_tar, make_test_data_tarball, tiny_model_bytes


def _member(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


MALICIOUS = {
    "traversal": ({"../evil.txt": b"x"}, [], "leaves the extraction folder"),
    "deep traversal": ({"ok/../../evil.txt": b"x"}, [], "leaves the extraction folder"),
    "absolute": ({"/tmp/evil.txt": b"x"}, [], "absolute"),
    "symlink out": ({}, [_member("link", tarfile.SYMTYPE, "../../etc/passwd")], "symlink"),
    "absolute symlink": ({}, [_member("link", tarfile.SYMTYPE, "/etc/passwd")], "symlink"),
    "hardlink out": ({}, [_member("hard", tarfile.LNKTYPE, "../outside")], "hard link"),
    "char device": ({}, [_member("dev", tarfile.CHRTYPE)], "device"),
    "block device": ({}, [_member("blk", tarfile.BLKTYPE)], "device"),
    "fifo": ({}, [_member("fifo", tarfile.FIFOTYPE)], "FIFO"),
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_members_are_refused_before_any_write(tmp_path: Path, case: str) -> None:
    files, extra, message = MALICIOUS[case]
    # The evil file comes after a harmless one: nothing at all may be written.
    archive = tmp_path / "cache" / "bad.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(make_tar({"fine/a.txt": b"a", **files}, extra=extra))
    before = sorted(p for p in tmp_path.rglob("*"))
    with pytest.raises(UnsafeArchiveError, match=message):
        safe_extract(archive, tmp_path / "cache" / "out")
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert not Path("/tmp/evil.txt").exists() or Path("/tmp/evil.txt").read_bytes() != b"x"


def test_member_count_and_size_limits(tmp_path: Path) -> None:
    archive = tmp_path / "many.tar.gz"
    archive.write_bytes(make_tar({f"f{i}": b"0123456789" for i in range(20)}))
    with pytest.raises(UnsafeArchiveError, match="more than 10 members"):
        safe_extract(archive, tmp_path / "out", max_members=10)
    with pytest.raises(UnsafeArchiveError, match="larger than 100 bytes"):
        safe_extract(archive, tmp_path / "out", max_bytes=100)
    assert not (tmp_path / "out").exists()


def test_not_a_tarball_is_an_unsafe_archive_error(tmp_path: Path) -> None:
    archive = tmp_path / "junk.tar.gz"
    archive.write_bytes(b"not a tarball at all")
    with pytest.raises(UnsafeArchiveError, match="not a readable tar or zip archive"):
        safe_extract(archive, tmp_path / "out")


def test_good_tarball_is_extracted_atomically(tmp_path: Path) -> None:
    archive = tmp_path / "good.tar.gz"
    archive.write_bytes(make_test_data_tarball(tiny_model_bytes(), "mnist-8"))
    dest = safe_extract(archive, tmp_path / "abc_good")
    folder = find_model_folder(dest)
    assert folder == dest / "mnist-8"
    assert (folder / "model.onnx").is_file()
    assert (folder / "test_data_set_0" / "input_0.pb").is_file()
    # No temporary folder is left beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc_good", "good.tar.gz"]
    # Extracting again replaces the folder.
    (folder / "stray").write_text("x")
    safe_extract(archive, dest)
    assert not (folder / "stray").exists()


def test_internal_links_are_allowed(tmp_path: Path) -> None:
    archive = tmp_path / "links.tar.gz"
    extra = [_member("d/alias", tarfile.SYMTYPE, "model.onnx")]
    archive.write_bytes(make_tar({"d/model.onnx": b"m"}, dirs=["d"], extra=extra))
    dest = safe_extract(archive, tmp_path / "out")
    assert (dest / "d" / "alias").read_bytes() == b"m"


@pytest.mark.parametrize(
    ("name", "fmt", "model_archive", "stem"),
    [
        ("m.tar.gz", "tar.gz", "tar.gz", "m"),
        ("m.tgz", "tar.gz", "tar.gz", "m"),
        ("m.zip", "zip", "zip", "m"),
        ("m.tar", "tar", None, "m"),
        ("m.onnx", None, None, None),
        ("m.gz", None, None, None),
    ],
)
def test_one_registry_of_archive_suffixes(
    name: str, fmt: str | None, model_archive: str | None, stem: str | None
) -> None:
    found = archive_format(name)
    assert (found.name if found else None) == fmt
    as_model = archive_format(name, model_archive=True)
    assert (as_model.name if as_model else None) == model_archive
    assert strip_archive_suffix(name) == stem
    assert MODEL_ARCHIVE_FORMATS == ("tar.gz", "zip")


def test_default_limits_are_the_documented_ones() -> None:
    documented = Limits(
        max_members=100_000, max_bytes=16 << 30, max_ratio=200, ratio_exempt_bytes=64 << 20
    )
    assert documented == DEFAULT_LIMITS


def _weights_and_zeros(tmp_path: Path) -> tuple[Path, Path]:
    import numpy as np

    weights = np.random.default_rng(0).normal(0, 0.05, 250_000).astype(np.float32).tobytes()
    real = tmp_path / "weights.tar.gz"
    real.write_bytes(make_tar({"m/model.onnx": tiny_model_bytes(), "m/w.data": weights}))
    zeros = tmp_path / "zeros.tar.gz"
    zeros.write_bytes(make_tar({"m/model.onnx": tiny_model_bytes(), "m/z.data": bytes(1 << 20)}))
    return real, zeros


def test_ratio_limit_refuses_what_expands_too_much(tmp_path: Path) -> None:
    real, zeros = _weights_and_zeros(tmp_path)
    strict = Limits(max_ratio=200, ratio_exempt_bytes=0)  # as if both were past 64 MiB
    check_archive(real, limits=strict)  # float weights expand about 1.1 times
    with pytest.raises(
        UnsafeArchiveError, match=r"times the archive's \d+ bytes, more than the 200"
    ):
        check_archive(zeros, limits=strict)
    with pytest.raises(UnsafeArchiveError, match="decompression bomb"):
        safe_extract(zeros, tmp_path / "out", limits=strict)
    assert not (tmp_path / "out").exists()
    check_archive(zeros)  # 1 MiB of zeros is under the 64 MiB that are never refused
    assert (safe_extract(zeros, tmp_path / "out") / "m" / "z.data").stat().st_size == 1 << 20


def test_check_archive_reads_and_writes_nothing_else(tmp_path: Path) -> None:
    archive = tmp_path / "good.tar.gz"
    archive.write_bytes(make_test_data_tarball(tiny_model_bytes(), "mnist-8"))
    before = sorted(tmp_path.rglob("*"))
    assert check_archive(archive) is None
    assert sorted(tmp_path.rglob("*")) == before
    with pytest.raises(FileReadError, match="cannot read"):
        check_archive(tmp_path)
    with pytest.raises(FileReadError):
        check_archive(tmp_path / "missing.tar.gz")


def test_member_names_over_the_path_policy_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "long.tar.gz"
    archive.write_bytes(make_tar({"m/" + "n" * 256: b"x"}))
    with pytest.raises(UnsafeArchiveError, match="has a part of 256 bytes"):
        safe_extract(archive, tmp_path / "out")


def test_implied_folders_count_as_members(tmp_path: Path) -> None:
    archive = tmp_path / "deep.tar.gz"
    archive.write_bytes(make_tar({"/".join(["d"] * 20) + "/x": b"x"}))
    with pytest.raises(UnsafeArchiveError, match="more than 10 members"):
        check_archive(archive, limits=Limits(max_members=10))
    check_archive(archive, limits=Limits(max_members=21))


# ---- gzip, inflated by zlib to the end of the stream --------------------------------

_TENSOR = bytes(range(256)) * 8192  # 2 MiB: the gzip trailer lies past the first read


def _bundle_variants() -> dict[str, bytes]:
    good = make_tar({"test_data_set_0/input_0.pb": _TENSOR})
    tar = gzip.decompress(good)
    return {
        "good": good,
        "two-members": gzip.compress(tar[:4096], mtime=0) + gzip.compress(tar[4096:], mtime=0),
        "zero-padding": good + b"\0" * 100,
        "bad-crc": good[:-8] + bytes([good[-8] ^ 1]) + good[-7:],
        "bad-length": good[:-4] + bytes([good[-4] ^ 1]) + good[-3:],
        "cut": good[: len(good) - 20],
        "garbage-after": good + b"garbage!",
    }


@pytest.mark.parametrize(
    ("name", "refusal"),
    [
        ("good", None),
        ("two-members", None),
        ("zero-padding", None),
        ("bad-crc", "incorrect data check"),
        ("bad-length", "incorrect length check"),
        ("cut", "the gzip stream ends before its end-of-stream marker"),
        ("garbage-after", "incorrect header check"),
    ],
)
def test_a_gzip_bundle_is_read_to_its_end_by_check_and_extraction_alike(
    tmp_path: Path, name: str, refusal: str | None
) -> None:
    """gzip.GzipFile was left at the tar's end marker, so a wrong CRC-32 past the
    first MiB passed; zlib now checks every member's CRC and length, as gzip
    does when it reads to the end (zero padding allowed, nothing else)."""
    path = tmp_path / f"{name}.tar.gz"
    path.write_bytes(_bundle_variants()[name])
    if refusal is None:
        check_archive(path)
        out = safe_extract(path, tmp_path / "out")
        assert (out / "test_data_set_0" / "input_0.pb").read_bytes() == _TENSOR
        return
    with pytest.raises(UnsafeArchiveError) as checked:
        check_archive(path)
    assert str(checked.value).startswith(f"{path.name}: not a readable tar or zip archive: ")
    assert refusal in str(checked.value)
    with pytest.raises(UnsafeArchiveError) as extracted:
        safe_extract(path, tmp_path / "out")
    assert str(extracted.value) == str(checked.value)
    assert not (tmp_path / "out").exists()
