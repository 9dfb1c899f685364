"""CLI tests read like typed commands: ``run_cli("validate", path)``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from hubtools.cli import cli


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str


RunCli = Callable[..., Run]


@pytest.fixture
def run_cli() -> RunCli:
    """Run ``hubtools ARGS...`` in-process; returns exit code, stdout and stderr apart."""

    def run(*args: object, input: str | None = None) -> Run:
        result = CliRunner().invoke(cli, [str(a) for a in args], input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Run(result.exit_code, result.stdout, result.stderr)

    return run
