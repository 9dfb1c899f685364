"""The README-table collector (the legacy zoo layout), through the generator:
linked and unlinked READMEs, and every kind of bad row reported with its line."""

from __future__ import annotations

import os
from pathlib import Path

import git

from hubtools.errors import Severity
from hubtools.generate.pipeline import generate_manifest

from .support import TOP, make_zoo, model_bytes, pointer, zoo_files


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
    got = [(str(p.location), p.code) for p in result.report]
    assert got == [
        ("README.md:8", "link-missing-readme"),
        ("README.md:9", "link-escapes"),
        (f"{readme}:6", "row-missing-cell"),
        (f"{readme}:7", "bad-opset"),
        (f"{readme}:8", "link-missing-file"),
        (f"{readme}:9", "bad-link"),
        (f"{readme}:10", "bad-link"),
        (f"{readme}:11", "no-link"),
        (f"{readme}:13", "link-missing-file"),
        (f"{readme}:15", "table-missing-column"),
        ("validated/vision/classification/latin1/README.md:1", "readme-not-utf8"),
        (f"{readme}:12", "duplicate-model-path"),
    ]
    assert all(p.severity is Severity.WARNING for p in result.report)
    assert result.report.failed(strict=True)
    assert not result.report.failed()
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
