"""File facts of an ONNX model: sha256, size, IR version, opset imports, io_ports, external data.

:func:`inspect_file` and :func:`inspect_archive` read a model (or the one
model in a ``.tar.gz``/``.zip``) once, sequentially, with the streaming reader
of :mod:`hubtools.inspect.wire`, and report its :class:`FileFacts`, with
io_ports from :mod:`hubtools.inspect.ioports`. Without hashing, weights are
seeked over instead of read. It must not write files, extract archives to
disk, open external data files, or import onnxruntime.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

import onnx

from hubtools.core.files import LFS_POINTER_MAX_BYTES, _open, parse_lfs_pointer
from hubtools.core.manifest import IOPorts, JSONObject, JSONValue
from hubtools.core.paths import unsafe_reason
from hubtools.errors import FileReadError, InvalidModelError, UnsafeArchiveError
from hubtools.inspect.ioports import io_ports_of
from hubtools.inspect.wire import Invalid, Reader, read_model

__all__ = [
    "FileFacts",
    "default_opset",
    "inspect_archive",
    "inspect_file",
    "io_ports_of",
    "model_header",
]

log = logging.getLogger(__name__)

_DEFAULT_DOMAINS = ("", "ai.onnx")
#: Memory that inferring a graph's output types may take. Shape inference needs
#: about this many bytes per serialized byte of the graph without its weights
#: (measured: 300,000 nodes, 7.6 MB, peaked at 575 MB), so a graph whose
#: estimate passes the bound keeps its declared output types, with a problem.
MAX_INFERENCE_MEMORY = 1 << 30
_INFERENCE_BYTES_PER_GRAPH_BYTE = 80
_M = TypeVar("_M")


@dataclass(frozen=True)
class FileFacts:
    """What :func:`inspect_file` found out about one file.

    ``model_sha`` is None when hashing was not asked for (a Git LFS pointer
    always gives it). For a pointer, the ONNX facts are unknown: ``ir_version``,
    ``opset_version`` and ``io_ports`` are None. ``external_data`` lists the
    files, relative to the model's folder, that its tensors are stored in;
    ``problems`` says what is wrong with a model that is otherwise readable.
    """

    path: Path
    model_sha: str | None
    model_bytes: int
    lfs_pointer: bool
    ir_version: int | None
    opset_import: tuple[tuple[str, int], ...]
    opset_version: int | None
    io_ports: IOPorts | None
    external_data: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    def to_json(self) -> JSONObject:
        """The facts as the JSON object ``hubtools inspect --json`` prints."""
        opsets: list[JSONValue] = [{"domain": d, "version": v} for d, v in self.opset_import]
        return {
            "model_sha": self.model_sha,
            "model_bytes": self.model_bytes,
            "opset_version": self.opset_version,
            "io_ports": None if self.io_ports is None else self.io_ports.to_json(),
            "ir_version": self.ir_version,
            "opset_import": opsets,
            "lfs_pointer": self.lfs_pointer,
            "external_data": list(self.external_data),
            "problems": list(self.problems),
        }


# ---- external data -------------------------------------------------------


def _graph_tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    yield from _node_tensors(graph.node)


def _node_tensors(nodes: Iterable[onnx.NodeProto]) -> Iterator[onnx.TensorProto]:
    for node in nodes:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            for sparse in (
                *([attr.sparse_tensor] if attr.HasField("sparse_tensor") else []),
                *attr.sparse_tensors,
            ):
                yield sparse.values
                yield sparse.indices
            if attr.HasField("g"):
                yield from _graph_tensors(attr.g)
            for sub in attr.graphs:
                yield from _graph_tensors(sub)


def _model_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    yield from _graph_tensors(model.graph)
    for function in model.functions:
        yield from _node_tensors(function.node)


def _external_data(model: onnx.ModelProto) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The external files ``model`` refers to, and problems with their locations."""
    files: dict[str, None] = {}
    problems: dict[str, None] = {}
    for tensor in _model_tensors(model):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        entries = {e.key: e.value for e in tensor.external_data}
        location = entries.get("location")
        if not location:
            problems[f"tensor {tensor.name!r} has external data without a location"] = None
            continue
        files[location] = None
        if unsafe_reason(location, strict=False) is not None:
            problems[
                f"external data location {location!r} of tensor {tensor.name!r} "
                "escapes the model's folder"
            ] = None
    return tuple(files), tuple(problems)


def default_opset(opset_import: tuple[tuple[str, int], ...]) -> int | None:
    """The version of the default domain (``""`` or ``"ai.onnx"``), or None when not imported."""
    for domain, version in opset_import:
        if domain in _DEFAULT_DOMAINS:
            return version
    return None


# ---- inspect -------------------------------------------------------------


def inspect_file(
    path: Path, *, hash: bool = True, max_memory: int = MAX_INFERENCE_MEMORY
) -> FileFacts:
    """The facts of one model file, read in one sequential pass.

    ``hash=False`` skips sha256 (``model_sha`` is None) and seeks over weights
    instead of reading them. A Git LFS pointer gives its ``oid`` and ``size``
    and unknown ONNX facts. External data files are never opened.

    Raises:
        InvalidModelError: the content is not an ONNX model; the message says
            why and at which byte.
        FileReadError: the file cannot be opened or read (also an ``OSError``).
    """
    path = Path(path)
    hasher = hashlib.sha256() if hash else None
    with _open(path) as handle:
        size = _size(handle, path)
        reader = Reader(handle, path, size, hasher)
        head = reader.head(LFS_POINTER_MAX_BYTES + 1)
        pointer = parse_lfs_pointer(head) if len(head) <= LFS_POINTER_MAX_BYTES else None
        if pointer is not None:
            log.debug("%s: Git LFS pointer to %s", path, pointer.oid)
            return FileFacts(
                path=path,
                model_sha=pointer.oid,
                model_bytes=pointer.size,
                lfs_pointer=True,
                ir_version=None,
                opset_import=(),
                opset_version=None,
                io_ports=None,
            )
        model = _read_model_or_raise(reader, path)
        reader.finish()
    return _facts(
        path,
        model,
        model_sha=hasher.hexdigest() if hasher is not None else None,
        model_bytes=reader.read_bytes if hasher is not None else size,
        max_memory=max_memory,
    )


def _size(handle: BinaryIO, path: Path) -> int:
    try:
        return os.fstat(handle.fileno()).st_size
    except OSError as err:
        raise FileReadError(f"{path}: cannot read: {err.strerror or err}") from err


def model_header(path: Path) -> onnx.ModelProto:
    """The ModelProto of ``path`` without its weights (graph, ports, opsets and
    small constants), read in one pass that seeks over the weights, so memory
    follows the graph's size, not the model's.

    Raises:
        InvalidModelError: the content is not an ONNX model.
        FileReadError: the file cannot be opened or read (also an ``OSError``).
    """
    path = Path(path)
    with _open(path) as handle:
        return _read_model_or_raise(Reader(handle, path, _size(handle, path), None), path)


def _read_model_or_raise(reader: Reader, path: Path, where: str = "") -> onnx.ModelProto:
    try:
        return read_model(reader, path)
    except Invalid as err:
        raise InvalidModelError(
            f"{path}{where}: not a valid ONNX model: {err.reason} at byte {err.offset}"
        ) from None


def _facts(
    path: Path,
    model: onnx.ModelProto,
    *,
    model_sha: str | None,
    model_bytes: int,
    max_memory: int = MAX_INFERENCE_MEMORY,
) -> FileFacts:
    opset_import = tuple((o.domain, o.version) for o in model.opset_import)
    external, problems = _external_data(model)
    graph_bytes = model.ByteSize()
    needed = graph_bytes * _INFERENCE_BYTES_PER_GRAPH_BYTE
    infer = needed <= max_memory
    if not infer:
        problems += (
            f"the graph is {graph_bytes / 1e6:.1f} MB without its weights: inferring its "
            f"output types would take about {needed / 1e9:.1f} GB, over the "
            f"{max_memory / 2**20:.0f} MiB bound, so io_ports outputs are the declared ones",
        )
    return FileFacts(
        path=path,
        model_sha=model_sha,
        model_bytes=model_bytes,
        lfs_pointer=False,
        ir_version=model.ir_version,
        opset_import=opset_import,
        opset_version=default_opset(opset_import),
        io_ports=io_ports_of(model, infer=infer),
        external_data=external,
        problems=problems,
    )


def inspect_archive(path: Path, archive: str, *, hash: bool = True) -> FileFacts:
    """The facts of a ``.tar.gz`` or ``.zip`` that holds one ``.onnx`` model and
    its external data (the zoo's new-layout archives): sha256 and size are the
    archive's, the ONNX facts the model member's (read without extracting
    anything to disk; external data files are never read).

    A Git LFS pointer gives its ``oid`` and ``size`` and unknown ONNX facts.
    Any other file is first judged by the client's extraction policy
    (:func:`~hubtools.core.archives.check_archive`), so an archive the client
    would refuse is refused here too.

    Raises:
        InvalidModelError: not such an archive, an archive the extraction
            policy refuses (the error's ``__cause__`` is then the
            :class:`~hubtools.errors.UnsafeArchiveError`), no or several
            ``.onnx`` members, or the member is not an ONNX model.
        FileReadError: the file cannot be read (also an ``OSError``).
    """
    import tarfile
    import zipfile

    from hubtools.core.archives import check_archive
    from hubtools.core.files import digest

    path = Path(path)
    found = digest(path) if hash else None
    if found is not None and found.lfs_pointer:
        return FileFacts(path, found.sha256, found.size, True, None, (), None, None)
    try:
        check_archive(path, source=str(path))
    except UnsafeArchiveError as err:
        raise InvalidModelError(str(err)) from err
    size = found.size if found is not None else path.stat().st_size
    sha = found.sha256 if found is not None else None
    try:
        if archive == "zip":
            with zipfile.ZipFile(path) as zipped:
                names = [i for i in zipped.infolist() if i.filename.endswith(".onnx")]
                member = _single(names, path, [i.filename for i in names])
                with zipped.open(member) as handle:
                    reader = Reader(handle, path, member.file_size, None)  # type: ignore[arg-type]
                    model = _read_model_or_raise(reader, path, f"!{member.filename}")
        else:
            with tarfile.open(path, "r:*") as tar:
                members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".onnx")]
                entry = _single(members, path, [m.name for m in members])
                extracted = tar.extractfile(entry)
                assert extracted is not None  # a regular file member always has one
                with extracted:
                    reader = Reader(extracted, path, entry.size, None)  # type: ignore[arg-type]
                    model = _read_model_or_raise(reader, path, f"!{entry.name}")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as err:
        if isinstance(err, FileReadError):
            raise
        raise InvalidModelError(f"{path}: not a readable {archive} archive: {err}") from err
    return _facts(path, model, model_sha=sha, model_bytes=size)


def _single(members: list[_M], path: Path, names: list[str]) -> _M:
    if len(members) != 1:
        what = (
            "no .onnx file" if not members else f"{len(members)} .onnx files ({', '.join(names)})"
        )
        raise InvalidModelError(f"{path}: the archive holds {what}; it must hold exactly one")
    return members[0]
