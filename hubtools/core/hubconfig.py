"""``hubtools.toml``, the hub's own settings at its root: the one reader of it.

Each part asks for its table (``[generate]``, ``[validate]``,
``[check-models]``) and checks the keys it knows; this module only finds the
file, parses it, and says where it is wrong. It never writes.
"""

from __future__ import annotations

import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

from hubtools.errors import UsageError

__all__ = ["CONFIG_NAME", "read_table", "string_list"]

CONFIG_NAME = "hubtools.toml"


def read_table(root: Path, name: str, known: Collection[str] | None = None) -> dict[str, Any]:
    """The ``[name]`` table of ``root/hubtools.toml`` (empty when the file or table
    is absent).

    Raises :class:`~hubtools.errors.UsageError` naming the file, line and column
    when the file is not TOML, and naming the key when ``known`` is given and
    the table holds another one.
    """
    path = Path(root) / CONFIG_NAME
    if not path.is_file():
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"{path}: not valid TOML: {err}") from err
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: cannot read: {err}") from err
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [{name}] must be a table")
    if known is not None:
        unknown = sorted(set(table) - set(known))
        if unknown:
            raise UsageError(
                f"{path}: [{name}] has unknown key(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
    return table


def string_list(table: dict[str, Any], key: str, where: str) -> list[str]:
    """``table[key]`` as a list of strings (empty when absent). Raises UsageError."""
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f'{where}: {key} must be a list of strings, like ["unlinked-readme"]')
    return value
