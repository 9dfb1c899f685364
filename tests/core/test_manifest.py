from __future__ import annotations

import json
from pathlib import Path

import pytest

from hubtools.core.manifest import IOPort, IOPorts, Manifest, Metadata, ModelEntry
from hubtools.errors import ManifestError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "manifests"


@pytest.mark.parametrize("path", sorted((FIXTURES / "valid").glob("*.json")), ids=lambda p: p.name)
def test_round_trip_is_byte_identical(path: Path) -> None:
    text = path.read_text()
    assert Manifest.loads(text).dumps() == text


def test_real_zoo_round_trip_is_byte_identical(shared_zoo: Path) -> None:
    text = (shared_zoo / "ONNX_HUB_MANIFEST.json").read_text()
    manifest = Manifest.loads(text)
    assert len(manifest) == 184
    assert manifest.dumps() == text


def test_unknown_fields_keep_their_order() -> None:
    text = json.dumps(
        [
            {
                "zoo": 1,
                "model": "m",
                "model_path": "a.onnx",
                "onnx_version": "1.9",
                "opset_version": 12,
                "metadata": {
                    "tags": ["t"],
                    "license": "MIT",
                    "model_sha": "0" * 64,
                    "model_bytes": 3,
                },
            }
        ],
        indent=4,
    )
    manifest = Manifest.loads(text)
    assert manifest.dumps() == text
    assert manifest.entries[0].metadata.get("license") == "MIT"
    assert manifest.entries[0].extra == (("zoo", 1),)


def test_new_entries_are_written_in_the_official_key_order() -> None:
    port = IOPort("x", (1, "N", None), "tensor(float)")
    entry = ModelEntry(
        model="m",
        model_path="a/b.onnx",
        onnx_version="1.9",
        opset_version=12,
        metadata=Metadata(
            model_sha="a" * 64,
            model_bytes=10,
            tags=("a",),
            io_ports=IOPorts(inputs=(port,), outputs=()),
            model_with_data_path="a/b.tar.gz",
            model_with_data_sha="b" * 64,
            model_with_data_bytes=20,
        ),
    )
    data = entry.to_json()
    assert list(data) == ["model", "model_path", "onnx_version", "opset_version", "metadata"]
    assert list(data["metadata"]) == [  # type: ignore[arg-type]
        "model_sha",
        "model_bytes",
        "tags",
        "io_ports",
        "model_with_data_path",
        "model_with_data_sha",
        "model_with_data_bytes",
    ]
    assert data["metadata"]["io_ports"] == {  # type: ignore[index,call-overload]
        "inputs": [{"name": "x", "shape": [1, "N", None], "type": "tensor(float)"}],
        "outputs": [],
    }
    assert ModelEntry.from_json(data).to_json() == data


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1}', "<manifest>: manifest: expected list, got dict"),
        ("[1]", "<manifest>:1:2: /0: expected dict, got int"),
        ('[{"model": 1}]', "<manifest>:1:12: /0/model: expected str, got int"),
        (
            '[{"model": "m", "model_path": "a", "onnx_version": "1", "opset_version": true}]',
            "<manifest>:1:74: /0/opset_version: expected int, got bool",
        ),
        ("[1,", "<manifest>:1:4: invalid JSON: Expecting value"),
    ],
)
def test_wrong_shapes_raise_manifest_error(text: str, message: str) -> None:
    with pytest.raises(ManifestError) as info:
        Manifest.loads(text)
    assert str(info.value) == message


def test_sorted_orders_by_model_path() -> None:
    a = ModelEntry("a", "z.onnx", "1", 1)
    b = ModelEntry("b", "y.onnx", "1", 1)
    assert [e.model for e in Manifest((a, b)).sorted()] == ["b", "a"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[\n  {"model": "a",\n   "model": "b"}\n]',
            "m.json:3:13: /0/model: key 'model' appears twice in one object",
        ),
        ('[\n  {"model_bytes": NaN}\n]', "m.json:2:19: /0/model_bytes: NaN is not valid JSON"),
        ("[1,]", "m.json:1:4: invalid JSON"),
    ],
)
def test_the_one_reader_is_strict(tmp_path: Path, text: str, message: str) -> None:
    """Duplicate keys and NaN used to pass Manifest.load silently (the last key won)."""
    path = tmp_path / "m.json"
    path.write_text(text)
    for read in (lambda: Manifest.load(path), lambda: Manifest.loads(text, str(path))):
        with pytest.raises(ManifestError) as caught:
            read()
        assert str(caught.value).startswith(f"{tmp_path}/{message}")


def test_a_wrong_shape_is_located_by_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('[\n  {"model": "a", "model_path": "a.onnx",\n   "onnx_version": 7}\n]')
    with pytest.raises(ManifestError) as caught:
        Manifest.load(path)
    assert str(caught.value) == f"{path}:3:20: /0/onnx_version: expected str, got int"
    assert caught.value.pointer == "/0/onnx_version"


def test_a_float_too_large_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"m\.json:1:20: /0/x: 1e400 is too large"):
        Manifest.loads('[{"model": 1, "x": 1e400}]', "m.json")
