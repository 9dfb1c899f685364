"""``--ignore CODE`` and ``ignore = [...]`` in ``hubtools.toml``: ignored problems
neither print nor fail the run, and the summary still counts them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, RunCli


@pytest.fixture
def hub(tmp_path: Path) -> Path:
    """A manifest with one warning (empty tags) beside its files."""
    root = tmp_path / "hub"
    shutil.copytree(FIXTURES / "zoo", root)
    data = json.loads((root / "ONNX_HUB_MANIFEST.json").read_text())
    data[0]["metadata"]["tags"] = []
    (root / "ONNX_HUB_MANIFEST.json").write_text(json.dumps(data, indent=4))
    return root


def test_validate_ignore_on_the_command_line(run_cli: RunCli, hub: Path) -> None:
    manifest = hub / "ONNX_HUB_MANIFEST.json"
    run = run_cli("validate", manifest, "--strict")
    assert run.exit_code == 1
    assert "empty-tags" in run.stdout
    run = run_cli("validate", manifest, "--strict", "--ignore", "empty-tags")
    assert (run.exit_code, run.stdout) == (0, "")
    assert run.stderr.startswith("valid: 0 errors, 0 warnings (1 ignored); checked ")
    run = run_cli("validate", manifest, "--ignore", "empty-*", "--format", "json")
    assert json.loads(run.stdout)["summary"]["ignored"] == 1


def test_validate_ignore_in_hubtools_toml_and_with_files(run_cli: RunCli, hub: Path) -> None:
    (hub / "hubtools.toml").write_text('[validate]\nignore = ["empty-tags"]\n')
    run = run_cli("validate", hub / "ONNX_HUB_MANIFEST.json", "--strict", "--with-files")
    assert run.exit_code == 0, run.stdout
    assert "(1 ignored); checked " in run.stderr
    assert "files" in run.stderr  # --with-files checked the manifest's folder


def test_a_bad_hubtools_toml_is_a_usage_error(run_cli: RunCli, hub: Path) -> None:
    (hub / "hubtools.toml").write_text("[validate]\nignored = []\n")
    run = run_cli("validate", hub / "ONNX_HUB_MANIFEST.json")
    assert run.exit_code == 2
    assert run.stderr == (
        f"hubtools: error: {hub / 'hubtools.toml'}:2: [validate] has unknown key(s) ignored; "
        "known: ignore\n"
    )
    (hub / "hubtools.toml").write_text("[validate\n")
    assert run_cli("validate", hub / "ONNX_HUB_MANIFEST.json").exit_code == 2


def test_generate_ignore(run_cli: RunCli, tmp_path: Path) -> None:
    root = tmp_path / "zoo"
    shutil.copytree(FIXTURES / "zoo", root)
    # A README with a model table that no top-level link reaches: a warning.
    (root / "extra").mkdir()
    (root / "extra" / "README.md").write_text(
        "| Model | Download | ONNX version | Opset version |\n|---|---|---|---|\n"
        "| X | [1 KB](x.onnx) | 1.9 | 12 |\n"
    )
    run = run_cli("generate", root, "--check", "--strict")
    assert run.exit_code == 1  # the fixture zoo raises warnings
    codes = sorted({line.split()[2] for line in run.stderr.splitlines() if " warning " in line})
    assert codes
    args = [a for code in codes for a in ("--ignore", code)]
    run = run_cli("generate", root, "--check", "--strict", *args)
    assert run.exit_code == 0, run.stderr
    assert " warning " not in run.stderr
    assert "ignored)" in run.stderr
    (root / "hubtools.toml").write_text(f"[generate]\nignore = {json.dumps(codes)}\n")
    assert run_cli("generate", root, "--check", "--strict").exit_code == 0
