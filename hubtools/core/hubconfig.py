"""``hubtools.toml``, the hub's own settings at its root: the one reader of it.

Each part asks for its table (``[generate]``, ``[validate]``,
``[check-models]``, the ``[[models]]`` rules) and checks the keys it knows;
this module finds the file, parses it, and says where it is wrong, as
``hubtools.toml:LINE`` (tomllib gives no positions, so a key's line is found
in the text). It never writes.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubtools.errors import UsageError

__all__ = ["CONFIG_NAME", "HubConfig", "load_config", "read_table", "string_list"]

CONFIG_NAME = "hubtools.toml"

# A table header, [name] or [[name]], with an optional comment after it.
_HEADER = re.compile(r"\s*(\[\[?)\s*([^\[\]#]+?)\s*\]\]?\s*(?:#.*)?$")


def _bare(name: str) -> str:
    """A dotted TOML name without quotes or spaces: ``"check-models" . x`` -> ``check-models.x``."""
    return ".".join(part.strip().strip("\"'") for part in name.split("."))


@dataclass(frozen=True)
class _Header:
    line: int  # 1-based
    name: str
    array: bool


@dataclass(frozen=True)
class HubConfig:
    """A repository's ``hubtools.toml``: its data, and the lines its keys are on.

    ``path`` names the file in messages; ``data`` is empty when there is no file.
    """

    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    lines: tuple[str, ...] = ()

    # ---- where things are ------------------------------------------------------

    def _headers(self) -> list[_Header]:
        found = []
        for number, text in enumerate(self.lines, 1):
            match = _HEADER.match(text)
            if match is not None:
                found.append(_Header(number, _bare(match[2]), match[1] == "[["))
        return found

    def _span(self, table: str | None, index: int | None) -> tuple[int, int] | None:
        """The lines (first, last) holding the keys of ``[table]`` (or of the
        ``index``-th ``[[table]]``; the top level for None); None when not written so."""
        headers = self._headers()
        if table is None:
            return 1, headers[0].line - 1 if headers else len(self.lines)
        matching = [h for h in headers if h.name == table and h.array == (index is not None)]
        position = index or 0
        if position >= len(matching):
            return None
        header = matching[position]
        later = [h.line for h in headers if h.line > header.line]
        return header.line, (later[0] - 1 if later else len(self.lines))

    def line(
        self, table: str | None = None, key: str | None = None, index: int | None = None
    ) -> int | None:
        """The 1-based line of ``key`` in ``[table]`` (the ``index``-th
        ``[[table]]`` with ``index``; the top level when ``table`` is None), of
        the table's header without ``key``, or None when it cannot be found
        (a dotted or inline way of writing it)."""
        if table is None and key is not None:
            for header in self._headers():
                if header.name == key or header.name.startswith(f"{key}."):
                    return header.line  # a top-level table, written as a [header]
        span = self._span(table, index)
        if span is None:
            return None
        first, last = span
        if key is None:
            return first if table is not None else None
        name = re.escape(key)
        # key = ..., "key" = ..., or a dotted key.sub = ...
        pattern = re.compile(rf"\s*(?:{name}|\"{name}\"|'{name}')\s*[=.]")
        for number in range(first, last + 1):
            if pattern.match(self.lines[number - 1]):
                return number
        return first if table is not None else None

    def at(self, table: str | None = None, key: str | None = None, index: int | None = None) -> str:
        """``path:LINE`` of a key or table, for messages (``path`` when the line is unknown)."""
        line = self.line(table, key, index)
        return f"{self.path}:{line}" if line is not None else str(self.path)

    def error(
        self,
        message: str,
        table: str | None = None,
        key: str | None = None,
        index: int | None = None,
    ) -> UsageError:
        """A UsageError ``path:LINE: message`` about a key or table."""
        return UsageError(f"{self.at(table, key, index)}: {message}")

    # ---- what is there ---------------------------------------------------------

    def check_keys(
        self,
        found: Collection[str],
        known: Collection[str],
        what: str,
        table: str | None = None,
        index: int | None = None,
    ) -> None:
        """Raise a UsageError at the first key of ``found`` not in ``known``."""
        unknown = [key for key in found if key not in known]
        if unknown:
            raise self.error(
                f"{what} has unknown key(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(known))}",
                table,
                unknown[0],
                index,
            )

    def table(self, name: str, known: Collection[str] | None = None) -> dict[str, Any]:
        """The ``[name]`` table (empty when absent); with ``known``, a key outside
        it is a UsageError at its line."""
        table = self.data.get(name, {})
        if not isinstance(table, dict):
            raise self.error(f"[{name}] must be a table", key=name)
        if known is not None:
            self.check_keys(table, known, f"[{name}]", name)
        return table

    def array(self, name: str, known: Collection[str]) -> list[dict[str, Any]]:
        """The ``[[name]]`` tables, in order (empty when absent); each is checked
        against ``known`` as :meth:`table` checks one."""
        items = self.data.get(name, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise self.error(f"{name} must be written as [[{name}]] tables", key=name)
        for index, item in enumerate(items):
            self.check_keys(item, known, f"[[{name}]] #{index + 1}", name, index)
        return items


def load_config(root: Path) -> HubConfig:
    """``root/hubtools.toml`` parsed (empty when there is none).

    Raises :class:`~hubtools.errors.UsageError` naming the file, line and
    column when it is not TOML, or when it cannot be read.
    """
    path = Path(root) / CONFIG_NAME
    if not path.is_file():
        return HubConfig(path)
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"{path}: not valid TOML: {err}") from err
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: cannot read: {err}") from err
    return HubConfig(path, data, tuple(text.splitlines()))


def read_table(root: Path, name: str, known: Collection[str] | None = None) -> dict[str, Any]:
    """The ``[name]`` table of ``root/hubtools.toml`` (empty when the file or table
    is absent).

    Raises :class:`~hubtools.errors.UsageError` naming the file, line and column
    when the file is not TOML, and naming the key and its line when ``known``
    is given and the table holds another one.
    """
    return load_config(root).table(name, known)


def string_list(table: dict[str, Any], key: str, where: str) -> list[str]:
    """``table[key]`` as a list of strings (empty when absent). Raises UsageError."""
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f'{where}: {key} must be a list of strings, like ["unlinked-readme"]')
    return value
