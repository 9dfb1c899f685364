"""Settings come from explicit arguments, then the environment, then defaults, at call time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hubtools import config
from hubtools.config import Settings
from hubtools.errors import UsageError


@pytest.fixture(autouse=True)
def _no_set_dir() -> Iterator[None]:
    config.set_dir(None)
    yield
    config.set_dir(None)


def test_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ONNX_HOME")
    assert config.default_cache_dir() == tmp_path / "home" / ".cache" / "onnx" / "hub"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert config.default_cache_dir() == tmp_path / "xdg" / "onnx" / "hub"
    monkeypatch.setenv("ONNX_HOME", str(tmp_path / "onnx"))
    assert config.default_cache_dir() == tmp_path / "onnx" / "hub"
    config.set_dir(tmp_path / "explicit")
    assert config.default_cache_dir() == tmp_path / "explicit"
    assert Settings.resolve(cache_dir=tmp_path / "arg").cache_dir == tmp_path / "arg"


def test_resolved_at_call_time_not_import(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ONNX_HOME", str(tmp_path / "a"))
    first = Settings.resolve().cache_dir
    monkeypatch.setenv("ONNX_HOME", str(tmp_path / "b"))
    assert (first, Settings.resolve().cache_dir) == (tmp_path / "a/hub", tmp_path / "b/hub")


def test_environment_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.resolve().offline is False
    assert Settings.resolve().progress is True
    monkeypatch.setenv("HUBTOOLS_OFFLINE", "1")
    monkeypatch.setenv("HUBTOOLS_NO_PROGRESS", "yes")
    monkeypatch.setenv("HUBTOOLS_GITHUB_RAW", "http://mirror/raw/")
    monkeypatch.setenv("HUBTOOLS_GITHUB_MEDIA", "http://mirror/media")
    monkeypatch.setenv("HUBTOOLS_TRUSTED_REPOS", "a/b, c/d:dev ,")
    monkeypatch.setenv("HUBTOOLS_RETRIES", "2")
    monkeypatch.setenv("HUBTOOLS_READ_TIMEOUT", "0.5")
    s = Settings.resolve()
    assert s.offline
    assert not s.progress
    assert (s.github_raw, s.github_media) == ("http://mirror/raw", "http://mirror/media")
    assert s.trusted_repos == ("a/b", "c/d:dev")
    assert (s.retries, s.read_timeout) == (2, 0.5)
    # An explicit argument wins over the environment.
    assert Settings.resolve(offline=False, progress=True).offline is False
    assert Settings.resolve(trusted_repos=("x/y",)).trusted_repos[0] == "x/y"


@pytest.mark.parametrize(
    ("name", "value"),
    [("HUBTOOLS_OFFLINE", "maybe"), ("HUBTOOLS_RETRIES", "many"), ("HUBTOOLS_BACKOFF", "-1")],
)
def test_bad_environment_values_say_which(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(UsageError, match=name):
        Settings.resolve()


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = Settings(cache_dir=tmp_path)
    with pytest.raises(AttributeError):
        s.offline = True  # type: ignore[misc]
