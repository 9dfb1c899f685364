"""`hubtools.hub` keeps the public API of `onnx.hub` as released in onnx 1.20.

onnx no longer ships `onnx.hub`, so the expected names, parameters, defaults
and the exception raised for each failure are written down here as data, from
onnx 1.20.0's onnx/hub.py, and each failure is met over a loopback server.
"""

from __future__ import annotations

import functools
import inspect
import pickle
import tarfile
import urllib.error
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hubtools import hub
from hubtools.client import pacing
from hubtools.errors import (
    ChecksumMismatchError,
    DownloadError,
    HubtoolsError,
    ModelNotFoundError,
)
from tests.client_support import (
    Fault,
    HubServer,
    MirrorServer,
    Zoo,
    build_repo,
    dead_url,
    make_tar,
    running_server,
    serve_zoo,
    sha256,
)

_REPO = "onnx/models:main"
_P = inspect.Parameter.POSITIONAL_OR_KEYWORD

#: function -> [(parameter name, default or EMPTY)] in order, as in onnx 1.20.
ONNX_120_FUNCTIONS: dict[str, list[tuple[str, object]]] = {
    "set_dir": [("new_dir", inspect.Parameter.empty)],
    "get_dir": [],
    "list_models": [("repo", _REPO), ("model", None), ("tags", None)],
    "get_model_info": [("model", inspect.Parameter.empty), ("repo", _REPO), ("opset", None)],
    "load": [
        ("model", inspect.Parameter.empty),
        ("repo", _REPO),
        ("opset", None),
        ("force_reload", False),
        ("silent", False),
    ],
    "download_model_with_test_data": [
        ("model", inspect.Parameter.empty),
        ("repo", _REPO),
        ("opset", None),
        ("force_reload", False),
        ("silent", False),
    ],
    "load_composite_model": [
        ("network_model", inspect.Parameter.empty),
        ("preprocessing_model", inspect.Parameter.empty),
        ("network_repo", _REPO),
        ("preprocessing_repo", _REPO),
        ("opset", None),
        ("force_reload", False),
        ("silent", False),
    ],
}
ONNX_120_CLASSES: dict[str, list[tuple[str, object]]] = {
    "ModelInfo": [("raw_model_info", inspect.Parameter.empty)]
}
MODEL_INFO_FIELDS = (
    "model",
    "model_path",
    "metadata",
    "model_sha",
    "tags",
    "opset",
    "raw_model_info",
)
ONNX_120_PUBLIC = set(ONNX_120_FUNCTIONS) | set(ONNX_120_CLASSES)


def _check_params(obj: object, expected: list[tuple[str, object]]) -> None:
    params = list(inspect.signature(obj).parameters.values())  # type: ignore[arg-type]
    head = params[: len(expected)]
    assert [(p.name, p.default) for p in head] == expected
    assert all(p.kind is _P for p in head), "onnx.hub parameters are positional-or-keyword"
    for extra in params[len(expected) :]:
        # Additions must not break positional calls: keyword-only, with a default.
        assert extra.kind is inspect.Parameter.KEYWORD_ONLY, extra
        assert extra.default is not inspect.Parameter.empty, extra


@pytest.mark.parametrize("name", sorted(ONNX_120_PUBLIC))
def test_every_onnx_hub_name_is_there_with_its_signature(name: str) -> None:
    obj = getattr(hub, name)
    expected = {**ONNX_120_FUNCTIONS, **ONNX_120_CLASSES}[name]
    _check_params(obj, expected)
    assert obj.__doc__, f"{name} has no docstring"


def test_public_surface_is_onnx_hub_plus_documented_extras() -> None:
    extras = {
        "ARCHIVE_REPO",
        "DEFAULT_REPO",
        "Download",
        "Hub",
        "Repository",
        "last_download",
        "parse_repo",
    }
    assert set(hub.__all__) == ONNX_120_PUBLIC | extras
    for name in hub.__all__:
        assert hasattr(hub, name), name


def test_model_info_fields_and_str_match_onnx_hub() -> None:
    raw = {
        "model": "MNIST",
        "model_path": "vision/mnist/model/mnist-8.onnx",
        "onnx_version": "1.3",
        "opset_version": 8,
        "metadata": {"model_sha": "ab" * 32, "tags": ["vision", "mnist"]},
    }
    info = hub.ModelInfo(raw)  # type: ignore[arg-type]
    for field in MODEL_INFO_FIELDS:
        assert hasattr(info, field), field
    assert info.tags == {"vision", "mnist"}
    assert info.model_sha == "ab" * 32
    assert info.opset == 8
    assert info.raw_model_info is raw
    expected = (
        "ModelInfo(model=MNIST, opset=8, path=vision/mnist/model/mnist-8.onnx, "
        f"metadata={raw['metadata']})"
    )
    assert str(info) == expected
    assert repr(info) == expected


def test_model_info_without_sha_or_tags_matches_onnx_hub() -> None:
    info = hub.ModelInfo(
        {"model": "m", "model_path": "a/m.onnx", "opset_version": 1, "metadata": {}}
    )
    assert info.model_sha is None
    assert info.tags == set()


def test_errors_onnx_hub_raised_as_assertion_error_still_are() -> None:
    assert issubclass(ModelNotFoundError, AssertionError)
    assert issubclass(ChecksumMismatchError, AssertionError)


def test_set_dir_and_get_dir_round_trip(tmp_path: Path) -> None:
    hub.set_dir(str(tmp_path))
    assert hub.get_dir() == str(tmp_path)


def test_get_dir_gives_back_what_set_dir_was_given(tmp_path: Path) -> None:
    # onnx.hub stored the value and returned it: a trailing "/" stays, a Path stays a Path.
    given = f"{tmp_path}/cache/"
    hub.set_dir(given)
    assert hub.get_dir() == given
    path = tmp_path / "other"
    hub.set_dir(path)
    assert hub.get_dir() is path  # type: ignore[comparison-overlap]


# ---- what onnx.hub 1.20 raised, per failure ------------------------------------------

#: failure -> the exception types onnx 1.20's onnx/hub.py raised for it. The rule:
#: hubtools raises a type that is each of them (and may add bases).
ONNX_120_RAISED: dict[str, tuple[type[BaseException], ...]] = {
    # list_models: urlopen's HTTPError became AssertionError("Could not find manifest").
    "manifest-404": (AssertionError,),
    "manifest-500": (AssertionError,),
    # urlopen's URLError went through as it was; a run side by side reported an
    # AssertionError there too: hubtools' error is both.
    "manifest-unreachable": (urllib.error.URLError, AssertionError),
    "manifest-not-json": (ValueError,),  # json.JSONDecodeError
    "model-not-found": (AssertionError,),
    "opset-not-found": (AssertionError,),
    # load: urlopen on the file's Git LFS URL.
    "model-file-404": (urllib.error.HTTPError,),
    "model-file-500": (urllib.error.HTTPError,),
    "model-file-unreachable": (urllib.error.URLError,),
    # load: what came was hashed, and a wrong sha256 was an AssertionError.
    "model-file-lfs-pointer": (AssertionError,),
    "model-file-html-page": (AssertionError,),
    "model-file-wrong-bytes": (AssertionError,),
    # download_model_with_test_data: metadata["model_with_data_path"].
    "no-test-data": (KeyError,),
    "test-data-404": (urllib.error.HTTPError,),
    # onnx.utils._extract_model_safe: tarfile's data filter (or reader) refused it.
    "test-data-unsafe-tarball": (tarfile.TarError,),
    # load of an untrusted repository: input() with nobody to answer.
    "untrusted-no-terminal": (EOFError,),
}


@pytest.fixture
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Zoo]:
    monkeypatch.setattr(pacing, "_sleep", lambda seconds: None)  # retries wait for nothing
    with serve_zoo(tmp_path, monkeypatch) as z:
        yield z


def _failure(case: str, zoo: Zoo, monkeypatch: pytest.MonkeyPatch) -> Callable[[], object]:
    """Set up ``case`` on the loopback zoo and return the onnx.hub call that meets it."""
    manifest = "ONNX_HUB_MANIFEST.json"
    mnist = zoo.model("MNIST", 12)
    load = functools.partial(hub.load, "mnist", zoo.repo)
    faults = {
        "manifest-404": (manifest, "404"),
        "manifest-500": (manifest, "500"),
        "model-file-404": (mnist.model_path, "404"),
        "model-file-500": (mnist.model_path, "500"),
        "model-file-lfs-pointer": (mnist.model_path, "lfs_pointer"),
        "model-file-html-page": (mnist.model_path, "html"),
        "model-file-wrong-bytes": (mnist.model_path, "wrong_bytes"),
        "test-data-404": (str(mnist.tar_path), "404"),
    }
    if case in faults:
        path, kind = faults[case]
        zoo.server.fault(path, Fault(kind, times=-1))
        if case.startswith("manifest"):
            return functools.partial(hub.list_models, zoo.repo)
        if case == "test-data-404":
            return functools.partial(hub.download_model_with_test_data, "mnist", zoo.repo)
        return load
    if case == "manifest-unreachable":
        monkeypatch.setenv("HUBTOOLS_GITHUB_RAW", f"{dead_url()}/raw")
        return functools.partial(hub.list_models, zoo.repo)
    if case == "manifest-not-json":
        (zoo.root / manifest).write_text("[{")
        return functools.partial(hub.list_models, zoo.repo)
    if case == "model-not-found":
        return functools.partial(hub.get_model_info, "nope", zoo.repo)
    if case == "opset-not-found":
        return functools.partial(hub.get_model_info, "mnist", zoo.repo, 9)
    if case == "model-file-unreachable":
        hub.list_models(zoo.repo)  # the manifest is kept; the files' host goes away
        monkeypatch.setenv("HUBTOOLS_GITHUB_MEDIA", f"{dead_url()}/media")
        return load
    if case == "no-test-data":
        return functools.partial(hub.download_model_with_test_data, "resnet18", zoo.repo)
    if case == "test-data-unsafe-tarball":
        evil = make_tar({"../evil.txt": b"out of the folder"})
        assert mnist.tar_path is not None
        (zoo.root / mnist.tar_path).write_bytes(evil)
        text = (zoo.root / manifest).read_text()
        assert mnist.tar_data is not None
        text = text.replace(sha256(mnist.tar_data), sha256(evil))
        text = text.replace(f": {len(mnist.tar_data)}", f": {len(evil)}")
        (zoo.root / manifest).write_text(text)
        return functools.partial(hub.download_model_with_test_data, "mnist", zoo.repo)
    assert case == "untrusted-no-terminal", case
    monkeypatch.delenv("HUBTOOLS_TRUSTED_REPOS")
    return load


@pytest.mark.parametrize("case", sorted(ONNX_120_RAISED))
def test_every_failure_raises_what_onnx_hub_raised(
    case: str, zoo: Zoo, monkeypatch: pytest.MonkeyPatch
) -> None:
    call = _failure(case, zoo, monkeypatch)
    with pytest.raises(ONNX_120_RAISED[case][0]) as info:
        call()
    err = info.value
    for kind in ONNX_120_RAISED[case]:
        assert isinstance(err, kind), f"{case}: {type(err).__mro__} is not a {kind}"
    assert isinstance(err, HubtoolsError), type(err)
    assert str(err)
    assert "Traceback" not in str(err)
    again = pickle.loads(pickle.dumps(err))
    assert (type(again), str(again)) == (type(err), str(err))
    if isinstance(err, urllib.error.HTTPError):
        # The attributes `except HTTPError as e` code reads, with onnx.hub's URL.
        assert (err.code, again.code) == ((404, 404) if "404" in case else (500, 500))
        mnist = zoo.model("MNIST", 12)
        wanted = mnist.model_path if case.startswith("model") else mnist.tar_path
        assert err.url == f"{zoo.server.url}/media/acme/zoo/main/{wanted}"
        assert err.filename == err.url
        assert err.headers is not None
        assert err.headers["Content-Length"]


def test_every_failure_case_is_covered() -> None:
    # A new entry in the table needs its set-up in _failure, and vice versa.
    source = inspect.getsource(_failure)
    for case in ONNX_120_RAISED:
        assert f'"{case}"' in source, case


@pytest.fixture
def zoo_as_today(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[HubServer, MirrorServer]]:
    """``onnx/models`` as it is served now: GitHub has the manifest and answers the
    file URLs with Git LFS pointer text; the Hugging Face copy has the files."""
    root = tmp_path / "zoo"
    build_repo(root)
    with running_server() as github, MirrorServer(root) as hf:
        github.add_repo("onnx", "models", "main", root)
        github.fault(".onnx", Fault("lfs_pointer", times=-1))
        monkeypatch.setenv("HUBTOOLS_GITHUB_RAW", f"{github.url}/raw")
        monkeypatch.setenv("HUBTOOLS_GITHUB_MEDIA", f"{github.url}/media")
        monkeypatch.setenv("HUBTOOLS_HF_ENDPOINT", hf.url)
        monkeypatch.delenv("HF_ENDPOINT", raising=False)
        yield github, hf


def test_the_default_repo_raises_what_onnx_hub_met_at_github(
    zoo_as_today: tuple[HubServer, MirrorServer],
) -> None:
    github, hf = zoo_as_today
    # onnx.hub fetched GitHub's pointer text and failed its sha256: an AssertionError.
    hf.missing = True
    with pytest.raises(AssertionError) as info:
        hub.load("mnist")
    assert isinstance(info.value, DownloadError)
    assert "(1) its host: " in str(info.value)
    assert "(2) mirror 1: " in str(info.value)
    # GitHub answering 404: onnx.hub's urlopen raised HTTPError, with GitHub's URL.
    github.fault(".onnx", Fault("404", times=-1))
    with pytest.raises(urllib.error.HTTPError) as http:
        hub.load("mnist")
    assert http.value.code == 404
    assert http.value.url.startswith(f"{github.url}/media/onnx/models/main/")
    # With the mirror serving, the same call loads, verified.
    hf.missing = False
    assert hub.load("mnist") is not None
