"""The generator's part of ``hubtools.toml``: the ``[generate]`` table
(``layouts``, ``exclude``, ``ignore``) and the ``[[models]]`` rules (a
``path`` glob, a ``model`` template, an ``opset`` for pointer-only files,
``tags``, extra ``metadata``), checked once and kept with their lines so
that a problem they cause is reported at ``hubtools.toml:LINE``. It reads
through :mod:`hubtools.core.hubconfig` and never touches the repository's
other files.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubtools.core.hubconfig import CONFIG_NAME, HubConfig, load_config
from hubtools.core.manifest import METADATA_KEYS, JSONValue
from hubtools.errors import Location
from hubtools.generate.collectors.base import MAX_OPSET

__all__ = [
    "LAYOUTS",
    "GenerateConfig",
    "Glob",
    "ModelRule",
    "Template",
    "read_generate_config",
]

#: The layouts generate knows, in the order their entries are collected.
LAYOUTS = ("readme-tables", "turnkey", "files")
#: The top-level tables of hubtools.toml, whichever command reads them.
_TOP_LEVEL = ("generate", "validate", "check-models", "models")
_GENERATE_KEYS = ("layouts", "exclude", "ignore")
_RULE_KEYS = ("path", "model", "opset", "tags", "metadata")
#: What a template may name: the file's stem without its opset suffix, its folder's name.
_FIELDS = ("stem", "folder")
#: Metadata keys a rule may not set: generate writes them from the files.
_RESERVED = (*METADATA_KEYS, "model_archive")


@dataclass(frozen=True)
class Template:
    """A ``model`` or tag template: text with ``{stem}`` and ``{folder}`` in it."""

    text: str

    def render(self, values: Mapping[str, str]) -> str:
        return self.text.format_map(values)


@dataclass(frozen=True)
class Glob:
    """A glob of ``hubtools.toml`` and the line it is on."""

    pattern: str
    where: Location


@dataclass(frozen=True)
class ModelRule:
    """One ``[[models]]`` rule: what it sets on the entries whose ``model_path``
    matches ``path``, and the line of each key (for problems it causes)."""

    path: Glob
    model: Template | None = None
    opset: int | None = None
    tags: tuple[Template, ...] | None = None
    metadata: tuple[tuple[str, JSONValue], ...] = ()
    lines: tuple[tuple[str, Location], ...] = ()

    def where(self, key: str) -> Location:
        """The line of ``key`` in hubtools.toml (the rule's ``path`` when not written)."""
        return dict(self.lines).get(key, self.path.where)


@dataclass(frozen=True)
class GenerateConfig:
    """What ``hubtools.toml`` asks of generate (all optional; the defaults when absent).

    ``layouts`` is None for auto: README tables and turnkey folders when they
    find something, the files layout when neither does.
    """

    layouts: tuple[str, ...] | None = None
    exclude: tuple[Glob, ...] = ()
    ignore: tuple[str, ...] = ()
    rules: tuple[ModelRule, ...] = ()


def read_generate_config(root: Path) -> GenerateConfig:
    """The generate settings of ``root/hubtools.toml``.

    Raises :class:`~hubtools.errors.UsageError` at ``hubtools.toml:LINE`` for
    a top-level table it does not know, an unknown key, a value of the wrong
    type, a layout it does not know, or a template naming another field than
    ``{stem}`` and ``{folder}``.
    """
    config = load_config(root)
    config.check_keys(config.data, _TOP_LEVEL, CONFIG_NAME)
    table = config.table("generate", _GENERATE_KEYS)
    layouts = None
    if "layouts" in table:
        layouts = tuple(_strings(config, table, "layouts", "generate"))
        if not layouts:
            raise config.error(
                f"layouts must name at least one of {', '.join(LAYOUTS)}", "generate", "layouts"
            )
        for layout in layouts:
            if layout not in LAYOUTS:
                raise config.error(
                    f"layouts: unknown layout {layout!r}; known: {', '.join(LAYOUTS)}",
                    "generate",
                    "layouts",
                )
    exclude = tuple(
        Glob(p, _location(config, "generate", "exclude"))
        for p in _strings(config, table, "exclude", "generate")
    )
    ignore = tuple(_strings(config, table, "ignore", "generate"))
    rules = tuple(
        _rule(config, item, index) for index, item in enumerate(config.array("models", _RULE_KEYS))
    )
    return GenerateConfig(layouts, exclude, ignore, rules)


def _location(config: HubConfig, table: str, key: str | None, index: int | None = None) -> Location:
    """Where a key is, as a problem's location (hubtools.toml at the repository root)."""
    return Location(CONFIG_NAME, config.line(table, key, index))


def _strings(
    config: HubConfig, table: Mapping[str, Any], key: str, name: str, index: int | None = None
) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise config.error(f'{key} must be a list of strings, like ["..."]', name, key, index)
    return value


def _template(config: HubConfig, text: object, key: str, index: int) -> Template:
    """A template, once every field it names is known."""
    if not isinstance(text, str):
        raise config.error(f"{key} must be a string", "models", key, index)
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(text)]
    except ValueError as err:
        raise config.error(
            f"{key} {text!r} is not a template: {err} (write {{{{ and }}}} for braces)",
            "models",
            key,
            index,
        ) from err
    for name, spec, conversion in fields:
        if name is not None and (name not in _FIELDS or spec or conversion):
            raise config.error(
                f"{key} {text!r} names {{{name}{'!' + conversion if conversion else ''}"
                f"{':' + spec if spec else ''}}}; a template may name only "
                + " and ".join(f"{{{f}}}" for f in _FIELDS),
                "models",
                key,
                index,
            )
    return Template(text)


def _json_value(config: HubConfig, value: object, where: str, index: int) -> JSONValue:
    """A TOML value as JSON (no dates, no infinite or NaN floats)."""
    if isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, list):
        return [_json_value(config, item, where, index) for item in value]
    if isinstance(value, dict):
        return {str(k): _json_value(config, v, where, index) for k, v in value.items()}
    raise config.error(
        f"metadata {where}: {value!r} has no JSON form (use a string, number, boolean, "
        "array or table)",
        "models",
        "metadata",
        index,
    )


def _rule(config: HubConfig, item: Mapping[str, Any], index: int) -> ModelRule:
    """One checked ``[[models]]`` rule."""
    path = item.get("path")
    if not isinstance(path, str) or not path:
        raise config.error(
            'needs a path glob, like path = "vision/**"', "models", "path" if path else None, index
        )
    lines = tuple(
        (key, _location(config, "models", key, index)) for key in _RULE_KEYS if key in item
    )
    glob = Glob(path, _location(config, "models", "path", index))
    model = None if "model" not in item else _template(config, item["model"], "model", index)
    opset = item.get("opset")
    if opset is not None and (
        isinstance(opset, bool) or not isinstance(opset, int) or not 1 <= opset <= MAX_OPSET
    ):
        raise config.error(
            f"opset must be a whole number from 1 to {MAX_OPSET}, like opset = 12",
            "models",
            "opset",
            index,
        )
    tags = None
    if "tags" in item:
        raw = item["tags"]
        if not isinstance(raw, list):
            raise config.error(
                'tags must be a list of strings, like ["vision"]', "models", "tags", index
            )
        tags = tuple(_template(config, tag, "tags", index) for tag in raw)
    metadata = item.get("metadata", {})
    if not isinstance(metadata, dict):
        raise config.error(
            'metadata must be a table, like metadata = { license = "MIT" }',
            "models",
            "metadata",
            index,
        )
    for key in metadata:
        if key in _RESERVED:
            raise config.error(
                f"metadata key {key!r} is written by generate from the files"
                + ("; set tags with `tags`" if key == "tags" else ""),
                "models",
                "metadata",
                index,
            )
    extra = tuple((str(k), _json_value(config, v, repr(k), index)) for k, v in metadata.items())
    return ModelRule(glob, model, opset, tags, extra, lines)
