"""Random model repositories for the property "whenever generate exits 0,
validate --repo exits 0 on what it wrote": README tables (rows with
case-duplicate names, reused opsets, links to missing files or archives, bad
opset and ONNX version cells), a folder of models (opset suffixes or not,
content or Git LFS pointers, bundles, zip models, garbage, hidden and
test-data folders), a turnkey folder, and a ``hubtools.toml`` (layouts,
exclude globs, ``[[models]]`` rules whose names and tags may collide or
come out empty). Shared by the suite's bounded run and the longer run of
``benchmarks/property_generate.py``.
"""

from __future__ import annotations

import functools
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from hubtools.errors import HubtoolsError
from hubtools.generate.pipeline import generate_manifest
from hubtools.validate.checks import validate_manifest
from tests.client_support import make_tar

from .support import model_bytes, pointer, zip_of

__all__ = ["Outcome", "check_tree", "trees"]

OPSETS = (7, 12, 13, 18)
FOLDERS = (
    "",
    "vision",
    "vision/image_cls",
    "text/tiny_lm",
    ".cache",
    "vision/test_data_set_0",
    "drafts",
)
STEMS = ("net", "Net", "resnet-tiny", "bert_mini")
MODEL_FOLDER = "validated/vision/classification/net"


@functools.cache
def _model(opset: int, name: str = "x") -> bytes:
    return model_bytes(opset, name)


@st.composite
def _model_file(draw: st.DrawFn) -> dict[str, bytes]:
    """One model file of the folder layout, maybe with its bundle."""
    folder = draw(st.sampled_from(FOLDERS))
    stem = draw(st.sampled_from(STEMS))
    opset = draw(st.sampled_from(OPSETS))
    suffix = draw(st.sampled_from(("", f"-{opset}", f"_opset{opset}", "-99", "-v2")))
    kind = draw(st.sampled_from(("content", "pointer", "zip", "garbage")))
    base = f"{folder}/{stem}{suffix}".lstrip("/")
    content = _model(opset, draw(st.sampled_from(("x", "y"))))
    if kind == "zip":
        return {f"{base}.zip": zip_of(stem, {f"{stem}.onnx": content})}
    data = {
        "content": content,
        "pointer": pointer(content),
        "garbage": b"not a model",
    }[kind]
    files = {f"{base}.onnx": data}
    bundle = draw(st.sampled_from((None, "tar", "pointer")))
    if bundle == "tar":
        files[f"{base}.tar.gz"] = make_tar({f"{stem}/model.onnx": content})
    elif bundle == "pointer":
        files[f"{base}.tar.gz"] = pointer(b"bundle " + base.encode())
    return files


@st.composite
def _readme_rows(draw: st.DrawFn, targets: list[str]) -> tuple[str, dict[str, bytes]]:
    """A model README's table and the files its rows link that it adds."""
    files: dict[str, bytes] = {}
    rows = []
    for index in range(draw(st.integers(0, 4))):
        opset = draw(st.sampled_from(OPSETS))
        name = draw(st.sampled_from(("Net", "NET", "Other", f"Net-{index}", "")))
        target = draw(st.sampled_from(("own", "missing", "archive", "shared", *targets[:2])))
        if target == "own":
            link = f"model/net-{index}.onnx"
            data = _model(opset) if draw(st.booleans()) else pointer(_model(opset))
            files[f"{MODEL_FOLDER}/{link}"] = data
        elif target == "missing":
            link = "model/missing.onnx"
        elif target == "archive":
            link = "model/packed.tar.gz"
            files[f"{MODEL_FOLDER}/{link}"] = pointer(b"packed")
        elif target == "shared":
            link = "model/net-0.onnx"  # maybe another row's, maybe no file
        else:
            link = "../" * 4 + target
        cell = draw(st.sampled_from((str(opset), str(opset), "13", "thirteen", "0", "")))
        release = draw(st.sampled_from(("1.14", "1.2", "1.9.0", "custom")))
        bundle = draw(st.sampled_from(("", "[1](model/missing.tar.gz)", "[1](model/net-b.tar.gz)")))
        if "net-b" in bundle:
            files[f"{MODEL_FOLDER}/model/net-b.tar.gz"] = pointer(b"bundle")
        rows.append(f"|{name}|[1 kB]({link})|{bundle}|{release}|{cell}|\n")
    header = (
        "|Model|Download|Download (with sample test data)|ONNX version|Opset version|\n"
        "|-|-|-|-|-|\n"
    )
    return "# Net\n\n" + header + "".join(rows), files


@st.composite
def _hubtools_toml(draw: st.DrawFn) -> str:
    lines = []
    layouts = draw(
        st.sampled_from((None, ["files"], ["readme-tables"], ["readme-tables", "files"]))
    )
    exclude = draw(st.sampled_from(([], ["drafts/**"], ["*.zip"], ["nothing/**"])))
    if layouts is not None or exclude:
        lines.append("[generate]")
        if layouts is not None:
            lines.append(f"layouts = {json.dumps(layouts)}")
        if exclude:
            lines.append(f"exclude = {json.dumps(exclude)}")
    for _ in range(draw(st.integers(0, 2))):
        lines.append("[[models]]")
        lines.append(f'path = "{draw(st.sampled_from(("*", "vision/**", "*/net*", "audio/*")))}"')
        model = draw(st.sampled_from((None, "{stem}", "{folder}", "{stem}-{folder}", "same")))
        if model is not None:
            lines.append(f'model = "{model}"')
        if draw(st.booleans()):
            lines.append(f"opset = {draw(st.sampled_from(OPSETS))}")
        tags = draw(st.sampled_from((None, [], ["{folder}"], ["vision", "{stem}"])))
        if tags is not None:
            lines.append(f"tags = {json.dumps(tags)}")
        if draw(st.booleans()):
            lines.append('metadata = { license = "MIT", stars = 3 }')
    return "\n".join(lines) + "\n"


@st.composite
def trees(draw: st.DrawFn) -> dict[str, bytes]:
    """A repository: its files by path."""
    files: dict[str, bytes] = {}
    for found in draw(st.lists(_model_file(), max_size=5)):
        files.update(found)
    if draw(st.booleans()):
        top = (
            "# Zoo\n\n|Model Class|Reference|Description|\n|-|-|-|\n"
            f"|<b>[Net]({MODEL_FOLDER})</b>|p|d|\n"
        )
        files["README.md"] = top.encode()
        onnx_files = sorted(p for p in files if p.endswith(".onnx"))
        table, linked = draw(_readme_rows(onnx_files))
        files[f"{MODEL_FOLDER}/README.md"] = table.encode()
        files.update(linked)
    if draw(st.booleans()):
        opset = draw(st.sampled_from(OPSETS))
        folder = f"Computer_Vision/tiny_Opset{opset}_acme"
        files[f"{folder}/turnkey_stats.yaml"] = (
            f"author: acme\nmodel_name: tiny\nonnx_model_information:\n  opset: {opset}\n"
        ).encode()
        files[f"{folder}/tiny_Opset{opset}.onnx"] = _model(draw(st.sampled_from((opset, *OPSETS))))
    if draw(st.booleans()):
        files["hubtools.toml"] = draw(_hubtools_toml()).encode()
    return files


@dataclass(frozen=True)
class Outcome:
    """What one tree gave: generate's exit code and the codes of its errors, the
    entries written, and validate's exit code and errors when generate wrote."""

    generate: int
    validate: int | None = None
    problems: tuple[str, ...] = ()
    entries: int = 0
    errors: tuple[str, ...] = ()


def check_tree(files: dict[str, bytes]) -> Outcome:
    """Generate the tree's manifest as ``hubtools generate`` does (exit 2 on a
    usage error, 1 on errors, else 0 and the manifest is written); when it
    is written, validate it with its files as ``validate --repo`` does."""
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        for name, data in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        try:
            result = generate_manifest(root)
        except HubtoolsError:
            return Outcome(2)
        if result.report.failed():
            return Outcome(1, errors=tuple(sorted({p.code for p in result.report.errors})))
        manifest = root / "ONNX_HUB_MANIFEST.json"
        manifest.write_text(result.manifest.dumps())
        report = validate_manifest(manifest, repo=root).report
        problems = tuple(str(p) for p in report.errors)
        return Outcome(0, 1 if report.failed() else 0, problems, len(result.manifest))
