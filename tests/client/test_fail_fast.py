"""Failing fast and saying so: retries counted and their waits scheduled (never
slept here) within a budget of about 8 s, each logged with its reason and wait;
`Retry-After` honoured up to a cap; no network said as such; offline messages
that name what turned offline mode on and the archive that lists the model."""

from __future__ import annotations

import logging
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubtools import hub
from hubtools.client.config import Settings
from hubtools.client.download import download_to
from hubtools.errors import (
    HTTPStatusError,
    ManifestUnavailableError,
    ModelNotFoundError,
    NotCachedError,
    UnreachableError,
)
from tests.client_support import (
    BLOB,
    BLOB_PATH,
    Fault,
    HubServer,
    Zoo,
    build_repo,
    dead_url,
    running_server,
    serve_zoo,
)
from tests.conftest import RunCli

DATA = BLOB
PATH = BLOB_PATH


def _defaults(tmp_path: Path, **env: str) -> Settings:
    """The settings a user gets with no HUBTOOLS_* variable set (but ``env``)."""
    return Settings.resolve(cache_dir=tmp_path / "cache", env=env)


def _get(server: HubServer, settings: Settings, tmp_path: Path) -> None:
    url = f"{server.url}/media/o/r/main/{PATH}"
    download_to(url, tmp_path / "blob.part", settings, expected_size=len(DATA))


def _retries_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "; retry " in r.getMessage()
    ]


def test_the_default_budget_gives_up_within_8_seconds_and_logs_each_retry(
    server: HubServer, tmp_path: Path, waits: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    server.fault(PATH, Fault("500", times=-1))
    with (
        caplog.at_level(logging.WARNING, logger="hubtools"),
        pytest.raises(HTTPStatusError) as info,
    ):
        _get(server, _defaults(tmp_path), tmp_path)
    assert waits == [0.25, 0.5, 1.0, 2.0, 4.0]
    assert sum(waits) <= 8  # pip's retries take about 7.5 s; the old default took 31 s
    assert server.hits[f"/media/o/r/main/{PATH}"] == 6
    assert info.value.code == 500
    assert "gave up after 6 attempts (HUBTOOLS_RETRIES=5)" in str(info.value)
    logged = _retries_logged(caplog)
    assert len(logged) == 5
    assert logged[0].endswith("HTTP 500; retry 1/5 in 0.25 s")
    assert logged[4].endswith("HTTP 500; retry 5/5 in 4.00 s")


def test_retry_after_is_honoured_while_it_fits_the_budget(
    server: HubServer, tmp_path: Path, waits: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    server.fault(PATH, Fault("429", times=-1, retry_after="3"))
    with (
        caplog.at_level(logging.WARNING, logger="hubtools"),
        pytest.raises(HTTPStatusError) as info,
    ):
        _get(server, _defaults(tmp_path), tmp_path)
    assert waits == [3.0, 3.0]  # a third wait would pass the 8 s budget: not waited
    assert info.value.code == 429
    message = str(info.value)
    assert "the wait of 3 s the server asks (Retry-After) would pass the retry budget of 8 s" in (
        message
    )
    assert "HUBTOOLS_RETRY_BUDGET" in message
    assert "6 s waited so far" in message
    assert _retries_logged(caplog)[0].endswith("HTTP 429; retry 1/5 in 3.00 s (Retry-After)")


def test_retry_after_is_capped_at_a_minute(
    server: HubServer, tmp_path: Path, waits: list[float]
) -> None:
    server.fault(PATH, Fault("429", times=1, retry_after="3600"))
    settings = _defaults(tmp_path, HUBTOOLS_RETRY_BUDGET="100", HUBTOOLS_MIN_SPEED="0")
    _get(server, settings, tmp_path)
    assert waits == [60.0]


def test_the_budget_is_configurable(server: HubServer, tmp_path: Path, waits: list[float]) -> None:
    server.fault(PATH, Fault("500", times=-1))
    with pytest.raises(HTTPStatusError, match=r"budget of 0\.5 s"):
        _get(server, _defaults(tmp_path, HUBTOOLS_RETRY_BUDGET="0.5"), tmp_path)
    assert waits == [0.25]
    waits.clear()
    server.hits.clear()
    settings = _defaults(tmp_path, HUBTOOLS_RETRIES="2", HUBTOOLS_BACKOFF="0.1")
    with pytest.raises(HTTPStatusError, match="gave up after 3 attempts"):
        _get(server, settings, tmp_path)
    assert waits == [0.1, 0.2]
    assert server.hits[f"/media/o/r/main/{PATH}"] == 3


@pytest.fixture
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, waits: list[float]) -> Iterator[Zoo]:
    with serve_zoo(tmp_path, monkeypatch) as z:
        yield z


def test_with_no_network_the_message_says_no_source_could_be_reached(
    zoo: Zoo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, waits: list[float]
) -> None:
    hub.list_models(zoo.repo)  # the manifest is kept; then the network goes
    dead = dead_url()
    monkeypatch.setenv("HUBTOOLS_GITHUB_MEDIA", f"{dead}/media")
    with pytest.raises(UnreachableError) as info:
        hub.load("mnist", zoo.repo, mirrors=[f"{dead}/mirror"])
    message = str(info.value)
    assert message.startswith("MNIST (validated/vision/classification/mnist/model/mnist-12.onnx)")
    assert "no source could be reached" in message
    assert "(1) its host: " in message
    assert "(2) mirror 1: " in message
    assert "--offline" in message
    assert isinstance(info.value, urllib.error.URLError)  # as onnx.hub's urlopen raised
    assert sum(waits) <= 2 * 8  # two sources, each within the budget
    monkeypatch.setenv("HUBTOOLS_GITHUB_RAW", f"{dead}/raw")
    with pytest.raises(ManifestUnavailableError, match="Could not find manifest of acme/zoo:dev"):
        hub.list_models("acme/zoo:dev")


def test_offline_messages_name_what_turned_offline_mode_on(
    run_cli: RunCli, zoo: Zoo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBTOOLS_REPO", zoo.repo)
    run = run_cli("download", "resnet18", "--offline")
    assert run.exit_code == 2
    assert "offline (--offline was given)" in run.stderr
    assert "run without --offline" in run.stderr
    assert "HUBTOOLS_OFFLINE" not in run.stderr
    monkeypatch.setenv("HUBTOOLS_OFFLINE", "1")
    run = run_cli("download", "resnet18")
    assert "offline (HUBTOOLS_OFFLINE is set)" in run.stderr
    assert "unset HUBTOOLS_OFFLINE" in run.stderr
    with pytest.raises(NotCachedError, match=r"offline \(offline=True was given\)"):
        hub.Hub(Settings.resolve(offline=True)).load("resnet18", zoo.repo)


def test_messages_name_the_shipped_archive_when_it_lists_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    root = tmp_path / "zoo"
    build_repo(root)
    with running_server() as github:
        github.add_repo("onnx", "models", "main", root)
        monkeypatch.setenv("HUBTOOLS_GITHUB_RAW", f"{github.url}/raw")
        with pytest.raises(ModelNotFoundError) as info:
            hub.load("alexnet_torch_hub")
        with pytest.raises(ModelNotFoundError) as other:
            hub.load("nope")
    assert 'use repo="onnx/models:archive" (--repo onnx/models:archive)' in str(info.value)
    assert "archive" not in str(other.value)
    monkeypatch.setenv("HUBTOOLS_OFFLINE", "1")
    hub.set_dir(tmp_path / "empty-cache")
    with pytest.raises(NotCachedError) as offline:
        hub.load("alexnet_torch_hub")
    message = str(offline.value)
    assert "offline (HUBTOOLS_OFFLINE is set) and no manifest of onnx/models:main" in message
    assert 'has alexnet_torch_hub: use repo="onnx/models:archive"' in message
    assert waits == []
