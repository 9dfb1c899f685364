"""`model_sha` and `model_bytes` are optional, as in the format `onnx.hub` read:
validate reports their absence as warnings, so only `--strict` fails on it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.client_support import build_repo
from tests.conftest import RunCli


def test_a_missing_sha_or_size_is_a_warning_that_strict_fails(
    run_cli: RunCli, tmp_path: Path
) -> None:
    models = build_repo(tmp_path)
    entries = sorted((m.entry() for m in models), key=lambda e: str(e["model_path"]))
    del entries[0]["metadata"]["model_sha"]  # type: ignore[attr-defined]
    del entries[1]["metadata"]["model_bytes"]  # type: ignore[attr-defined]
    del entries[2]["metadata"]["tags"]  # type: ignore[attr-defined]
    manifest = tmp_path / "ONNX_HUB_MANIFEST.json"
    manifest.write_text(json.dumps(entries, indent=4))
    run = run_cli("validate", manifest, "--repo", tmp_path, "--format", "json")
    assert run.exit_code == 0, run.stdout
    found = sorted(
        (p["code"], p["severity"], p["pointer"]) for p in json.loads(run.stdout)["problems"]
    )
    assert found == [
        ("empty-tags", "warning", "/2/metadata/tags"),
        ("missing-sha", "warning", "/0/metadata"),
        ("missing-size", "warning", "/1/metadata"),
    ]
    strict = run_cli("validate", manifest, "--strict")
    assert strict.exit_code == 1
    assert (
        "warning missing-sha /0/metadata: model 'MNIST' has no metadata.model_sha" in strict.stdout
    )
