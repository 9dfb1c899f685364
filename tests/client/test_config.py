"""Settings come from explicit arguments, then the environment, then defaults, at call time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hubtools import hub
from hubtools.client import config
from hubtools.client.config import Settings
from hubtools.errors import UsageError
from tests.client_support import serve_zoo
from tests.conftest import RunCli


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
    [
        ("HUBTOOLS_OFFLINE", "maybe"),
        ("HUBTOOLS_RETRIES", "many"),
        ("HUBTOOLS_BACKOFF", "-1"),
        ("HUBTOOLS_MIN_SPEED", "fast"),
        ("HUBTOOLS_MIN_SPEED_TIME", "0"),
        ("HUBTOOLS_DEADLINE", "-5"),
        ("HUBTOOLS_MAX_ARCHIVE_MEMBERS", "1.5"),
        ("HUBTOOLS_MAX_ARCHIVE_RATIO", "0.5"),
    ],
)
def test_bad_environment_values_say_which(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(UsageError, match=name):
        Settings.resolve()


def test_speed_rules_deadline_and_archive_limits_come_from_the_environment(
    tmp_path: Path,
) -> None:
    s = Settings.resolve(cache_dir=tmp_path, env={})
    assert (s.min_speed, s.min_speed_time, s.deadline) == (1024.0, 30.0, 0.0)
    assert (s.max_archive_members, s.max_archive_bytes, s.max_archive_ratio) == (None, None, None)
    names = ("MIN_SPEED", "MIN_SPEED_TIME", "DEADLINE", "MAX_ARCHIVE_MEMBERS")
    values = ("0", "0.5", "600", "10")
    env = {f"HUBTOOLS_{name}": value for name, value in zip(names, values, strict=True)}
    env |= {"HUBTOOLS_MAX_ARCHIVE_BYTES": "4096", "HUBTOOLS_MAX_ARCHIVE_RATIO": "50"}
    s = Settings.resolve(cache_dir=tmp_path, env=env)
    assert (s.min_speed, s.min_speed_time, s.deadline) == (0.0, 0.5, 600.0)
    assert (s.max_archive_members, s.max_archive_bytes, s.max_archive_ratio) == (10, 4096, 50.0)


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = Settings(cache_dir=tmp_path)
    with pytest.raises(AttributeError):
        s.offline = True  # type: ignore[misc]


HF = "https://huggingface.co/onnxmodelzoo/legacy_models/resolve/main"


def test_onnx_models_has_the_hugging_face_mirror_built_in(tmp_path: Path) -> None:
    settings = Settings.resolve(cache_dir=tmp_path, env={})
    assert settings.mirrors_for("onnx/models:main", "onnx/models") == (HF,)
    assert settings.mirrors_for("acme/zoo") == ()
    endpoint = {"HUBTOOLS_HF_ENDPOINT": "http://hf.local/"}
    assert Settings.resolve(cache_dir=tmp_path, env=endpoint).mirrors_for("onnx/models") == (
        "http://hf.local/onnxmodelzoo/legacy_models/resolve/main",
    )
    hf_env = {"HF_ENDPOINT": "https://hf-mirror.example"}
    assert (
        Settings.resolve(cache_dir=tmp_path, env=hf_env)
        .mirrors_for("onnx/models")[0]
        .startswith("https://hf-mirror.example/")
    )


def test_mirror_levels_replace_and_default_inherits(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        '{"mirrors": {"onnx/models": ["https://file.example/zoo/", "default"],'
        ' "acme/zoo": ["https://file.example/acme"]}}'
    )
    env = {"HUBTOOLS_MIRRORS": "acme/zoo=default, https://env.example/acme ; x/y="}
    settings = Settings.resolve(
        cache_dir=tmp_path, env=env, mirrors={"onnx/models:main": ["https://arg.example"]}
    )
    assert settings.mirrors_for("onnx/models") == ("https://file.example/zoo", HF)
    assert settings.mirrors_for("onnx/models:main", "onnx/models") == ("https://arg.example",)
    assert settings.mirrors_for("acme/zoo:dev", "acme/zoo") == (
        "https://file.example/acme",
        "https://env.example/acme",
    )
    assert settings.mirrors_for("x/y") == ()
    # `default` in a ref-specific list stands for the repository-wide list.
    layered = settings.with_mirrors({"onnx/models:v2": ["default", "file:///srv/zoo"]})
    assert layered.mirrors_for("onnx/models:v2") == (
        "https://file.example/zoo",
        HF,
        "file:///srv/zoo",
    )


def test_config_file_location_and_bad_mirror_values(tmp_path: Path) -> None:
    elsewhere = tmp_path / "conf.json"
    elsewhere.write_text('{"mirrors": {"a/b": ["https://m.example"]}}')
    env = {"HUBTOOLS_CONFIG": str(elsewhere)}
    assert Settings.resolve(cache_dir=tmp_path, env=env).mirrors_for("a/b") == (
        "https://m.example",
    )
    with pytest.raises(UsageError, match=r"HUBTOOLS_MIRRORS: 'https://x' is not REPO=URL"):
        Settings.resolve(cache_dir=tmp_path, env={"HUBTOOLS_MIRRORS": "https://x"})
    with pytest.raises(UsageError, match=r"mirror 'ftp://x' is not an http\(s\)://"):
        Settings.resolve(cache_dir=tmp_path, env={"HUBTOOLS_MIRRORS": "a/b=ftp://x"})
    elsewhere.write_text('{"mirrors": {"a/b": "https://m.example"}}')
    with pytest.raises(UsageError, match=r"conf\.json: the mirrors of 'a/b' must be a list"):
        Settings.resolve(cache_dir=tmp_path, env=env)
    elsewhere.write_text('{"mirrors": [}')
    with pytest.raises(UsageError, match=r"conf.json:1:\d+: not JSON"):
        Settings.resolve(cache_dir=tmp_path, env=env)


@pytest.mark.parametrize("value", ["y", "yes", "true", "1", "on", "Y", " On "])
def test_offline_yes_values_mean_the_same_to_the_library_and_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli, value: str
) -> None:
    with serve_zoo(tmp_path, monkeypatch) as zoo:
        assert len(hub.list_models(zoo.repo)) == 3  # online: the manifest is kept
        monkeypatch.setenv("HUBTOOLS_GITHUB_RAW", "http://127.0.0.1:9/raw")  # nothing there
        monkeypatch.setenv("HUBTOOLS_OFFLINE", value)
        assert Settings.resolve().offline is True
        assert len(hub.list_models(zoo.repo)) == 3
        run = run_cli("list", "--repo", zoo.repo, "--format", "json")
        assert (run.exit_code, len(json.loads(run.stdout))) == (0, 3)


@pytest.mark.parametrize("value", ["n", "no", "false", "0", "off", "", "N"])
def test_offline_no_values(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HUBTOOLS_OFFLINE", value)
    assert Settings.resolve().offline is False


def test_a_bad_yes_no_value_is_the_same_error_in_the_library_and_the_cli(
    monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    monkeypatch.setenv("HUBTOOLS_OFFLINE", "maybe")
    message = "$HUBTOOLS_OFFLINE='maybe' is not a yes/no value; use 1 or 0"
    with pytest.raises(UsageError) as caught:
        hub.list_models("acme/zoo")
    assert str(caught.value) == message
    run = run_cli("list", "--repo", "acme/zoo")
    assert (run.exit_code, run.stderr) == (2, f"hubtools: error: {message}\n")
