"""Settings are resolved once per public call: one ``hub.load`` reads the config
file once (it used to read it three times, re-resolving at every step)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hubtools import hub
from tests.client_support import Zoo, serve_zoo

_recording: list[str] | None = None


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _recording is not None and event == "open" and isinstance(args[0], (str, os.PathLike)):
        _recording.append(os.fspath(args[0]))  # type: ignore[arg-type]


sys.addaudithook(_audit)  # audit hooks cannot be removed; this one is idle unless recording


@contextmanager
def _opens() -> Iterator[list[str]]:
    global _recording
    _recording = []
    try:
        yield _recording
    finally:
        _recording = None


@pytest.fixture
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Zoo]:
    with serve_zoo(tmp_path, monkeypatch) as z:
        z.cache.mkdir(parents=True, exist_ok=True)
        (z.cache / "config.json").write_text(json.dumps({"mirrors": {}}))
        yield z


CALLS: dict[str, Callable[[str], object]] = {
    "load": lambda repo: hub.load("mnist", repo),
    "download_model_with_test_data": lambda repo: hub.download_model_with_test_data("mnist", repo),
    "list_models": lambda repo: hub.list_models(repo),
    "get_model_info": lambda repo: hub.get_model_info("mnist", repo),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_one_public_call_reads_the_config_file_once(zoo: Zoo, call: str) -> None:
    config = str(zoo.cache / "config.json")
    for _ in range(2):  # the second time everything is cached
        with _opens() as opened:
            assert CALLS[call](zoo.repo) is not None
        assert opened.count(config) == 1
