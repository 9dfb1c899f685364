"""`hubtools.hub` keeps the public API of `onnx.hub` as released in onnx 1.20.

onnx no longer ships `onnx.hub`, so the expected names, parameters and
defaults are written down here as data, from onnx 1.20.0's onnx/hub.py.
"""

from __future__ import annotations

import inspect

import pytest

from hubtools import hub
from hubtools.errors import ChecksumMismatchError, ModelNotFoundError

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
ONNX_120_CLASSES = {"ModelInfo": [("raw_model_info", inspect.Parameter.empty)]}
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


def test_set_dir_and_get_dir_round_trip(tmp_path: object) -> None:
    hub.set_dir(str(tmp_path))
    assert hub.get_dir() == str(tmp_path)
