"""The ``hubtools`` command line: the only package that imports click or
prints. :mod:`hubtools.cli.group` holds the group and the entry points; each
command module registers its commands on it when imported here. Commands
import the heavy libraries (onnx, requests, jsonschema, git) only when they
run, so that ``hubtools --help`` stays quick."""

from __future__ import annotations

from hubtools.cli import check, client, diff, generate, inspect, snapshot, validate  # noqa: F401
from hubtools.cli.group import cli, main, run

__all__ = ["cli", "main", "run"]
