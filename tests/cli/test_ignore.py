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


@pytest.mark.shared
def test_strict_passes_on_the_real_zoo_with_its_one_ignored_code(
    run_cli: RunCli, real_zoo: Path, tmp_path: Path
) -> None:
    """The README's promise: the zoo raises one warning on purpose (a README no
    Model Class link reaches), and with it ignored both linters pass --strict."""
    out = tmp_path / "generated.json"
    loud = run_cli("generate", real_zoo, "--strict", "-o", out)
    assert loud.exit_code == 1
    assert [line for line in loud.stderr.splitlines() if " warning " in line] == [
        "validated/text/machine_comprehension/gpt2-bs/README.md:13: warning unlinked-readme "
        "has model tables (1 rows) that no link in README.md reaches; they were left out (fix: "
        "link its folder from a `Model Class` table in README.md, or pass --include-unlinked)"
    ]
    run = run_cli("generate", real_zoo, "--strict", "--ignore", "unlinked-readme", "-o", out)
    assert run.exit_code == 0, run.stderr
    assert "warnings: 0 (1 ignored)" in run.stderr
    manifest = real_zoo / "ONNX_HUB_MANIFEST.json"
    run = run_cli("validate", manifest, "--strict", "--repo", real_zoo)
    assert (run.exit_code, run.stderr) == (
        0,
        "valid: 0 errors, 0 warnings; checked 184 entries, 368 files, 368 from LFS pointers\n",
    )
