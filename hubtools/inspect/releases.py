"""ONNX's release table, read from the installed ``onnx`` package
(:data:`onnx.helper.VERSION_TABLE`): the first release whose default-domain
opset reaches a number, and the highest opset a named release can write. It
is the one place hubtools turns releases into opsets and back; it must not
keep a copy of the table. It reads the table from onnx's source when it can
(importing onnx costs ~0.1 s, half of validating a real manifest), else
imports onnx, only when first asked.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import re
from pathlib import Path
from typing import Any

__all__ = ["highest_opset_of_release", "onnx_release_for_opset"]

# "1.13.1", "1.9", "1.9.0rc1": a release is named by its leading major.minor[.patch].
_RELEASE = re.compile(r"(\d{1,4})\.(\d{1,4})(?:\.(\d{1,4}))?")


@functools.cache
def _release_table() -> tuple[tuple[tuple[int, ...], str, int], ...]:
    """(version numbers, release name, default-domain opset) of every release, in order."""
    rows = []
    for row in _version_table():
        numbers = _numbers(str(row[0]))
        if numbers is not None:
            rows.append((numbers, str(row[0]), int(row[2])))
    return tuple(sorted(rows))


def _version_table() -> list[tuple[Any, ...]]:
    """``onnx.helper.VERSION_TABLE``: the literal in onnx's helper.py when it is
    one (as in every release to date), else the imported value."""
    spec = importlib.util.find_spec("onnx")
    if spec is not None and spec.origin is not None:
        try:
            tree = ast.parse(Path(spec.origin).with_name("helper.py").read_bytes())
            for node in tree.body:
                if isinstance(node, ast.Assign):
                    targets, value = node.targets, node.value
                elif isinstance(node, ast.AnnAssign) and node.value is not None:
                    targets, value = [node.target], node.value
                else:
                    continue
                if any(isinstance(t, ast.Name) and t.id == "VERSION_TABLE" for t in targets):
                    return list(ast.literal_eval(value))
        except (OSError, SyntaxError, ValueError, TypeError):
            pass  # not a plain literal in this onnx: ask onnx itself
    import onnx.helper

    return list(onnx.helper.VERSION_TABLE)


def _numbers(release: str) -> tuple[int, ...] | None:
    match = _RELEASE.match(release.strip())
    if match is None:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)


def onnx_release_for_opset(opset: int) -> str | None:
    """The first ONNX release whose default-domain opset is at least ``opset``
    (None when the installed onnx knows no such release)."""
    for _, release, release_opset in _release_table():
        if release_opset >= opset:
            return release
    return None


@functools.lru_cache(maxsize=1024)  # a manifest names a few releases, many times
def highest_opset_of_release(release: str) -> int | None:
    """The highest default-domain opset the ONNX release ``release`` (``"1.2"``,
    ``"1.9.0"``) can write; None when the name is not a release number or is
    newer than every release the installed onnx knows.

    A release of the series ``major.minor`` writes opsets below the first
    opset of the next series in the table (the table lists some patch
    releases, not all: 1.0 is listed with opset 1, yet 1.0.x releases wrote
    opsets up to 4, before 1.1 brought 5). For the newest series listed, it
    is the highest opset the table gives that series.
    """
    numbers = _numbers(release)
    if numbers is None:
        return None
    series = numbers[:2]
    table = _release_table()
    later = [opset for version, _, opset in table if version[:2] > series]
    if later:
        return min(later) - 1
    same = [opset for version, _, opset in table if version[:2] == series]
    return max(same) if same else None
