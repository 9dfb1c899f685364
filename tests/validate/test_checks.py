"""The validator's checks on a manifest's text, with no repository."""

from __future__ import annotations

import json

from hubtools.core.jsonfile import parse_json
from hubtools.errors import Severity
from hubtools.validate.checks import check_document

from .support import entry


def test_check_document_keeps_only_schema_valid_entries() -> None:
    good = entry("m/a.onnx", b"x")
    bad = entry("../escape.onnx", b"x")
    result = check_document(parse_json(json.dumps([good, bad]), "remote"))
    manifest, report = result.manifest, result.report
    assert manifest is not None
    assert [e.model_path for e in manifest] == ["m/a.onnx"]
    assert [(p.code, p.location.pointer, p.severity) for p in report] == [
        ("schema-pattern", "/1/model_path", Severity.ERROR)
    ]
    assert check_document(parse_json("{}", "remote")).manifest is None
