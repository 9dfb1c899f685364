"""onnx_version against opset_version (``onnx-version-mismatch``), from onnx's
own release table, and archive formats named by any of their suffixes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hubtools.core.jsonfile import parse_json
from hubtools.errors import Severity
from hubtools.inspect.releases import highest_opset_of_release, onnx_release_for_opset
from hubtools.validate.checks import check_document

from .support import entry


@pytest.mark.parametrize(
    ("release", "highest"),
    [
        ("1.0", 4),  # the table lists 1.0 at opset 1; 1.0.x releases wrote up to 4
        ("1.1", 6),  # 1.1 wrote 5, 1.1.2 wrote 6
        ("1.2", 7),
        ("1.2.1", 7),
        ("1.4", 9),  # the table lists 1.4.1 only
        ("1.9.0rc1", 14),
        ("1.13.1", 18),
        ("0.3", 0),
        ("1.9999", None),  # newer than every release the installed onnx knows
        ("next", None),
        ("", None),
    ],
)
def test_highest_opset_of_a_release(release: str, highest: int | None) -> None:
    assert highest_opset_of_release(release) == highest


def test_every_release_reaches_its_own_first_opset() -> None:
    """The two directions agree: the first release of an opset can write it."""
    for opset in range(1, 200):
        release = onnx_release_for_opset(opset)
        if release is None:
            break
        highest = highest_opset_of_release(release)
        assert highest is not None
        assert highest >= opset, release


def _report(onnx_version: str, opset: int) -> list[tuple[str, str | None, Severity]]:
    item = entry("m/a.onnx", b"x")
    item["onnx_version"], item["opset_version"] = onnx_version, opset
    result = check_document(parse_json(json.dumps([item], indent=4), "m.json"))
    return [(p.code, p.location.pointer, p.severity) for p in result.report]


def test_an_onnx_release_too_old_for_the_opset_is_a_warning() -> None:
    assert _report("1.2", 18) == [("onnx-version-mismatch", "/0/onnx_version", Severity.WARNING)]
    assert _report("1.13", 18) == []
    assert _report("1.0", 2) == []  # the real zoo's Emotion FERPlus
    assert _report("custom build", 18) == []
    item = entry("m/a.onnx", b"x")
    item["onnx_version"], item["opset_version"] = "1.2", 18
    (problem,) = check_document(parse_json(json.dumps([item]), "m.json")).report
    assert problem.message == "ONNX 1.2 writes opsets up to 7, not opset 18"
    assert problem.hint == (
        "write the ONNX release the model was exported with (opset 18 needs 1.13.0 or later), "
        "or fix opset_version"
    )


@pytest.mark.parametrize(
    ("path", "archive", "codes"),
    [
        ("m/a.tgz", "tar.gz", []),
        ("m/a.tar.gz", "tar.gz", []),
        ("m/a.zip", "tar.gz", ["archive-format-mismatch"]),
        ("m/a.onnx", "zip", ["archive-format-mismatch"]),
    ],
)
def test_archive_formats_by_any_of_their_suffixes(
    path: str, archive: str, codes: list[str]
) -> None:
    item = entry(path, b"x")
    item["metadata"]["model_archive"] = archive  # type: ignore[index]
    result = check_document(parse_json(json.dumps([item]), "m.json"))
    assert [p.code for p in result.report] == codes


def test_other_entries_are_named_as_the_caller_says() -> None:
    first, second = entry("m/a.onnx", b"x"), entry("m/b.onnx", b"y")
    second["model"] = "A.ONNX"  # the same name as the first, in other case
    result = check_document(
        parse_json(json.dumps([first, second]), "m.json"),
        entry_name=lambda index: f"README.md:{index + 10}",
    )
    (problem,) = result.report
    assert problem.code == "duplicate-model"
    assert "already listed at README.md:10" in problem.message


def test_the_release_table_read_from_onnx_source_is_the_one_onnx_holds() -> None:
    """The table is read from onnx's helper.py without importing onnx (0.1 s of a
    0.2 s validate): it must be exactly what importing onnx gives."""
    code = (
        "import sys\n"
        "from hubtools.inspect.releases import _version_table\n"
        "table = _version_table()\n"
        "assert 'onnx' not in sys.modules, 'onnx was imported'\n"
        "import onnx.helper\n"
        "assert table == list(onnx.helper.VERSION_TABLE), 'tables differ'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
