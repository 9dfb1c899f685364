"""Manifests `onnx.hub` accepted are accepted: entries without `model_sha`,
`model_bytes` or `tags` are listed and loaded (unverified, said once), the
sha256 decides over a wrong `model_bytes`, and names repeated in another case
are all listed and resolve to the first, as `onnx.hub` resolved them."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubtools import hub
from hubtools.client import cache, pacing
from hubtools.errors import ChecksumMismatchError
from tests.client_support import Zoo, serve_zoo, tiny_model_bytes


@pytest.fixture
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Zoo]:
    monkeypatch.setattr(cache, "_said", set())  # each test sees its warnings once
    monkeypatch.setattr(pacing, "_sleep", lambda seconds: None)
    with serve_zoo(tmp_path, monkeypatch) as z:
        yield z


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    """What the ``hubtools`` logger says at WARNING and above during the test."""
    said: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("hubtools")
    logger.addHandler(handler)
    try:
        yield said
    finally:
        logger.removeHandler(handler)


def _rewrite(zoo: Zoo, change: object) -> list[dict[str, object]]:
    """Apply ``change(entries)`` to the zoo's manifest and return the new entries."""
    path = zoo.root / "ONNX_HUB_MANIFEST.json"
    entries = json.loads(path.read_text())
    change(entries)  # type: ignore[operator]
    path.write_text(json.dumps(entries, indent=4))
    return entries  # type: ignore[no-any-return]


def test_entries_without_sha_size_or_tags_are_listed_and_loaded(
    zoo: Zoo, warnings: list[str]
) -> None:
    def strip(entries: list[dict[str, dict[str, object]]]) -> None:
        del entries[0]["metadata"]["tags"]
        del entries[1]["metadata"]["model_bytes"]
        del entries[2]["metadata"]["model_sha"]  # ResNet18: neither sha nor size
        del entries[2]["metadata"]["model_bytes"]

    _rewrite(zoo, strip)
    assert [(m.model, m.opset) for m in hub.list_models(zoo.repo)] == [
        ("MNIST", 8),
        ("MNIST", 12),
        ("ResNet18", 13),
    ]
    assert hub.list_models(zoo.repo, "mnist")[0].tags == set()
    assert hub.get_model_info("resnet18", zoo.repo).model_sha is None
    resnet = zoo.model("ResNet18", 13)
    for _ in range(2):
        model = hub.load("resnet18", zoo.repo)
        assert model is not None
        assert model.SerializeToString() == resnet.data
    # Cached as onnx.hub cached an entry without a sha256: no "<sha>_" prefix.
    assert (zoo.cache / resnet.model_path).read_bytes() == resnet.data
    unverified = [w for w in warnings if "cannot be verified" in w]
    assert len(unverified) == 1, warnings  # said once, not at every load
    assert "ResNet18" in unverified[0]
    assert "gives no sha256" in unverified[0]
    assert hub.load("mnist", zoo.repo) is not None  # no size: the sha256 verifies
    assert len([w for w in warnings if "cannot be verified" in w]) == 1


def test_the_sha256_decides_over_a_wrong_model_bytes(zoo: Zoo, warnings: list[str]) -> None:
    mnist = zoo.model("MNIST", 12)

    def wrong_size(entries: list[dict[str, dict[str, object]]]) -> None:
        entries[1]["metadata"]["model_bytes"] = len(mnist.data) + 100

    _rewrite(zoo, wrong_size)
    model = hub.load("mnist", zoo.repo)
    assert model is not None
    assert model.SerializeToString() == mnist.data
    # Refused by its announced size before the body, then fetched whole for the sha256.
    assert zoo.server.media_hits(mnist.model_path) == 2
    assert hub.load("mnist", zoo.repo) is not None  # from the cache, kept this time
    assert zoo.server.media_hits(mnist.model_path) == 2
    size_warnings = [w for w in warnings if "the sha256 decides" in w]
    assert len(size_warnings) == 1, warnings
    assert f"the manifest says {len(mnist.data) + 100} bytes" in size_warnings[0]
    assert f"has {len(mnist.data)}" in size_warnings[0]


def test_a_wrong_size_and_a_wrong_sha256_are_still_refused(zoo: Zoo) -> None:
    other = tiny_model_bytes(12, "other", 9.0)

    def wrong(entries: list[dict[str, dict[str, object]]]) -> None:
        entries[1]["metadata"]["model_bytes"] = len(other)
        entries[1]["metadata"]["model_sha"] = "0" * 64

    _rewrite(zoo, wrong)
    with pytest.raises(ChecksumMismatchError, match="manifest says 0000"):
        hub.load("mnist", zoo.repo)
    assert not [p for p in zoo.cache.rglob("*mnist-12*") if p.is_file()]


def test_names_repeated_in_another_case_are_listed_and_resolve_to_the_first(
    zoo: Zoo, warnings: list[str]
) -> None:
    resnet = zoo.model("ResNet18", 13)

    def repeat(entries: list[dict[str, object]]) -> None:
        twin = copy.deepcopy(entries[2])
        twin["model"] = "resnet18"
        twin["model_path"] = "validated/vision/classification/resnet/model/twin.onnx"
        entries.append(twin)

    _rewrite(zoo, repeat)
    (zoo.root / "validated/vision/classification/resnet/model/twin.onnx").write_bytes(resnet.data)
    listed = hub.list_models(zoo.repo, "RESNET18")
    assert [(m.model, m.model_path.rsplit("/", 1)[1]) for m in listed] == [
        ("ResNet18", "resnet18-v1-13.onnx"),
        ("resnet18", "twin.onnx"),
    ]
    # onnx.hub: the first entry (in manifest order) of the highest opset.
    assert hub.get_model_info("resnet18", zoo.repo).model == "ResNet18"
    assert hub.get_model_info("resnet18", zoo.repo, opset=13).model == "ResNet18"
    assert hub.load("RESNET18", zoo.repo) is not None
    assert zoo.server.media_hits("twin.onnx") == 0
    repeated = [w for w in warnings if "2 entries are model" in w]
    assert len(repeated) == 1, warnings
    assert "asking for it gives the first, 'ResNet18'" in repeated[0]
