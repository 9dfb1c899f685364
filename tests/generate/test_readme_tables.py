"""The README-table collector (the legacy zoo layout), through the generator:
linked and unlinked READMEs, and every kind of bad row reported with its line."""

from __future__ import annotations

import os
from pathlib import Path

import git
import pytest

from hubtools.errors import Severity
from hubtools.generate.pipeline import generate_manifest

from .support import NET, TOP, make_zoo, model_bytes, pointer, zoo_files


def test_unlinked_readme_is_reported_and_included_on_request(tmp_path: Path) -> None:
    files = zoo_files()
    files["validated/text/lm/README.md"] = (
        "# LM\n\n|Model|Download|ONNX version|Opset version|\n|-|-|-|-|\n"
        "|LM|[1](model/lm.onnx)|1.6|11|\n"
    )
    files["validated/text/lm/model/lm.onnx"] = pointer(model_bytes(11))
    make_zoo(tmp_path, files)
    result = generate_manifest(tmp_path)
    assert [str(p.location) for p in result.report] == ["validated/text/lm/README.md:3"]
    assert result.report.problems[0].code == "unlinked-readme"
    assert len(result.manifest) == 3
    included = generate_manifest(tmp_path, include_unlinked=True)
    assert list(included.report) == []
    assert "validated/text/lm/model/lm.onnx" in [e.model_path for e in included.manifest]
    assert included.manifest.entries[0].metadata.tags == ("text", "lm")


BAD_NET = """\
# Net

|Model|Download|Download (with sample test data)| ONNX version |Opset version|
|-----|:-------|:-------------------------------|:-------------|:------------|
|Good|[1 kB](model/net-7.onnx)|[1 kB](model/net-7.tar.gz)|1.2|7|
|Short|[1 kB](model/net-12.onnx)|
|NoOpset|[1 kB](model/net-12.onnx)|[1](model/net-12.tar.gz)|1.9|twelve|
|Missing|[1 kB](model/nothere.onnx)||1.9|12|
|Escape|[1 kB](../../../../../x.onnx)||1.9|12|
|Outside|[1 kB](model/link.onnx)||1.9|12|
|NoLink|1 kB||1.9|12|
|Dup|[1 kB](model/net-7.onnx)||1.9|12|
|BadBundle|[1 kB](model/net-12.onnx)|[1](model/nobundle.tar.gz)|1.9|12|

|Model|Download|ONNX version|Opset Verison|
|-|-|-|-|
|X|[1](model/net-7.onnx)|1|7|
"""


def test_bad_input_is_reported_with_file_line_and_the_run_goes_on(tmp_path: Path) -> None:
    outside = tmp_path / "outside.onnx"
    outside.write_bytes(pointer(b"secret"))
    root = tmp_path / "zoo"
    files = zoo_files()
    base = "validated/vision/classification/my_net"
    files[f"{base}/README.md"] = BAD_NET
    files["validated/vision/classification/latin1/README.md"] = "caf\xe9\n|a|\n".encode("latin-1")
    files["README.md"] = TOP + (
        "|<b>[L](validated/vision/classification/latin1)</b>|p|d|\n"
        "|<b>[Gone](validated/vision/gone)</b>|p|d|\n"
        "|<b>[Up](../../elsewhere)</b>|p|d|\n"
    )
    make_zoo(root, files)
    os.symlink(outside, root / base / "model" / "link.onnx")
    repo = git.Repo(root)
    repo.index.add([f"{base}/model/link.onnx"])
    repo.index.commit("symlink")
    result = generate_manifest(root)
    readme = f"{base}/README.md"
    got = [(str(p.location), p.code, p.severity.value) for p in result.report]
    # Rows it cannot use are errors (the run fails, nothing is written); links
    # it refuses to follow and tables it cannot read are warnings.
    assert got == [
        ("README.md:8", "link-missing-readme", "warning"),
        ("README.md:9", "link-escapes", "warning"),
        (f"{readme}:6", "row-missing-cell", "error"),
        (f"{readme}:7", "opset-not-a-number", "error"),
        (f"{readme}:8", "link-missing-file", "error"),
        (f"{readme}:9", "bad-link", "warning"),
        (f"{readme}:10", "bad-link", "warning"),
        (f"{readme}:11", "no-link", "error"),
        (f"{readme}:13", "link-missing-file", "error"),
        (f"{readme}:15", "table-missing-column", "warning"),
        ("validated/vision/classification/latin1/README.md:1", "readme-not-utf8", "warning"),
        (f"{readme}:12", "duplicate-model-path", "error"),
    ]
    assert result.report.failed()
    messages = {p.code: str(p) for p in result.report}
    assert (
        "row has 2 cells, header has 5; the `ONNX version` cell is missing"
        in messages["row-missing-cell"]
    )
    assert "did you mean `Opset version`?" in messages["table-missing-column"]
    assert "leaves the repository" in messages["link-escapes"]
    assert "through a symlink" in str(result.report.problems[6])
    assert "byte 0xe9 is not UTF-8" in messages["readme-not-utf8"]
    assert [e.model for e in result.manifest] == ["BadBundle", "Good"]
    assert result.manifest.entries[0].metadata.model_with_data_path is None


@pytest.mark.parametrize(
    ("opset", "accepted"),
    [
        ("12", True),
        ("1000", True),
        ("0", False),
        ("1001", False),
        ("9" * 5000, False),  # int() would refuse it with a traceback's ValueError
        ("1_2", False),  # int() takes these three
        (" 12 ", True),  # the cell's text is stripped
        ("١٢", False),
    ],
    ids=["12", "1000", "0", "1001", "5000-digits", "underscore", "spaces", "arabic-indic"],
)
def test_opset_cells_are_small_ascii_numbers(tmp_path: Path, opset: str, accepted: bool) -> None:
    base = "validated/vision/classification/my_net"
    files: dict[str, bytes | str] = {
        "README.md": TOP,
        f"{base}/README.md": (
            "|Model|Download|ONNX version|Opset version|\n|-|-|-|-|\n"
            f"|Net|[1 kB](model/net-12.onnx)|1.9|{opset}|\n"
        ),
        f"{base}/model/net-12.onnx": pointer(model_bytes(12)),
    }
    make_zoo(tmp_path, files)
    result = generate_manifest(tmp_path)
    if accepted:
        # ONNX 1.9 wrote opsets up to 14: the validator's warning, at the row.
        codes = ["onnx-version-mismatch"] if int(opset) > 14 else []
        assert [(p.code, str(p.location)) for p in result.report] == [
            (c, f"{base}/README.md:3") for c in codes
        ]
        assert result.manifest.entries[0].opset_version == int(opset)
        return
    (problem,) = result.report
    # Not a number: a typo, an error. A number out of range: refused, a warning.
    code = "bad-opset" if opset.isdigit() and opset.isascii() else "opset-not-a-number"
    assert (problem.code, str(problem.location)) == (code, f"{base}/README.md:3")
    assert problem.severity is (Severity.WARNING if code == "bad-opset" else Severity.ERROR)
    assert len(problem.message) < 150
    assert len(result.manifest) == 0


def test_oversized_readme_and_tables_are_refusals_that_name_the_limit(tmp_path: Path) -> None:
    from hubtools.generate.collectors.readme_tables import MAX_README_BYTES
    from hubtools.generate.markdown import MAX_COLUMNS

    files = zoo_files()
    base = "validated/vision/classification/my_net"
    wide = "|" + "|".join(["h"] * (MAX_COLUMNS + 1)) + "|\n|" + "-|" * (MAX_COLUMNS + 1) + "\n"
    files[f"{base}/README.md"] = "# Net\n\n" + wide + "\n" + NET.split("\n", 2)[2]
    files["validated/text/big/README.md"] = "x" * (MAX_README_BYTES + 1)
    files["README.md"] = TOP + "|<b>[Big](validated/text/big)</b>|p|d|\n"
    make_zoo(tmp_path, files)
    result = generate_manifest(tmp_path)
    assert [(str(p.location), p.code) for p in result.report] == [
        (f"{base}/README.md:3", "table-too-wide"),
        ("validated/text/big/README.md", "readme-too-large"),
    ]
    wide_problem, big = result.report.problems
    assert f"more than the {MAX_COLUMNS} a table may have" in wide_problem.message
    assert "512 KiB" in big.message
    assert big.hint is not None
    assert len(result.manifest) == 3  # the model table after the wide one is read


def test_readme_links_out_are_reported_even_when_unlinked(tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text(NET)
    root = tmp_path / "zoo"
    make_zoo(root, zoo_files(), commit=False)
    os.symlink(secret, root / "validated" / "README.md")
    os.mkfifo(root / "notes.md")  # no README: never opened
    (root / "sub").mkdir()
    os.mkfifo(root / "sub" / "readme.md")
    result = generate_manifest(root)
    assert [(str(p.location), p.code) for p in result.report] == [
        ("sub/readme.md", "not-a-regular-file"),
        ("validated/README.md", "link-outside"),
    ]
