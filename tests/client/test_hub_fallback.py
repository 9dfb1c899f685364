"""When the manifest cannot be fetched, the copy kept from an earlier fetch is used."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubtools import hub
from hubtools.errors import DownloadError
from tests.client_support import Fault, Zoo, serve_zoo

MANIFEST = "ONNX_HUB_MANIFEST.json"


@pytest.fixture
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Zoo]:
    with serve_zoo(tmp_path, monkeypatch) as served:
        monkeypatch.setenv("HUBTOOLS_RETRIES", "0")
        yield served


def _records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_server_error_falls_back_to_the_kept_manifest(
    zoo: Zoo, caplog: pytest.LogCaptureFixture
) -> None:
    names = [m.model for m in hub.list_models(zoo.repo)]
    zoo.server.fault(MANIFEST, Fault("500", times=-1))
    with caplog.at_level(logging.WARNING, logger="hubtools"):
        assert [m.model for m in hub.list_models(zoo.repo)] == names
    (message,) = _records(caplog)
    assert message.startswith(f"cannot fetch the manifest of {zoo.repo} (")
    assert "using the copy kept at" in message
    assert hub.load("mnist", zoo.repo) is not None  # the payload still comes from the server


def test_without_a_kept_copy_the_error_is_raised(zoo: Zoo) -> None:
    zoo.server.fault(MANIFEST, Fault("500", times=-1))
    with pytest.raises(DownloadError, match="HTTP 500"):
        hub.list_models(zoo.repo)


def test_a_404_is_not_hidden_by_the_kept_copy(zoo: Zoo) -> None:
    hub.list_models(zoo.repo)
    zoo.server.fault(MANIFEST, Fault("404", times=-1))
    with pytest.raises(DownloadError, match="HTTP 404"):
        hub.list_models(zoo.repo)


def test_unresolvable_host_is_not_retried_and_falls_back(
    zoo: Zoo, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    names = [m.model for m in hub.list_models(zoo.repo)]
    kept_key = zoo.repo  # the kept copy is per repository and ref, not per endpoint
    monkeypatch.setenv("HUBTOOLS_GITHUB_RAW", "http://hubtools-test.invalid/raw")
    monkeypatch.setenv("HUBTOOLS_RETRIES", "5")  # would sleep ~31 s if it retried
    with caplog.at_level(logging.WARNING, logger="hubtools"):
        assert [m.model for m in hub.list_models(kept_key)] == names
    (message,) = _records(caplog)
    assert "cannot resolve the host hubtools-test.invalid" in message
    with pytest.raises(DownloadError, match=r"cannot resolve the host hubtools-test\.invalid"):
        hub.list_models(f"{zoo.repo.split(':')[0]}:other-ref")
