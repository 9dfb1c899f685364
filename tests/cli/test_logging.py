from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import RunCli

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def test_a_command_leaves_the_hubtools_logger_as_it_found_it(
    run_cli: RunCli, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("hubtools")
    before = (logger.handlers[:], logger.level, logger.propagate)
    assert run_cli("-v", "validate", FIXTURES / "manifests/valid/empty.json").exit_code == 0
    assert (logger.handlers[:], logger.level, logger.propagate) == before
    with caplog.at_level(logging.INFO, logger="hubtools"):
        logging.getLogger("hubtools.test").info("still seen")
    assert "still seen" in caplog.text


def test_verbose_sends_library_logs_to_stderr(run_cli: RunCli) -> None:
    model = FIXTURES / "zoo/validated/vision/classification/tiny_cnn/model/tinycnn-7.onnx"
    run = run_cli("-vv", "inspect", model)
    assert run.exit_code == 0
    assert f"DEBUG: {model}: kept 178 bytes of 217\n" in run.stderr
    assert "DEBUG" not in run_cli("inspect", model).stderr


def test_log_lines_and_errors_cannot_forge_lines_or_drive_the_terminal(run_cli: RunCli) -> None:
    """A path from a pull request reaches a log line or an error message: its
    newline must not start a line of its own (a forged CI annotation), nor its
    escape sequence reach the terminal."""
    from hubtools.cli import cli
    from hubtools.errors import ManifestError

    hostile = "m\n::error file=README.md::forged\x1b[2J.onnx"

    @cli.command("_hostile", hidden=True)
    def _hostile() -> None:
        logging.getLogger("hubtools.test").info("reading %s", hostile)
        raise ManifestError(f"{hostile}: not a manifest")

    try:
        run = run_cli("-v", "_hostile")
    finally:
        del cli.commands["_hostile"]
    assert run.exit_code == 2
    assert run.stderr.splitlines() == [
        "INFO: reading m\\x0a::error file=README.md::forged\\x1b[2J.onnx",
        "hubtools: error: m\\x0a::error file=README.md::forged\\x1b[2J.onnx: not a manifest",
    ]
