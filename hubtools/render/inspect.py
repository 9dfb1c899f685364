"""Render the facts of inspected model files for people (text) and programs
(JSON lines). Pure functions over :class:`~hubtools.inspect.facts.FileFacts`:
they return what the CLI prints, never print, never import click, and never
import onnx (the facts come in already read)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hubtools.core.manifest import IOPorts
from hubtools.render.text import size_text

if TYPE_CHECKING:
    from hubtools.core.manifest import Dim
    from hubtools.inspect.facts import FileFacts


def format_dims(shape: Sequence[Dim]) -> str:
    """``[1, 3, ?, N]``: a shape with ``?`` for an unknown dimension."""
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def inspect_text(facts: FileFacts) -> str:
    """The facts of one file as lines for people."""
    lines = [str(facts.path)]
    sha = facts.model_sha if facts.model_sha is not None else "(not computed: --no-hash)"
    lines.append(f"  sha256        {sha}")
    lines.append(f"  size          {size_text(facts.model_bytes)}")
    if facts.lfs_pointer:
        lines.append("  Git LFS pointer: content not present, ONNX facts unknown")
        return "\n".join(lines)
    imports = ", ".join(f"{d or 'ai.onnx'} {v}" for d, v in facts.opset_import)
    lines.append(f"  ir_version    {facts.ir_version}")
    lines.append(f"  opset         {facts.opset_version} ({imports or 'no imports'})")
    ports = facts.io_ports if facts.io_ports is not None else IOPorts()
    for kind, side in (("inputs", ports.inputs), ("outputs", ports.outputs)):
        lines.append(f"  {kind}")
        lines += [f"    {p.name}  {p.type}  {format_dims(p.shape)}" for p in side]
    for name in facts.external_data:
        lines.append(f"  external data {name}")
    for problem in facts.problems:
        lines.append(f"  problem: {problem}")
    return "\n".join(lines)


def inspect_json(facts: FileFacts, path: Path | None = None) -> str:
    """The facts as one line of JSON; with ``path`` (one of several files
    inspected) the object starts with ``"path"``."""
    data = facts.to_json()
    return json.dumps(data if path is None else {"path": str(path), **data})


def error_json(path: Path, message: str) -> str:
    """One line of JSON for a file that could not be inspected."""
    return json.dumps({"path": str(path), "error": message})


def problem_lines(path: Path, facts: FileFacts) -> list[str]:
    """``hubtools: problem: <path>: <problem>`` for each problem of a readable model."""
    return [f"hubtools: problem: {path}: {problem}" for problem in facts.problems]
