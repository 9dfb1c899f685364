"""The transport against a real loopback HTTP server with switchable faults."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from hubtools.client.config import Settings
from hubtools.client.download import download_to
from hubtools.client.transport import fetch_text
from hubtools.errors import DownloadError
from tests.client_support import BLOB, BLOB_PATH, Fault, HubServer, running_server, sha256

DATA = BLOB
PATH = BLOB_PATH


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


def test_429_honours_retry_after(
    server: HubServer, settings: Settings, tmp_path: Path, waits: list[float]
) -> None:
    server.fault(PATH, Fault("429", times=2, retry_after="7"))
    settings = dataclasses.replace(settings, retry_budget=14)
    part, _ = _get(server, settings, tmp_path)
    assert waits == [7.0, 7.0]  # backoff alone would be 0.01 and 0.02 s
    assert part.read_bytes() == DATA


def test_backoff_doubles_and_failures_are_counted(
    server: HubServer, settings: Settings, tmp_path: Path, waits: list[float]
) -> None:
    server.fault(PATH, Fault("500", times=-1))
    with pytest.raises(DownloadError, match="gave up after 4 attempts"):
        _get(server, settings, tmp_path)
    assert waits == [0.01, 0.02, 0.04]
    assert server.hits[f"/media/o/r/main/{PATH}"] == 4


def test_a_wait_past_what_the_speed_rules_allow_is_not_waited(
    server: HubServer, tmp_path: Path, waits: list[float]
) -> None:
    settings = Settings(cache_dir=tmp_path, retries=3, min_speed_time=5)
    server.fault(PATH, Fault("429", times=-1, retry_after="30"))
    with pytest.raises(DownloadError) as info:
        _get(server, settings, tmp_path)
    message = str(info.value)
    assert "HTTP 429; the next attempt would start after 30.0 s" in message
    assert "past the 10.0 s the speed rules allow for 0 bytes" in message
    assert "HUBTOOLS_MIN_SPEED" in message
    assert waits == []
    settings = Settings(cache_dir=tmp_path, retries=3, min_speed=0, deadline=20)
    with pytest.raises(DownloadError, match=r"past the deadline of 20 s \(HUBTOOLS_DEADLINE"):
        _get(server, settings, tmp_path)
    assert waits == []


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


# ---- servers that keep a download alive: speed rules, deadline, resumes ----------


def _slow_rules(tmp_path: Path, **extra: float) -> Settings:
    """Speed rules scaled down so that tests take a second: 1 KiB/s over 0.2 s."""
    values = {"min_speed": 1024.0, "min_speed_time": 0.2, "backoff": 0.01, "retries": 3}
    values.update(extra)
    return Settings(cache_dir=tmp_path, read_timeout=10, **values)  # type: ignore[arg-type]


def test_a_dripping_body_is_cut_by_the_speed_rules(
    server: HubServer, tmp_path: Path, waits: list[float]
) -> None:
    # One byte every 50 ms resets any read timeout; before the rules it ran for 800 s.
    server.fault(PATH, Fault("drip", times=-1, delay=0.05, after=100))
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        _get(server, _slow_rules(tmp_path), tmp_path)
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert "HUBTOOLS_MIN_SPEED" in message
    assert "what arrived is kept; the next try resumes from it" in message
    # Each too-slow attempt counted as a failure, with its backoff, until the
    # whole download ran past what the rules allow for the bytes it got.
    assert waits == [0.01, 0.02, 0.04][: len(waits)]
    assert server.hits[f"/media/o/r/main/{PATH}"] == len(waits) + 1
    assert (tmp_path / "blob.part").stat().st_size >= 100


def test_too_slow_attempts_use_up_the_retries_and_say_why(
    server: HubServer, tmp_path: Path, waits: list[float]
) -> None:
    # 15 bytes, then silence: every attempt makes a little progress, and is too slow.
    server.fault(PATH, Fault("stall", times=-1, after=15))
    settings = _slow_rules(tmp_path, min_speed=100, min_speed_time=0.3, retries=1)
    with pytest.raises(DownloadError) as info:
        _get(server, settings, tmp_path)
    assert str(info.value).startswith(f"{_url(server)}: too slow: 15 bytes in 0.3 s, ")
    assert "under the 100 bytes/s asked over 0.3 s (HUBTOOLS_MIN_SPEED" in str(info.value)
    assert "gave up after 2 attempts" in str(info.value)
    assert waits == [0.01]
    assert (tmp_path / "blob.part").stat().st_size == 30  # each attempt's 15 bytes kept


def test_dripped_headers_are_cut_too(server: HubServer, tmp_path: Path) -> None:
    server.fault(PATH, Fault("drip_headers", times=-1, delay=0.05))
    start = time.monotonic()
    with pytest.raises(
        DownloadError,
        match=r"stopped after [0-9.]+ s, past the 0\.4 s the speed rules allow for 0 bytes",
    ):
        _get(server, _slow_rules(tmp_path), tmp_path)
    assert time.monotonic() - start < 3


def test_the_deadline_bounds_a_download_that_keeps_the_minimum_speed(
    server: HubServer, tmp_path: Path
) -> None:
    server.fault(PATH, Fault("slow", times=-1, delay=0.1))  # 10 KiB/s: above the minimum
    settings = _slow_rules(tmp_path, deadline=0.5)
    with pytest.raises(DownloadError) as info:
        _get(server, settings, tmp_path)
    assert "past the deadline of 0.5 s (HUBTOOLS_DEADLINE" in str(info.value)
    assert server.hits[f"/media/o/r/main/{PATH}"] == 1


def test_a_server_cutting_every_answer_is_resumed_while_it_brings_new_bytes(
    server: HubServer, tmp_path: Path, waits: list[float]
) -> None:
    # Before, each cut used up a retry: 6 attempts, then "gave up".
    server.fault(PATH, Fault("cut", times=-1, after=1000))
    settings = Settings(cache_dir=tmp_path, backoff=0.01, retries=1)
    part, got = _get(server, settings, tmp_path)
    assert got.sha256 == sha256(DATA)  # type: ignore[attr-defined]
    assert part.read_bytes() == DATA
    assert server.hits[f"/media/o/r/main/{PATH}"] == 17  # 16 KiB, 1000 bytes at a time
    assert server.ranges[:2] == ["bytes=1000-", "bytes=2000-"]
    assert waits == []


def test_cuts_without_new_bytes_are_failures(
    server: HubServer, tmp_path: Path, waits: list[float]
) -> None:
    # Range ignored and every answer cut at the same byte: nothing new after the first.
    server.range_enabled = False
    server.fault(PATH, Fault("cut", times=-1, after=1000))
    settings = Settings(cache_dir=tmp_path, backoff=0.01, retries=2)
    with pytest.raises(DownloadError, match="gave up after 3 attempts and 1 resumes after cuts"):
        _get(server, settings, tmp_path)
    assert waits == [0.01, 0.02]


def test_a_reset_connection_is_resumed(
    server: HubServer, settings: Settings, tmp_path: Path
) -> None:
    server.fault(PATH, Fault("reset", times=-1, after=5000))
    settings = Settings(cache_dir=tmp_path, backoff=0.01, retries=1)
    _, got = _get(server, settings, tmp_path)
    assert got.sha256 == sha256(DATA)  # type: ignore[attr-defined]
    assert server.ranges == ["bytes=5000-", "bytes=10000-", "bytes=15000-"]


def test_a_dripping_manifest_is_cut_as_well(server: HubServer, tmp_path: Path) -> None:
    server.fault(PATH, Fault("drip", times=-1, delay=0.05))
    start = time.monotonic()
    with pytest.raises(DownloadError, match="HUBTOOLS_MIN_SPEED"):
        fetch_text(f"{server.url}/raw/o/r/main/{PATH}", _slow_rules(tmp_path))
    assert time.monotonic() - start < 5
