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
