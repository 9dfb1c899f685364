"""The two schema engines agree: jsonschema-rs screens a manifest for failing
entries and jsonschema describes them, and the problems are the same, word for
word, as jsonschema alone gives, on every fixture, every hostile manifest and
a large manifest with errors sown at random."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest

from hubtools.core.jsonfile import parse_json
from hubtools.validate.schema import _screen, schema_problems
from tests.conftest import FIXTURES
from tests.hostile.manifests import CASES

MANIFESTS = sorted((FIXTURES / "manifests").rglob("*.json")) + sorted(
    (FIXTURES / "zoo").glob("ONNX_HUB_MANIFEST.json")
)

pytestmark = pytest.mark.skipif(_screen() is None, reason="jsonschema-rs is not installed")


def _both(text: str, source: str) -> tuple[list[object], list[object]]:
    doc = parse_json(text, source)
    slow = list(schema_problems(doc.data, source, screen=False))
    # As check_document calls it: the screen only for data without floats.
    fast = list(schema_problems(doc.data, source, screen=not doc.has_floats))
    return slow, fast


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_fixtures(path: Path) -> None:
    slow, fast = _both(path.read_text(encoding="utf-8"), path.name)
    assert fast == slow


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hostile_manifests(case: object) -> None:
    try:
        slow, fast = _both(case.build(), "m.json")  # type: ignore[attr-defined]
    except Exception as err:  # a case that is not JSON at all: nothing to compare
        pytest.skip(f"not parsed: {err}")
    assert fast == slow


def _sown(count: int, seed: int) -> list[object]:
    """``count`` valid entries with errors sown into a tenth of them."""
    base = json.loads((FIXTURES / "manifests" / "valid" / "without-bundle.json").read_text())[0]
    rng = random.Random(seed)
    faults = [
        lambda e: e["metadata"].__setitem__("model_sha", "ABC"),
        lambda e: e.pop("model_path"),
        lambda e: e.__setitem__("opset_version", "8"),
        lambda e: e["metadata"].__setitem__("model_bytes", -1),
        lambda e: e["metadata"].__setitem__("model_with_data_path", "x.tar.gz"),
        lambda e: e["metadata"]["io_ports"]["inputs"][0].__setitem__("type", "float"),
        lambda e: e.__setitem__("model", ""),
    ]
    entries = []
    for i in range(count):
        entry = copy.deepcopy(base)
        entry["model"] = f"m{i}"
        entry["model_path"] = f"m/m{i:06}.onnx"
        if rng.random() < 0.1:
            for fault in rng.sample(faults, rng.randint(1, 3)):
                fault(entry)
        entries.append(entry)
    return entries


def test_a_large_manifest_with_sown_errors() -> None:
    text = json.dumps(_sown(3000, seed=11), indent=4)
    slow, fast = _both(text, "m.json")
    assert len(slow) > 300
    assert fast == slow


def test_the_screen_is_not_used_when_the_data_holds_a_float() -> None:
    """JSON Schema's integer takes 7.0; hubtools does not: floats go to jsonschema."""
    assert parse_json("[1, 2]", "m").has_floats is False
    assert parse_json("[1.0]", "m").has_floats is True
    assert parse_json("[1e3]", "m").has_floats is True
    assert parse_json('[{"a": NaN}]', "m").has_floats is True
