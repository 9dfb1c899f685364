"""The ``hubtools`` command line: the only package that imports click or prints."""

from __future__ import annotations

from hubtools.cli.commands import cli, main, run

__all__ = ["cli", "main", "run"]
