"""Payload mirrors end to end (issue 6): one loopback server plays GitHub (the raw
manifest, Git LFS pointer text on the media path), another the Hugging Face
mirror (a 302 to a second path that serves the content)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hubtools import hub
from hubtools.errors import ChecksumMismatchError, DownloadError
from tests.client_support import (
    Fault,
    FixtureModel,
    HubServer,
    MirrorServer,
    build_repo,
    running_server,
)


@dataclass
class Hosts:
    github: HubServer
    hf: MirrorServer
    models: list[FixtureModel]
    cache: Path

    def model(self, name: str, opset: int) -> FixtureModel:
        return next(m for m in self.models if m.name == name and m.opset == opset)

    def cache_files(self) -> list[str]:
        return sorted(str(p.relative_to(self.cache)) for p in self.cache.rglob("*") if p.is_file())


@pytest.fixture
def hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hosts]:
    """``onnx/models`` served the way it is today: GitHub has the manifest but only
    LFS pointers for the files; the Hugging Face mirror has the files."""
    root = tmp_path / "zoo"
    models = build_repo(root)
    with running_server() as github, MirrorServer(root) as hf:
        github.add_repo("onnx", "models", "main", root)
        for suffix in (".onnx", ".tar.gz"):
            github.fault(suffix, Fault("lfs_pointer", times=-1))
        monkeypatch.setenv("HUBTOOLS_GITHUB_RAW", f"{github.url}/raw")
        monkeypatch.setenv("HUBTOOLS_GITHUB_MEDIA", f"{github.url}/media")
        monkeypatch.setenv("HUBTOOLS_HF_ENDPOINT", hf.url)
        monkeypatch.setenv("HUBTOOLS_BACKOFF", "0.01")
        monkeypatch.delenv("HF_ENDPOINT", raising=False)
        yield Hosts(github, hf, models, Path(os.environ["ONNX_HOME"]) / "hub")


@pytest.fixture
def messages() -> Iterator[list[str]]:
    """What the ``hubtools`` logger says at INFO and above during the test.

    A handler on that logger itself, because the CLI (run by other tests in
    the same process) may stop it from propagating to pytest's caplog.
    """
    said: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("hubtools")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield said
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_default_repo_loads_from_the_mirror_verified_and_says_so(
    hosts: Hosts, messages: list[str]
) -> None:
    m = hosts.model("MNIST", 12)
    model = hub.load("mnist")
    assert model is not None
    assert model.SerializeToString() == m.data
    got = hub.last_download()
    assert got is not None
    assert got.source == f"{hosts.hf.url}{MirrorServer.PREFIX}/{m.model_path}"
    assert not got.from_cache
    assert got.path.read_bytes() == m.data
    assert got.path.name == f"{m.sha}_mnist-12.onnx"
    assert len(got.skipped) == 1
    assert "its host" in got.skipped[0]
    assert "Git LFS pointer" in got.skipped[0]
    # GitHub was asked first, then the mirror, whose 302 led to the content.
    assert hosts.github.media_hits(m.model_path) == 1
    assert hosts.hf.hits[f"{MirrorServer.PREFIX}/{m.model_path}"] == 1
    assert hosts.hf.hits[f"/cdn/{m.model_path}"] == 1
    assert any("skipped its host" in t and "Git LFS pointer" in t for t in messages), messages
    assert any(f"served by {got.source}" in t for t in messages), messages
    # The next load uses the cache and says so.
    assert hub.load("mnist") is not None
    again = hub.last_download()
    assert again is not None
    assert again.from_cache
    assert again.source == str(got.path)
    assert hosts.hf.hits[f"/cdn/{m.model_path}"] == 1


def test_wrong_bytes_from_the_mirror_are_refused_and_nothing_is_cached(hosts: Hosts) -> None:
    m = hosts.model("MNIST", 12)
    hosts.hf.wrong_bytes = True
    with pytest.raises(ChecksumMismatchError) as info:
        hub.load("mnist")
    text = str(info.value)
    assert "none of the 2 sources" in text
    assert "Git LFS pointer" in text
    assert m.sha in text
    assert not [f for f in hosts.cache_files() if "mnist-12" in f and not f.endswith(".lock")]
    hosts.hf.wrong_bytes = False
    assert hub.load("mnist") is not None


def test_html_page_and_404_from_every_source_are_reported_per_source(hosts: Hosts) -> None:
    hosts.hf.html = True
    with pytest.raises(DownloadError, match=r"\(1\) its host: .*LFS.*\(2\) mirror 1: .*HTML page"):
        hub.load("mnist")
    hosts.hf.html = False
    hosts.hf.missing = True
    with pytest.raises(DownloadError, match=r"\(2\) mirror 1: .*HTTP 404"):
        hub.load("mnist")
    assert not [f for f in hosts.cache_files() if f.endswith((".onnx", ".partial", ".tmp"))]


def test_redirect_to_another_host_is_followed(hosts: Hosts) -> None:
    m = hosts.model("MNIST", 8)
    with MirrorServer(hosts.hf.root) as cdn:
        hosts.hf.cdn = cdn.url
        assert hub.load("mnist", opset=8) is not None
        assert cdn.hits[f"/cdn/{m.model_path}"] == 1
        assert hosts.hf.hits[f"/cdn/{m.model_path}"] == 0


def test_a_redirect_loop_is_reported_clearly(hosts: Hosts) -> None:
    hosts.hf.redirect_loop = True
    with pytest.raises(DownloadError, match=r"mirror 1: .*too many redirects \(more than 10"):
        hub.load("mnist")


def test_a_source_offering_another_size_is_skipped_before_its_body(hosts: Hosts) -> None:
    m = hosts.model("MNIST", 12)
    (hosts.hf.root / m.model_path).write_bytes(m.data + b"extra")
    with pytest.raises(DownloadError, match=r"offers \d+ bytes, the manifest says"):
        hub.load("mnist")


def test_test_data_comes_from_the_mirror_too(hosts: Hosts) -> None:
    folder = hub.download_model_with_test_data("mnist", opset=8)
    assert folder is not None
    assert (Path(folder) / "model.onnx").read_bytes() == hosts.model("MNIST", 8).data


def test_own_host_wins_when_it_serves_the_file(hosts: Hosts) -> None:
    hosts.github.faults.clear()
    assert hub.load("mnist") is not None
    got = hub.last_download()
    assert got is not None
    assert got.source.startswith(f"{hosts.github.url}/media/onnx/models/main/")
    assert got.skipped == ()
    assert sum(hosts.hf.hits.values()) == 0


def test_mirrors_argument_replaces_or_extends_the_builtin_one(hosts: Hosts, tmp_path: Path) -> None:
    m = hosts.model("MNIST", 12)
    local = tmp_path / "local-mirror"
    build_repo(local)
    # Replace: only the local folder after GitHub.
    assert hub.load("mnist", mirrors=[local.as_uri()]) is not None
    got = hub.last_download()
    assert got is not None
    assert got.source == f"{local.as_uri()}/{m.model_path}"
    assert sum(hosts.hf.hits.values()) == 0
    # A mirror that does not have it, then the built-in one.
    empty = tmp_path / "empty"
    empty.mkdir()
    hub.load("mnist", force_reload=True, mirrors=[empty.as_uri(), "default"])
    got = hub.last_download()
    assert got is not None
    assert got.source.startswith(hosts.hf.url)
    assert [s.split(":")[0] for s in got.skipped] == ["its host", "mirror 1"]
    # No mirrors at all: GitHub's pointer is all there is.
    with pytest.raises(DownloadError, match="no longer serves its Git LFS content"):
        hub.load("mnist", force_reload=True, mirrors=[])


def test_mirrors_from_the_environment_and_the_config_file(
    hosts: Hosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = hosts.model("MNIST", 12)
    local = tmp_path / "local-mirror"
    build_repo(local)
    monkeypatch.setenv("HUBTOOLS_MIRRORS", f"onnx/models={local.as_uri()}")
    hub.load("mnist")
    assert hub.last_download().source == f"{local.as_uri()}/{m.model_path}"  # type: ignore[union-attr]
    monkeypatch.delenv("HUBTOOLS_MIRRORS")
    hosts.cache.mkdir(parents=True, exist_ok=True)
    template = f"{local.as_uri()}/{{model_path}}"
    config = {"mirrors": {"onnx/models:main": [template, "default"]}}
    (hosts.cache / "config.json").write_text(json.dumps(config))
    hub.load("mnist", force_reload=True)
    assert hub.last_download().source == f"{local.as_uri()}/{m.model_path}"  # type: ignore[union-attr]
