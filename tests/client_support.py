"""Test support for the client: tiny real ONNX models, fixture repositories, and a
real HTTP server on 127.0.0.1 with switchable faults.

The server maps GitHub's layouts onto one loopback port::

    /raw/<owner>/<name>/<ref>/<path>     like raw.githubusercontent.com
    /media/<owner>/<name>/<ref>/<path>   like media.githubusercontent.com/media

so ``HUBTOOLS_GITHUB_RAW=<url>/raw`` and ``HUBTOOLS_GITHUB_MEDIA=<url>/media``
point the client at it; ``<url>/raw/<owner>/<name>/<ref>`` is also a plain
http(s) base URL.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import socket
import struct
import tarfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO_ROOT = Path(__file__).resolve().parents[1]
LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {size}\n"


def tiny_model_bytes(opset: int = 13, name: str = "tiny", scale: float = 1.0) -> bytes:
    """A real two-node model (Add then Relu) of ``opset``, serialized."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    bias = numpy_helper.from_array(np.full((1, 4), scale, dtype=np.float32), "bias")
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "bias"], ["t"]), helper.make_node("Relu", ["t"], ["y"])],
        name,
        [x],
        [y],
        initializer=[bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    data: bytes = model.SerializeToString()
    return data


def make_test_data_tarball(model: bytes, top: str = "tiny") -> bytes:
    """A ``.tar.gz`` with ``<top>/model.onnx`` and ``<top>/test_data_set_0/{input,output}_0.pb``."""
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    files = {
        f"{top}/model.onnx": model,
        f"{top}/test_data_set_0/input_0.pb": numpy_helper.from_array(x, "x").SerializeToString(),
        f"{top}/test_data_set_0/output_0.pb": numpy_helper.from_array(
            np.maximum(x + 1, 0), "y"
        ).SerializeToString(),
    }
    return make_tar(files, dirs=[top, f"{top}/test_data_set_0"])


def make_tar(
    files: dict[str, bytes],
    dirs: list[str] = (),  # type: ignore[assignment]
    extra: list[tarfile.TarInfo] = (),  # type: ignore[assignment]
) -> bytes:
    """A gzip tarball of ``files``, folders ``dirs`` and hand-made members ``extra``;
    the same arguments give the same bytes (no time in the gzip header)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return gzip.compress(buf.getvalue(), mtime=0)


def data_bundle(tag: bytes) -> bytes:
    """A test-data bundle as a hub holds one: a ``.tar.gz`` whose one member,
    ``test_data_set_0/input_0.pb``, holds ``tag`` (distinct tags, distinct sha256)."""
    return make_tar({"test_data_set_0/input_0.pb": tag})


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class FixtureModel:
    """One model of a fixture repository, with its bytes."""

    name: str
    opset: int
    model_path: str
    data: bytes
    tags: list[str] = field(default_factory=lambda: ["vision", "classification"])
    tar_path: str | None = None
    tar_data: bytes | None = None
    #: ``tar.gz`` or ``zip`` when ``data`` is an archive holding the model (``model_archive``).
    archive: str | None = None

    @property
    def sha(self) -> str:
        return sha256(self.data)

    def entry(self) -> dict[str, object]:
        metadata: dict[str, object] = {
            "model_sha": self.sha,
            "model_bytes": len(self.data),
            "tags": self.tags,
            "io_ports": {
                "inputs": [{"name": "x", "shape": [1, 4], "type": "tensor(float)"}],
                "outputs": [{"name": "y", "shape": [1, 4], "type": "tensor(float)"}],
            },
        }
        if self.tar_path and self.tar_data is not None:
            metadata["model_with_data_path"] = self.tar_path
            metadata["model_with_data_sha"] = sha256(self.tar_data)
            metadata["model_with_data_bytes"] = len(self.tar_data)
        if self.archive:
            metadata["model_archive"] = self.archive
        return {
            "model": self.name,
            "model_path": self.model_path,
            "onnx_version": "1.14",
            "opset_version": self.opset,
            "metadata": metadata,
        }


def default_models() -> list[FixtureModel]:
    """MNIST at opsets 8 and 12 (with test data), and a tiny ResNet at 13."""
    out = []
    for opset, scale in ((8, 1.0), (12, 2.0)):
        data = tiny_model_bytes(opset, "mnist", scale)
        base = f"validated/vision/classification/mnist/model/mnist-{opset}"
        out.append(
            FixtureModel(
                "MNIST",
                opset,
                f"{base}.onnx",
                data,
                tags=["vision", "classification", "mnist"],
                tar_path=f"{base}.tar.gz",
                tar_data=make_test_data_tarball(data, f"mnist-{opset}"),
            )
        )
    data = tiny_model_bytes(13, "resnet", 3.0)
    out.append(
        FixtureModel(
            "ResNet18",
            13,
            "validated/vision/classification/resnet/model/resnet18-v1-13.onnx",
            data,
            tags=["vision", "classification", "resnet"],
        )
    )
    return out


def build_repo(
    root: Path, models: list[FixtureModel] | None = None, entries: list[object] | None = None
) -> list[FixtureModel]:
    """Write ``models`` and their manifest (or the raw ``entries``) under ``root``."""
    models = default_models() if models is None else models
    for m in models:
        (root / m.model_path).parent.mkdir(parents=True, exist_ok=True)
        (root / m.model_path).write_bytes(m.data)
        if m.tar_path and m.tar_data is not None:
            (root / m.tar_path).write_bytes(m.tar_data)
    manifest = entries if entries is not None else [m.entry() for m in models]
    root.mkdir(parents=True, exist_ok=True)
    (root / "ONNX_HUB_MANIFEST.json").write_text(json.dumps(manifest, indent=4))
    return models


@dataclass
class Fault:
    """What the server does wrong for one path (or all: path ``*``).

    ``kind``: ``404``, ``500`` (then OK), ``429`` (with ``retry_after``, then
    OK), ``truncate`` (half the body, then OK), ``wrong_bytes``, ``slow``
    (``delay`` seconds before each 1 KiB, then OK), ``lfs_pointer``, ``html``,
    ``quota``, ``redirect_loop``; and the hostile ones: ``drip`` (``after``
    bytes at once, then one byte every ``delay`` seconds), ``drip_headers``
    (the status line and headers one byte every ``delay`` seconds), ``cut``
    (``after`` bytes of the body, then the connection closed), ``reset``
    (``after`` bytes, then a TCP reset), ``stall`` (``after`` bytes, then
    nothing until the client hangs up). ``times`` is how many requests it
    hits (-1 for all).
    """

    kind: str
    times: int = 1
    retry_after: str | None = None
    delay: float = 0.0
    after: int = 0


#: Every kind of :class:`Fault`, for runs that try them all.
FAULT_KINDS = (
    "404",
    "500",
    "429",
    "truncate",
    "wrong_bytes",
    "slow",
    "lfs_pointer",
    "html",
    "quota",
    "redirect_loop",
    "drip",
    "drip_headers",
    "cut",
    "reset",
    "stall",
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up mid-body (the truncation and stall tests do it on
        # purpose) is not a server error; anything else still prints.
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class HubServer:
    """A loopback server over repositories, counting requests, with faults and Range switch."""

    def __init__(self) -> None:
        self.repos: dict[tuple[str, str, str], Path] = {}
        self.faults: dict[str, Fault] = {}
        self.range_enabled = True
        self.stopping = threading.Event()
        self.hits: Counter[str] = Counter()
        self.ranges: list[str] = []
        self.lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), self._handler())
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def add_repo(self, owner: str, name: str, ref: str, root: Path) -> None:
        self.repos[(owner, name, ref)] = root

    def fault(self, path: str, fault: Fault) -> None:
        """Apply ``fault`` to requests whose URL path ends with ``path``."""
        self.faults[path] = fault

    def media_hits(self, model_path: str) -> int:
        return sum(
            n for p, n in self.hits.items() if p.startswith("/media/") and p.endswith(model_path)
        )

    def start(self) -> HubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # ends dripping and stalled answers
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def _take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for key, fault in list(self.faults.items()):
                if key == "*" or path.endswith(key):
                    if fault.times == 0:
                        continue
                    if fault.times > 0:
                        fault.times -= 1
                    return fault
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _send(
                self, status: int, body: bytes, ctype: str = "text/plain", **hdr: str
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in hdr.items():
                    self.send_header(k.replace("_", "-"), v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = urllib.parse.unquote(self.path.split("?", 1)[0])
                with server.lock:
                    server.hits[path] += 1
                parts = path.split("/", 5)
                if len(parts) < 6 or parts[1] not in ("raw", "media"):
                    return self._send(404, b"404: Not Found")
                _, _, owner, name, ref, rel = parts
                root = server.repos.get((owner, name, ref))
                file = (root / rel) if root is not None else None
                if file is None or not file.is_file():
                    return self._send(404, b"404: Not Found")
                data = file.read_bytes()
                fault = server._take_fault(path)
                kind = fault.kind if fault else ""
                if kind == "404":
                    return self._send(404, b"404: Not Found")
                if kind == "500":
                    return self._send(500, b"Internal Server Error")
                if kind == "429":
                    return self._send(429, b"slow down", Retry_After=fault.retry_after or "0")  # type: ignore[union-attr]
                if kind == "redirect_loop":
                    self.send_response(302)
                    self.send_header("Location", path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if kind == "lfs_pointer":
                    body = LFS_POINTER.format(sha=sha256(data), size=len(data)).encode()
                    return self._send(200, body)
                if kind == "html":
                    return self._send(
                        200,
                        b"<!DOCTYPE html><html><head><title>Sign in</title></head></html>",
                        "text/html",
                    )
                if kind == "quota":
                    return self._send(
                        403,
                        b"This repository is over its data quota. Account responsible for "
                        b"LFS bandwidth should purchase more data packs to restore access.",
                    )
                if kind == "wrong_bytes":
                    data = bytes(b ^ 0xFF for b in data)
                if kind == "drip_headers":
                    return self._drip_headers(data, fault.delay)  # type: ignore[union-attr]
                start = 0
                rng = self.headers.get("Range")
                if rng and server.range_enabled and rng.startswith("bytes="):
                    server.ranges.append(rng)
                    start = int(rng[6:].split("-")[0])
                    if start >= len(data):
                        return self._send(416, b"", Content_Range=f"bytes */{len(data)}")
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if kind == "truncate":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return None
                if kind == "slow":
                    for i in range(0, len(body), 1024):
                        time.sleep(fault.delay)  # type: ignore[union-attr]
                        self.wfile.write(body[i : i + 1024])
                        self.wfile.flush()
                    return None
                if kind in ("drip", "cut", "reset", "stall"):
                    return self._misbehave(kind, body, fault)  # type: ignore[arg-type]
                self.wfile.write(body)
                return None

            def _misbehave(self, kind: str, body: bytes, fault: Fault) -> None:
                """Send ``fault.after`` bytes of ``body``, then do what ``kind`` says."""
                self.wfile.write(body[: fault.after])
                self.wfile.flush()
                self.close_connection = True
                if kind == "reset":
                    # SO_LINGER with a zero timeout: close() sends RST, not FIN.
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                elif kind == "stall":
                    server.stopping.wait(60)
                elif kind == "drip":
                    for i in range(fault.after, len(body)):
                        if server.stopping.wait(fault.delay):
                            return
                        self.wfile.write(body[i : i + 1])
                        self.wfile.flush()

            def _drip_headers(self, data: bytes, delay: float) -> None:
                head = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n"
                ).encode()
                self.close_connection = True
                for i in range(len(head)):
                    if server.stopping.wait(delay):
                        return
                    self.wfile.write(head[i : i + 1])
                    self.wfile.flush()
                self.wfile.write(data)

        return Handler


@contextmanager
def running_server() -> Iterator[HubServer]:
    """A started :class:`HubServer`, stopped on exit."""
    server = HubServer().start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Zoo:
    """A fixture zoo served over loopback as the GitHub repository ``acme/zoo:main``."""

    server: HubServer
    root: Path
    models: list[FixtureModel]
    cache: Path
    repo: str = "acme/zoo:main"

    def model(self, name: str, opset: int) -> FixtureModel:
        return next(m for m in self.models if m.name == name and m.opset == opset)

    @property
    def base_url(self) -> str:
        """The same repository as an http(s) base URL."""
        return f"{self.server.url}/raw/acme/zoo/main"

    def env(self) -> dict[str, str]:
        """Environment for a subprocess that should see this zoo and cache."""
        return {
            "HUBTOOLS_GITHUB_RAW": f"{self.server.url}/raw",
            "HUBTOOLS_GITHUB_MEDIA": f"{self.server.url}/media",
            "HUBTOOLS_TRUSTED_REPOS": "acme/zoo",
            "HUBTOOLS_BACKOFF": "0.01",
            "HUBTOOLS_NO_PROGRESS": "1",
            "ONNX_HOME": str(self.cache.parent),
        }


@contextmanager
def serve_zoo(tmp_path: Path, monkeypatch: object) -> Iterator[Zoo]:
    """Build the default zoo in ``tmp_path``, serve it, and point the client's env at it."""
    root = tmp_path / "zoo"
    models = build_repo(root)
    with running_server() as server:
        server.add_repo("acme", "zoo", "main", root)
        zoo = Zoo(server, root, models, tmp_path / "onnx_home" / "hub")
        for key, value in zoo.env().items():
            monkeypatch.setenv(key, value)  # type: ignore[attr-defined]
        yield zoo


class MirrorServer:
    """A loopback server playing the Hugging Face mirror of a repository.

    ``/<prefix>/<model_path>`` answers ``302`` to ``<cdn>/cdn/<model_path>``
    (``cdn`` defaults to this server, so the redirect stays on it; give
    another server's URL to redirect across hosts), and ``/cdn/<model_path>``
    serves the bytes of ``root / model_path``. Switches: ``wrong_bytes``
    (flip every byte), ``html`` (a login page instead of the file),
    ``redirect_loop`` (the resolve URL redirects to itself), ``missing``
    (404 for every file).
    """

    PREFIX = "/onnxmodelzoo/legacy_models/resolve/main"

    def __init__(self, root: Path, cdn: str | None = None) -> None:
        self.root = root
        self.cdn = cdn
        self.wrong_bytes = False
        self.html = False
        self.redirect_loop = False
        self.missing = False
        self.hits: Counter[str] = Counter()
        self._httpd = _Server(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> MirrorServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str, **hdr: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in hdr.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                mirror.hits[path] += 1
                if path.startswith(mirror.PREFIX + "/"):
                    rel = path[len(mirror.PREFIX) + 1 :]
                    if mirror.missing or not (mirror.root / rel).is_file():
                        return self._send(404, b"Entry not found", "text/plain")
                    target = path if mirror.redirect_loop else f"{mirror.cdn or ''}/cdn/{rel}"
                    return self._send(302, b"", "text/plain", Location=target)
                if path.startswith("/cdn/"):
                    file = mirror.root / path[len("/cdn/") :]
                    if not file.is_file():
                        return self._send(404, b"Not found", "text/plain")
                    if mirror.html:
                        page = b"<!doctype html><html><head><title>Log in</title></head></html>"
                        return self._send(200, page, "text/html")
                    data = file.read_bytes()
                    if mirror.wrong_bytes:
                        data = bytes(b ^ 0xFF for b in data)
                    return self._send(200, data, "application/octet-stream")
                return self._send(404, b"Not found", "text/plain")

        return Handler


def external_data_model(folder: Path, name: str = "model.onnx") -> tuple[Path, bytes]:
    """Save a real model whose weights are external data (``weights.bin``) in ``folder``.

    Returns the ``.onnx`` path and the weights' bytes (as the initializer holds them).
    """
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])
    weights = np.arange(64, dtype=np.float32).reshape(1, 64)
    bias = numpy_helper.from_array(weights, "bias")
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "bias"], ["y"])], "ext", [x], [y], initializer=[bias]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save_model(
        model,
        str(folder / name),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    return folder / name, weights.tobytes()


def pack(folder: Path, kind: str) -> bytes:
    """``folder``'s files (paths relative to its parent, so a subfolder) as tar.gz or zip."""
    import zipfile

    files = {
        str(p.relative_to(folder.parent)).replace("\\", "/"): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
    if kind == "tar.gz":
        return make_tar(files, dirs=[folder.name])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def dead_url() -> str:
    """A loopback URL whose port no longer listens: every connection is refused."""
    with running_server() as gone:
        return gone.url


#: The one file of the bare repository ``o/r:main`` the transport tests fetch.
BLOB = bytes(range(256)) * 64  # 16 KiB
BLOB_PATH = "models/blob.onnx"


@contextmanager
def serve_blob(root: Path) -> Iterator[HubServer]:
    """Serve a repository ``o/r:main`` (built in ``root``) holding :data:`BLOB` at
    :data:`BLOB_PATH` and an empty manifest."""
    (root / BLOB_PATH).parent.mkdir(parents=True)
    (root / BLOB_PATH).write_bytes(BLOB)
    (root / "ONNX_HUB_MANIFEST.json").write_text("[]")
    with running_server() as server:
        server.add_repo("o", "r", "main", root)
        yield server


@dataclass
class Person:
    """A trust prompt with someone behind it who gives ``answer`` (the injected seam)."""

    answer: bool
    asked: list[str] = field(default_factory=list)

    def available(self) -> bool:
        return True

    def ask(self, message: str) -> bool:
        self.asked.append(message)
        return self.answer


@dataclass
class Nobody:
    """A trust prompt with no one to ask (a job, a pipe)."""

    def available(self) -> bool:
        return False

    def ask(self, message: str) -> bool:  # pragma: no cover - never asked
        raise AssertionError(message)
