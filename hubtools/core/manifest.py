"""The manifest model: frozen dataclasses for ``ONNX_HUB_MANIFEST.json`` entries.

A manifest is a JSON array of entries. Each entry has, in this key order,
``model``, ``model_path``, ``onnx_version``, ``opset_version`` and
``metadata``; metadata has ``model_sha``, ``model_bytes``, ``tags``,
``io_ports``, ``extra_ports`` (optional), ``model_with_data_path``,
``model_with_data_sha`` and ``model_with_data_bytes``. Fields this model does
not know are kept, in their order, so that loading and dumping a manifest
written as ``json.dumps(entries, indent=4)`` gives back the same bytes.

Conversion from JSON assumes the data passed the schema (see
:mod:`hubtools.validate.schema`); on data that did not, :meth:`ModelEntry.from_json`
raises :class:`~hubtools.errors.ManifestError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from hubtools.core.jsonfile import (
    JSONDocument,
    JSONObject,
    JSONValue,
    parse_json,
    read_json_file,
)
from hubtools.errors import ManifestError

__all__ = [
    "ENTRY_KEYS",
    "MANIFEST_NAME",
    "METADATA_KEYS",
    "Dim",
    "IOPort",
    "IOPorts",
    "JSONObject",
    "JSONValue",
    "Manifest",
    "Metadata",
    "ModelEntry",
]

#: One dimension of a port's shape: a size, a symbolic name, or unknown.
Dim = int | str | None

MANIFEST_NAME = "ONNX_HUB_MANIFEST.json"

ENTRY_KEYS = ("model", "model_path", "onnx_version", "opset_version", "metadata")
METADATA_KEYS = (
    "model_sha",
    "model_bytes",
    "tags",
    "io_ports",
    "extra_ports",
    "model_with_data_path",
    "model_with_data_sha",
    "model_with_data_bytes",
)


def _ordered(
    known: Mapping[str, JSONValue | None],
    extra: Sequence[tuple[str, JSONValue]],
    key_order: Sequence[str],
) -> JSONObject:
    """Lay out ``known`` (None values dropped) and ``extra`` fields in ``key_order``.

    Keys not in ``key_order`` follow it: known ones in their canonical order,
    then the extra ones in theirs.
    """
    values: dict[str, JSONValue] = {k: v for k, v in known.items() if v is not None}
    values.update(extra)
    out: JSONObject = {}
    for key in key_order:
        if key in values:
            out[key] = values.pop(key)
    out.update(values)
    return out


_T = TypeVar("_T")


def _take(data: object, kind: type[_T], what: str) -> _T:
    """``data`` if it is a ``kind`` (a bool is not an int); else ManifestError."""
    if not isinstance(data, kind) or (kind is int and isinstance(data, bool)):
        raise ManifestError(
            f"{what}: expected {kind.__name__}, got {type(data).__name__}",
            pointer=what if what.startswith("/") else None,
        )
    return data


def _take_optional(data: object, kind: type[_T], what: str) -> _T | None:
    return None if data is None else _take(data, kind, what)


@dataclass(frozen=True)
class IOPort:
    """One input or output of a model, as onnxruntime reports it.

    ``shape`` items are ints (fixed sizes), strings (symbolic names) or None
    (unknown); ``type`` is onnxruntime's type string, e.g. ``tensor(float)``.
    """

    name: str
    shape: tuple[Dim, ...]
    type: str

    def to_json(self) -> JSONObject:
        """The port as a JSON object ``{"name", "shape", "type"}``."""
        return {"name": self.name, "shape": list(self.shape), "type": self.type}

    @classmethod
    def from_json(cls, data: JSONValue, where: str = "port") -> IOPort:
        """Build a port from its JSON object; raises ManifestError on a wrong shape."""
        obj = _take(data, dict, where)
        dims: list[Dim] = []
        for i, dim in enumerate(_take(obj.get("shape"), list, f"{where}/shape")):
            if isinstance(dim, bool) or not (dim is None or isinstance(dim, (int, str))):
                pointer = f"{where}/shape/{i}"
                raise ManifestError(f"{pointer}: expected int, string or null", pointer=pointer)
            dims.append(dim)
        return cls(
            name=_take(obj.get("name"), str, f"{where}/name"),
            shape=tuple(dims),
            type=_take(obj.get("type"), str, f"{where}/type"),
        )


@dataclass(frozen=True)
class IOPorts:
    """A model's inputs and outputs."""

    inputs: tuple[IOPort, ...] = ()
    outputs: tuple[IOPort, ...] = ()
    extra: tuple[tuple[str, JSONValue], ...] = ()

    def to_json(self) -> JSONObject:
        """The ports as ``{"inputs": [...], "outputs": [...]}`` (plus unknown keys kept)."""
        known: dict[str, JSONValue | None] = {
            "inputs": [p.to_json() for p in self.inputs],
            "outputs": [p.to_json() for p in self.outputs],
        }
        return _ordered(known, self.extra, ("inputs", "outputs"))

    @classmethod
    def from_json(cls, data: JSONValue, where: str = "io_ports") -> IOPorts:
        """Build from the JSON object; raises ManifestError on a wrong shape."""
        data = _take(data, dict, where)
        ports: dict[str, tuple[IOPort, ...]] = {}
        for key in ("inputs", "outputs"):
            items = _take(data.get(key, []), list, f"{where}/{key}")
            ports[key] = tuple(
                IOPort.from_json(p, f"{where}/{key}/{i}") for i, p in enumerate(items)
            )
        extra = tuple((k, v) for k, v in data.items() if k not in ("inputs", "outputs"))
        return cls(inputs=ports["inputs"], outputs=ports["outputs"], extra=extra)


@dataclass(frozen=True)
class Metadata:
    """An entry's ``metadata`` object.

    ``extra_ports`` is kept as raw JSON: zoos put feature tensors there in a
    shape no tool defines. ``extra`` holds unknown fields in their order, and
    ``key_order`` the order the keys were read in, so dumps are byte-identical.
    """

    model_sha: str | None = None
    model_bytes: int | None = None
    tags: tuple[str, ...] = ()
    io_ports: IOPorts | None = None
    extra_ports: JSONValue = None
    model_with_data_path: str | None = None
    model_with_data_sha: str | None = None
    model_with_data_bytes: int | None = None
    extra: tuple[tuple[str, JSONValue], ...] = ()
    key_order: tuple[str, ...] = METADATA_KEYS

    def get(self, key: str) -> JSONValue:
        """The value of an unknown (zoo-specific) field, or None."""
        return dict(self.extra).get(key)

    def to_json(self) -> JSONObject:
        """The metadata as a JSON object in the order it was read (canonical when new)."""
        known: dict[str, JSONValue | None] = {
            "model_sha": self.model_sha,
            "model_bytes": self.model_bytes,
            "tags": list(self.tags),
            "io_ports": self.io_ports.to_json() if self.io_ports is not None else None,
            "extra_ports": self.extra_ports,
            "model_with_data_path": self.model_with_data_path,
            "model_with_data_sha": self.model_with_data_sha,
            "model_with_data_bytes": self.model_with_data_bytes,
        }
        return _ordered(known, self.extra, self.key_order)

    @classmethod
    def from_json(cls, data: JSONValue, where: str = "metadata") -> Metadata:
        """Build from the JSON object; raises ManifestError on a wrong shape."""
        data = _take(data, dict, where)
        tags = _take(data.get("tags", []), list, f"{where}/tags")
        io_ports = data.get("io_ports")
        return cls(
            model_sha=_take_optional(data.get("model_sha"), str, f"{where}/model_sha"),
            model_bytes=_take_optional(data.get("model_bytes"), int, f"{where}/model_bytes"),
            tags=tuple(_take(t, str, f"{where}/tags/{i}") for i, t in enumerate(tags)),
            io_ports=None if io_ports is None else IOPorts.from_json(io_ports, f"{where}/io_ports"),
            extra_ports=data.get("extra_ports"),
            model_with_data_path=_take_optional(
                data.get("model_with_data_path"), str, f"{where}/model_with_data_path"
            ),
            model_with_data_sha=_take_optional(
                data.get("model_with_data_sha"), str, f"{where}/model_with_data_sha"
            ),
            model_with_data_bytes=_take_optional(
                data.get("model_with_data_bytes"), int, f"{where}/model_with_data_bytes"
            ),
            extra=tuple((k, v) for k, v in data.items() if k not in METADATA_KEYS),
            key_order=tuple(data),
        )


@dataclass(frozen=True)
class ModelEntry:
    """One model of the manifest."""

    model: str
    model_path: str
    onnx_version: str
    opset_version: int
    metadata: Metadata = field(default_factory=Metadata)
    extra: tuple[tuple[str, JSONValue], ...] = ()
    key_order: tuple[str, ...] = ENTRY_KEYS

    def to_json(self) -> JSONObject:
        """The entry as a JSON object in the order it was read (canonical when new)."""
        known: dict[str, JSONValue | None] = {
            "model": self.model,
            "model_path": self.model_path,
            "onnx_version": self.onnx_version,
            "opset_version": self.opset_version,
            "metadata": self.metadata.to_json(),
        }
        return _ordered(known, self.extra, self.key_order)

    @classmethod
    def from_json(cls, data: JSONValue, where: str = "") -> ModelEntry:
        """Build from the JSON object; raises ManifestError on a wrong shape."""
        data = _take(data, dict, where or "entry")
        return cls(
            model=_take(data.get("model"), str, f"{where}/model"),
            model_path=_take(data.get("model_path"), str, f"{where}/model_path"),
            onnx_version=_take(data.get("onnx_version"), str, f"{where}/onnx_version"),
            opset_version=_take(data.get("opset_version"), int, f"{where}/opset_version"),
            metadata=Metadata.from_json(data.get("metadata", {}), f"{where}/metadata"),
            extra=tuple((k, v) for k, v in data.items() if k not in ENTRY_KEYS),
            key_order=tuple(data),
        )


@dataclass(frozen=True)
class Manifest:
    """A whole manifest: its entries, in file order."""

    entries: tuple[ModelEntry, ...] = ()

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def sorted(self) -> Manifest:
        """The entries sorted by ``model_path``, as generators write them."""
        return Manifest(tuple(sorted(self.entries, key=lambda e: e.model_path)))

    def to_json(self) -> list[JSONValue]:
        """The manifest as a JSON array."""
        return [e.to_json() for e in self.entries]

    def dumps(self) -> str:
        """Serialize exactly as the official generator did: ``json.dumps(..., indent=4)``."""
        return json.dumps(self.to_json(), indent=4)

    @classmethod
    def from_json(cls, data: JSONValue) -> Manifest:
        """Build from a parsed JSON array; raises ManifestError when it is not one."""
        items = _take(data, list, "manifest")
        return cls(tuple(ModelEntry.from_json(e, f"/{i}") for i, e in enumerate(items)))

    @classmethod
    def from_entries(cls, entries: Iterable[ModelEntry]) -> Manifest:
        """A manifest of the given entries, in the given order."""
        return cls(tuple(entries))

    @classmethod
    def loads(cls, text: str, source: str = "<manifest>") -> Manifest:
        """Parse manifest text strictly (the one reader: duplicate keys and NaN
        are refused, not silently resolved). Raises ManifestError with
        ``source:line:col`` on invalid JSON, an oddity, or a wrong shape."""
        return cls._from_document(parse_json(text, source))

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """Read a manifest file strictly (see :meth:`loads`). Raises ManifestError
        when it cannot be read, is not UTF-8 JSON, or is not a manifest."""
        return cls._from_document(read_json_file(Path(path)))

    @classmethod
    def _from_document(cls, doc: JSONDocument) -> Manifest:
        try:
            return cls.from_json(doc.strict_data())
        except ManifestError as err:
            if str(err).startswith(doc.source):
                raise
            where = doc.source
            if err.pointer is not None:
                line, col = doc.locate(err.pointer)
                where = f"{where}:{line}:{col}"
            raise ManifestError(f"{where}: {err}", pointer=err.pointer) from err
