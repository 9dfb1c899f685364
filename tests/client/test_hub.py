"""The hub client end to end against a loopback server in GitHub's raw/media layout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import onnx
import pytest

from hubtools import hub
from hubtools.client.trust import TerminalPrompt
from hubtools.errors import (
    ChecksumMismatchError,
    DownloadError,
    ModelNotFoundError,
    NotCachedError,
    UntrustedRepositoryError,
)
from hubtools.hub import Hub, parse_repo
from tests.client_support import (
    REPO_ROOT,
    Fault,
    Person,
    Zoo,
    build_repo,
    serve_zoo,
    sha256,
)


@pytest.fixture
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Zoo]:
    with serve_zoo(tmp_path, monkeypatch) as z:
        yield z


def _cache_files(zoo: Zoo) -> list[str]:
    return sorted(str(p.relative_to(zoo.cache)) for p in zoo.cache.rglob("*") if p.is_file())


def test_list_models_by_name_any_case_and_any_tag(zoo: Zoo) -> None:
    assert [m.model for m in hub.list_models(zoo.repo)] == ["MNIST", "MNIST", "ResNet18"]
    assert [m.opset for m in hub.list_models(zoo.repo, model="mnist")] == [8, 12]
    assert [m.model for m in hub.list_models(zoo.repo, tags=["RESNET", "nope"])] == ["ResNet18"]
    assert hub.list_models(zoo.repo, tags=["nope"]) == []


def test_get_model_info_picks_the_highest_opset_and_lists_valid_ones(zoo: Zoo) -> None:
    assert hub.get_model_info("MNIST", zoo.repo).opset == 12
    assert hub.get_model_info("mnist", zoo.repo, opset=8).opset == 8
    with pytest.raises(ModelNotFoundError, match=r"Valid opsets: \[8, 12\]"):
        hub.get_model_info("mnist", zoo.repo, opset=9)
    with pytest.raises(AssertionError, match="No models found with name nope"):
        hub.get_model_info("nope", zoo.repo)


def test_load_downloads_once_into_onnx_hub_layout_then_uses_the_cache(zoo: Zoo) -> None:
    m = zoo.model("MNIST", 12)
    model = hub.load("mnist", zoo.repo)
    assert isinstance(model, onnx.ModelProto)
    assert model.SerializeToString() == m.data
    target = zoo.cache / "validated/vision/classification/mnist/model" / f"{m.sha}_mnist-12.onnx"
    assert target.read_bytes() == m.data
    assert hub.load("mnist", zoo.repo) is not None
    assert zoo.server.media_hits(m.model_path) == 1
    # No temporary or partial file is left behind.
    assert not [f for f in _cache_files(zoo) if f.endswith((".tmp", ".partial"))]


def test_corrupt_cached_file_is_detected_and_fetched_again(zoo: Zoo) -> None:
    m = zoo.model("MNIST", 12)
    hub.load("mnist", zoo.repo)
    target = zoo.cache / "validated/vision/classification/mnist/model" / f"{m.sha}_mnist-12.onnx"
    target.write_bytes(b"corrupted")
    assert hub.load("mnist", zoo.repo).SerializeToString() == m.data  # type: ignore[union-attr]
    assert zoo.server.media_hits(m.model_path) == 2


def test_force_reload_fetches_again(zoo: Zoo) -> None:
    m = zoo.model("MNIST", 12)
    hub.load("mnist", zoo.repo)
    hub.load("mnist", zoo.repo, force_reload=True)
    assert zoo.server.media_hits(m.model_path) == 2


def test_wrong_bytes_leave_nothing_under_the_final_name(zoo: Zoo) -> None:
    m = zoo.model("MNIST", 12)
    zoo.server.fault(m.model_path, Fault("wrong_bytes"))
    with pytest.raises(ChecksumMismatchError) as info:
        hub.load("mnist", zoo.repo)
    assert m.sha in str(info.value)
    assert "retry" in str(info.value)
    assert not [f for f in _cache_files(zoo) if "mnist-12" in f and not f.endswith(".lock")]
    # The next try succeeds.
    assert hub.load("mnist", zoo.repo) is not None


def test_lfs_pointer_says_the_zoo_stopped_serving_and_a_mirror_helps(zoo: Zoo) -> None:
    m = zoo.model("MNIST", 12)
    zoo.server.fault(m.model_path, Fault("lfs_pointer", times=-1))
    with pytest.raises(DownloadError, match=r"no longer serves.*HUBTOOLS_GITHUB_MEDIA"):
        hub.load("mnist", zoo.repo)
    assert not [f for f in _cache_files(zoo) if f.endswith(".onnx")]


def test_404_for_a_model_names_the_url(zoo: Zoo) -> None:
    m = zoo.model("MNIST", 12)
    (zoo.root / m.model_path).unlink()
    with pytest.raises(DownloadError, match=f"media/acme/zoo/main/{m.model_path}: HTTP 404"):
        hub.load("mnist", zoo.repo)


def test_test_data_is_extracted_and_the_model_folder_returned(zoo: Zoo) -> None:
    folder = Path(hub.download_model_with_test_data("mnist", zoo.repo, opset=8))  # type: ignore[arg-type]
    assert folder.name == "mnist-8"
    assert (folder / "model.onnx").read_bytes() == zoo.model("MNIST", 8).data
    assert (folder / "test_data_set_0" / "input_0.pb").is_file()
    with pytest.raises(ModelNotFoundError, match="no test data"):
        hub.download_model_with_test_data("resnet18", zoo.repo)


def test_offline_uses_only_the_cache_and_names_what_is_missing(
    zoo: Zoo, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.load("mnist", zoo.repo)
    before = sum(zoo.server.hits.values())
    monkeypatch.setenv("HUBTOOLS_OFFLINE", "1")
    assert hub.load("mnist", zoo.repo) is not None
    with pytest.raises(NotCachedError, match=r"ResNet18 .*resnet18-v1-13.onnx.*not in the cache"):
        hub.load("resnet18", zoo.repo)
    with pytest.raises(NotCachedError, match="no manifest of acme/zoo:dev"):
        hub.list_models("acme/zoo:dev")
    assert sum(zoo.server.hits.values()) == before


def test_untrusted_repo_without_a_terminal_says_how_to_trust(
    zoo: Zoo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUBTOOLS_TRUSTED_REPOS")
    for silent in (False, True):  # silent=True never grants trust (CVE-2026-28500)
        with pytest.raises(UntrustedRepositoryError) as info:
            hub.load("mnist", zoo.repo, silent=silent)
        assert "trust_repo=True" in str(info.value)
        assert "HUBTOOLS_TRUSTED_REPOS=acme/zoo" in str(info.value)
        assert "trusted_repos.txt" in str(info.value)
    assert zoo.server.media_hits(".onnx") == 0
    assert hub.load("mnist", zoo.repo, trust_repo=True) is not None


def test_trusted_list_file_grants_trust(zoo: Zoo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUBTOOLS_TRUSTED_REPOS")
    zoo.cache.mkdir(parents=True, exist_ok=True)
    (zoo.cache / "trusted_repos.txt").write_text("# mine\nacme/zoo\n")
    assert hub.load("mnist", zoo.repo) is not None


def test_interactive_prompt_yes_and_no(zoo: Zoo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUBTOOLS_TRUSTED_REPOS")
    no = Person(answer=False)
    assert Hub(prompt=no).load("mnist", zoo.repo) is None
    assert "acme/zoo:main is not trusted" in no.asked[0]
    assert zoo.server.media_hits(".onnx") == 0
    assert Hub(prompt=Person(answer=True)).load("mnist", zoo.repo, silent=True) is not None


def test_no_one_to_ask_raises_and_the_terminal_prompt_needs_a_terminal(
    zoo: Zoo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUBTOOLS_TRUSTED_REPOS")
    absent = Person(answer=True)
    absent.available = lambda: False  # type: ignore[method-assign]
    with pytest.raises(UntrustedRepositoryError):
        Hub(prompt=absent).load("mnist", zoo.repo)
    assert absent.asked == []
    assert TerminalPrompt().available() is False  # pytest's stdin is not a terminal


def test_onnx_models_is_trusted_at_any_ref() -> None:
    assert parse_repo("onnx/models:main").official
    assert parse_repo("ONNX/models:some-branch").official
    assert not parse_repo("onnx/models-fork").official


@pytest.mark.parametrize(
    "entry_patch",
    [
        {"model_path": "../../../evil.onnx"},
        {"model_path": "/tmp/evil.onnx"},
        {"model_path": "https://evil.example/x.onnx"},
        {"model_path": "a\\..\\..\\evil.onnx"},
        {"metadata": {"model_sha": "../../evil", "tags": []}},
        {"metadata": {"model_sha": "ab" * 32, "model_with_data_path": "../x.tar.gz"}},
        {"opset_version": "twelve"},
        {"model": None},
    ],
)
def test_malicious_or_malformed_entries_are_refused_before_any_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry_patch: dict[str, object]
) -> None:
    repo = tmp_path / "repo"
    models = build_repo(repo)
    bad = {**models[2].entry(), **entry_patch}
    good = models[0].entry()
    (repo / "ONNX_HUB_MANIFEST.json").write_text(json.dumps([good, bad]))
    monkeypatch.setenv("HUBTOOLS_TRUSTED_REPOS", "*")
    before = sorted(p for p in tmp_path.rglob("*") if "onnx_home" not in p.parts)
    infos = hub.list_models(str(repo))
    assert [i.model for i in infos] == ["MNIST"]
    with pytest.raises(ModelNotFoundError):
        hub.load("ResNet18", str(repo))
    after = sorted(p for p in tmp_path.rglob("*") if "onnx_home" not in p.parts)
    assert after == before
    assert not Path("/tmp/evil.onnx").exists()


def test_local_folder_file_url_and_http_base_url(zoo: Zoo) -> None:
    m = zoo.model("ResNet18", 13)
    for repo in (str(zoo.root), zoo.root.as_uri(), zoo.base_url):
        model = hub.load("resnet18", repo, force_reload=True, trust_repo=True)
        assert model.SerializeToString() == m.data  # type: ignore[union-attr]
    assert zoo.server.hits[f"/raw/acme/zoo/main/{m.model_path}"] == 1


def test_manifest_is_kept_per_repo_and_ref(zoo: Zoo) -> None:
    hub.list_models(zoo.repo)
    kept = list((zoo.cache / ".hubtools" / "manifests").glob("*/ONNX_HUB_MANIFEST.json"))
    assert [p.parent.name for p in kept] == ["github%3Aacme%2Fzoo%3Amain"]


def test_set_dir_moves_the_cache_at_call_time(zoo: Zoo, tmp_path: Path) -> None:
    hub.set_dir(str(tmp_path / "elsewhere"))
    hub.load("mnist", zoo.repo)
    assert list((tmp_path / "elsewhere").rglob(f"{zoo.model('MNIST', 12).sha}_mnist-12.onnx"))


_WORKER = """
import sys
from hubtools import hub
model = hub.load("mnist", sys.argv[1])
print(__import__("hashlib").sha256(model.SerializeToString()).hexdigest())
"""


def test_several_processes_download_once_and_all_load_a_verified_model(zoo: Zoo) -> None:
    m = zoo.model("MNIST", 12)
    # A slow body keeps the first download going while the others wait on its lock.
    zoo.server.fault(m.model_path, Fault("slow", delay=1.5))
    env = {**os.environ, **zoo.env(), "PYTHONPATH": str(REPO_ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, zoo.repo],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(5)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 5, [err for _, err in outs]
    assert {out.strip() for out, _ in outs} == {sha256(m.data)}
    assert zoo.server.media_hits(m.model_path) == 1
