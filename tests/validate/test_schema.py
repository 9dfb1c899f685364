from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubtools.validate.schema import load_schema, schema_problems, schema_text

from .support import entry

ROOT = Path(__file__).resolve().parents[2]
ELEMENTS = [
    "float",
    "uint8",
    "int8",
    "uint16",
    "int16",
    "int32",
    "int64",
    "string",
    "bool",
    "float16",
    "double",
    "uint32",
    "uint64",
    "complex64",
    "complex128",
    "bfloat16",
    "float8e4m3fn",
    "float8e4m3fnuz",
    "float8e5m2",
    "float8e5m2fnuz",
    "uint4",
    "int4",
    "float4e2m1",
    "float8e8m0",
    "uint2",
    "int2",
]


def test_published_schema_equals_the_packaged_copy() -> None:
    published = ROOT / "schema" / "onnx-hub-manifest.schema.json"
    assert published.read_text("utf-8") == schema_text()


def test_schema_is_valid_draft_2020_12_with_docs_for_every_field() -> None:
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"]

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                assert "description" in sub, f"{path}/{name} has no description"
                has_example = "examples" in sub or (
                    "$ref" in sub and "examples" in schema["$defs"][sub["$ref"].split("/")[-1]]
                )
                assert has_example, f"{path}/{name} has no example"
            for key, sub in node.items():
                walk(sub, f"{path}/{key}")

    walk(schema, "")


def test_schema_examples_are_valid() -> None:
    schema = load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    for example in schema["examples"]:
        assert list(validator.iter_errors(example)) == []
    for name, sub in schema["$defs"].items():
        sub_validator = jsonschema.Draft202012Validator({**sub, "$defs": schema["$defs"]})
        for example in sub.get("examples", []):
            assert list(sub_validator.iter_errors(example)) == [], name


def _type_strings(depth: int) -> st.SearchStrategy[str]:
    element = st.sampled_from(ELEMENTS)
    tensor = st.builds(
        lambda k, e: f"{k}({e})", st.sampled_from(["tensor", "sparse_tensor"]), element
    )
    if depth == 0:
        return tensor
    inner = _type_strings(depth - 1)
    return st.one_of(
        tensor,
        st.builds(lambda w, t: f"{w}({t})", st.sampled_from(["seq", "optional"]), inner),
        st.builds(lambda k, t: f"map({k},{t})", element, inner),
    )


def _matches(pattern_name: str, value: str) -> bool:
    return re.search(load_schema()["$defs"][pattern_name]["pattern"], value) is not None


@given(_type_strings(6))
def test_type_pattern_accepts_the_grammar(value: str) -> None:
    assert _matches("ortType", value)


@pytest.mark.parametrize(
    "value",
    [
        "tensor (float)",
        "tensor(floaty)",
        "Tensor(float)",
        "seq(tensor(float)",
        "tensor(float)\n",
        "map(int64, tensor(float))",
        "seq()",
        "",
        "seq(" * 7 + "tensor(int8)" + ")" * 7,
    ],
)
def test_type_pattern_rejects_non_grammar(value: str) -> None:
    assert not _matches("ortType", value)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("a/b.onnx", True),
        ("a..b/c.onnx", True),
        ("../a", False),
        ("a/../b", False),
        ("./a", False),
        ("/a", False),
        ("http://x/a", False),
        ("C:/a", False),
        ("a\\b", False),
        ("a//b", False),
        ("a/", False),
        ("a/b\n", False),
        ("a/\x01b", False),
    ],
)
def test_path_pattern(value: str, ok: bool) -> None:
    assert _matches("repoPath", value) is ok


def test_schema_messages_are_short_even_for_huge_values() -> None:
    problems = list(schema_problems({"x": "y" * 100_000}, "m.json"))
    assert [(p.code, p.location.pointer) for p in problems] == [("schema-type", "")]
    assert len(problems[0].message) < 100


def test_wrong_types_in_every_field_are_each_reported() -> None:
    entry = {
        "model": 1,
        "model_path": 2,
        "onnx_version": 3,
        "opset_version": "4",
        "metadata": {
            "model_sha": 5,
            "model_bytes": "6",
            "tags": [7],
            "io_ports": {"inputs": [{"name": 8, "shape": [1.5], "type": 9}], "outputs": "x"},
            "model_with_data_path": 10,
            "model_with_data_sha": 11,
            "model_with_data_bytes": -1,
        },
    }
    found = {(p.code, p.location.pointer) for p in schema_problems([entry], "m.json")}
    assert found == {
        ("schema-type", "/0/model"),
        ("schema-type", "/0/model_path"),
        ("schema-type", "/0/onnx_version"),
        ("schema-type", "/0/opset_version"),
        ("schema-type", "/0/metadata/model_sha"),
        ("schema-type", "/0/metadata/model_bytes"),
        ("schema-type", "/0/metadata/tags/0"),
        ("schema-type", "/0/metadata/io_ports/inputs/0/name"),
        ("schema-type", "/0/metadata/io_ports/inputs/0/shape/0"),
        ("schema-type", "/0/metadata/io_ports/inputs/0/type"),
        ("schema-type", "/0/metadata/io_ports/outputs"),
        ("schema-type", "/0/metadata/model_with_data_path"),
        ("schema-type", "/0/metadata/model_with_data_sha"),
        ("schema-minimum", "/0/metadata/model_with_data_bytes"),
    }


def test_real_manifest_passes_the_schema(shared_zoo: Path) -> None:
    data = json.loads((shared_zoo / "ONNX_HUB_MANIFEST.json").read_text())
    assert list(schema_problems(data, "m")) == []


def test_integers_are_read_strictly() -> None:
    """JSON Schema counts 7.0 as an integer; JSON readers return a float, so hubtools does not."""
    floats = entry("m.onnx", b"x")
    floats["opset_version"] = 7e0
    floats["metadata"].update(model_bytes=7.0, parameters=2.0)  # type: ignore[attr-defined]
    problems = list(schema_problems([floats], "m.json"))
    assert [(p.code, p.location.pointer, p.message) for p in problems] == [
        (
            "schema-type",
            "/0/opset_version",
            "7.0 has a fraction or exponent, so JSON readers return a float, not an integer",
        ),
        (
            "schema-type",
            "/0/metadata/model_bytes",
            "7.0 has a fraction or exponent, so JSON readers return a float, not an integer",
        ),
        (
            "schema-type",
            "/0/metadata/parameters",
            "2.0 has a fraction or exponent, so JSON readers return a float, not an integer",
        ),
    ]
    assert problems[1].hint == "write 7, without a fraction or exponent"


def test_paths_longer_than_a_file_system_holds_break_max_length() -> None:
    assert load_schema()["$defs"]["repoPath"]["maxLength"] == 4096
    deep = entry("a/" * 2100 + "m.onnx", b"x")
    found = [p for p in schema_problems([deep], "m.json") if p.code == "schema-maxLength"]
    assert [(p.location.pointer, p.message) for p in found] == [
        ("/0/model_path", "is 4206 characters long, more than the maximum of 4096")
    ]
