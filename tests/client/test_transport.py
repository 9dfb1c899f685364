"""The transport against a real loopback HTTP server with switchable faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubtools.client.config import Settings
from hubtools.client.download import download_to
from hubtools.client.transport import fetch_text
from hubtools.errors import DownloadError
from tests.client_support import Fault, HubServer, running_server, sha256

DATA = bytes(range(256)) * 64  # 16 KiB
PATH = "models/blob.onnx"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[HubServer]:
    root = tmp_path / "repo"
    (root / "models").mkdir(parents=True)
    (root / PATH).write_bytes(DATA)
    (root / "ONNX_HUB_MANIFEST.json").write_text("[]")
    with running_server() as srv:
        srv.add_repo("o", "r", "main", root)
        yield srv


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(cache_dir=tmp_path / "cache", backoff=0.01, retries=3, read_timeout=2)


def _url(server: HubServer) -> str:
    return f"{server.url}/media/o/r/main/{PATH}"


def _get(server: HubServer, settings: Settings, tmp_path: Path) -> tuple[Path, object]:
    part = tmp_path / "blob.part"
    got = download_to(_url(server), part, settings, expected_size=len(DATA))
    return part, got


def test_plain_download_hashes_while_streaming(
    server: HubServer, settings: Settings, tmp_path: Path
) -> None:
    part, got = _get(server, settings, tmp_path)
    assert part.read_bytes() == DATA
    assert got.sha256 == sha256(DATA)
    assert got.size == len(DATA)


def test_404_names_the_url(server: HubServer, settings: Settings, tmp_path: Path) -> None:
    server.fault(PATH, Fault("404", times=-1))
    with pytest.raises(DownloadError, match=r"404 Not Found") as info:
        _get(server, settings, tmp_path)
    assert _url(server) in str(info.value)
    assert server.hits[f"/media/o/r/main/{PATH}"] == 1  # a 404 is not retried


def test_500_then_ok_is_retried(server: HubServer, settings: Settings, tmp_path: Path) -> None:
    server.fault(PATH, Fault("500", times=2))
    part, _ = _get(server, settings, tmp_path)
    assert part.read_bytes() == DATA
    assert server.hits[f"/media/o/r/main/{PATH}"] == 3


def test_500_forever_gives_up_with_the_count(
    server: HubServer, settings: Settings, tmp_path: Path
) -> None:
    server.fault(PATH, Fault("500", times=-1))
    with pytest.raises(DownloadError, match="gave up after 4 attempts"):
        _get(server, settings, tmp_path)


def test_429_honours_retry_after(server: HubServer, settings: Settings, tmp_path: Path) -> None:
    server.fault(PATH, Fault("429", times=1, retry_after="1"))
    start = time.monotonic()
    part, _ = _get(server, settings, tmp_path)
    assert time.monotonic() - start >= 0.9  # backoff alone would be 0.01 s
    assert part.read_bytes() == DATA


def test_truncated_body_resumes_with_range(
    server: HubServer, settings: Settings, tmp_path: Path
) -> None:
    server.fault(PATH, Fault("truncate"))
    part, got = _get(server, settings, tmp_path)
    assert part.read_bytes() == DATA
    assert got.sha256 == sha256(DATA)  # type: ignore[attr-defined]
    assert server.ranges == [f"bytes={len(DATA) // 2}-"]


def test_truncated_body_without_range_support_starts_over(
    server: HubServer, settings: Settings, tmp_path: Path
) -> None:
    server.range_enabled = False
    server.fault(PATH, Fault("truncate"))
    part, got = _get(server, settings, tmp_path)
    assert part.read_bytes() == DATA
    assert got.sha256 == sha256(DATA)  # type: ignore[attr-defined]
    assert server.ranges == []


def test_kept_partial_is_resumed(server: HubServer, settings: Settings, tmp_path: Path) -> None:
    part = tmp_path / "blob.part"
    part.write_bytes(DATA[:1000])
    got = download_to(_url(server), part, settings, expected_size=len(DATA))
    assert got.sha256 == sha256(DATA)
    assert server.ranges == ["bytes=1000-"]


def test_slow_body_past_the_read_timeout_is_retried(server: HubServer, tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path, backoff=0.01, retries=3, read_timeout=0.2)
    server.fault(PATH, Fault("slow", delay=0.5))
    _part, got = _get(server, settings, tmp_path)
    assert got.sha256 == sha256(DATA)  # type: ignore[attr-defined]
    assert server.hits[f"/media/o/r/main/{PATH}"] == 2


def test_slow_body_within_the_read_timeout_just_works(
    server: HubServer, settings: Settings, tmp_path: Path
) -> None:
    server.fault(PATH, Fault("slow", delay=0.005))
    _, got = _get(server, settings, tmp_path)
    assert got.sha256 == sha256(DATA)  # type: ignore[attr-defined]
    assert server.hits[f"/media/o/r/main/{PATH}"] == 1


def test_wrong_bytes_are_reported_by_hash(
    server: HubServer, settings: Settings, tmp_path: Path
) -> None:
    server.fault(PATH, Fault("wrong_bytes"))
    _, got = _get(server, settings, tmp_path)
    assert got.sha256 != sha256(DATA)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("lfs_pointer", r"Git LFS pointer.*no longer serves.*July 2025.*HUBTOOLS_GITHUB_MEDIA"),
        ("html", r"HTML page \(HTTP 200, 'Sign in'\)"),
        ("quota", r"over its Git LFS data quota"),
        ("redirect_loop", r"too many redirects"),
    ],
)
def test_bodies_that_are_not_the_file_say_what_happened(
    server: HubServer, settings: Settings, tmp_path: Path, kind: str, message: str
) -> None:
    server.fault(PATH, Fault(kind, times=-1))
    with pytest.raises(DownloadError, match=message):
        _get(server, settings, tmp_path)


def test_fetch_text_and_its_404(server: HubServer, settings: Settings) -> None:
    assert fetch_text(f"{server.url}/raw/o/r/main/ONNX_HUB_MANIFEST.json", settings) == "[]"
    url = f"{server.url}/raw/o/r/nope/ONNX_HUB_MANIFEST.json"
    with pytest.raises(DownloadError, match=f"{url}: HTTP 404"):
        fetch_text(url, settings)


def test_fetch_text_refuses_an_lfs_pointer_manifest(server: HubServer, settings: Settings) -> None:
    server.fault("ONNX_HUB_MANIFEST.json", Fault("lfs_pointer"))
    with pytest.raises(DownloadError, match="Git LFS pointer"):
        fetch_text(f"{server.url}/raw/o/r/main/ONNX_HUB_MANIFEST.json", settings)


def test_connection_refused_is_retried_then_reported(tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path, backoff=0.01, retries=1, connect_timeout=1)
    with running_server() as srv:
        url = f"{srv.url}/raw/x/y/z/f"
    with pytest.raises(DownloadError, match=r"connection failed.*gave up after 2 attempts"):
        fetch_text(url, settings)


def test_file_url_is_copied_with_hash(tmp_path: Path, settings: Settings) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(DATA)
    got = download_to(src.as_uri(), tmp_path / "out.part", settings)
    assert got.sha256 == sha256(DATA)
    with pytest.raises(DownloadError, match="no such file"):
        download_to((tmp_path / "missing").as_uri(), tmp_path / "x.part", settings)
