"""Streaming a file of a repository to disk: the receiving thread fills buffers
from a fixed pool while two worker threads write and hash them, a body cut
short is resumed with ``Range`` (or fetched again when the server ignores it),
and the size and sha256 of what arrived are returned for the caller to judge.
It never renames anything into place: the cache does that once it is verified.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import queue
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from hubtools.client.config import Settings
from hubtools.client.transport import (
    CHUNK,
    Retryable,
    file_path,
    new_session,
    open_http,
    sleep_before,
    sniff,
)
from hubtools.errors import DownloadError, WrongContentError

if TYPE_CHECKING:
    import requests

__all__ = ["Fetched", "download_to"]

log = logging.getLogger(__name__)

#: Size and number of the buffers a download cycles through: the socket fills
#: one while worker threads write and hash the ones before, so peak memory is
#: fixed (a few MiB) whatever the file size.
BUFFER = 1 << 20
BUFFERS = 6


@dataclass(frozen=True)
class Fetched:
    """What :func:`download_to` wrote: total size and sha256 of the whole file."""

    size: int
    sha256: str


class _Sink:
    """Writes buffers to the file and hashes them on two worker threads.

    The calling thread only receives: it fills a buffer from a fixed pool,
    hands it over, and takes the next free one. File writes and hashlib both
    release the GIL on large buffers, so receiving, writing and hashing
    overlap (the work ``curl | tee | openssl dgst`` spreads over three
    processes), and peak memory is the pool, whatever the file size.
    """

    def __init__(self, f: BinaryIO, h: hashlib._Hash) -> None:
        self.f = f
        self.h = h
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        for _ in range(BUFFERS):
            self._free.put(bytearray(BUFFER))
        self._refs: dict[int, int] = {}
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._queues: list[queue.Queue[tuple[bytearray, int] | None]] = []
        self._threads = []
        for name, work in (("write", self._write), ("sha256", self._hash)):
            q: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
            thread = threading.Thread(
                target=self._run, args=(q, work), name=f"hubtools-{name}", daemon=True
            )
            self._queues.append(q)
            self._threads.append(thread)
            thread.start()

    def _write(self, view: memoryview) -> None:
        self.f.write(view)

    def _hash(self, view: memoryview) -> None:
        self.h.update(view)

    def _run(
        self,
        q: queue.Queue[tuple[bytearray, int] | None],
        work: Callable[[memoryview], None],
    ) -> None:
        while True:
            item = q.get()
            try:
                if item is None:
                    return
                buf, n = item
                if self._error is None:
                    try:
                        with memoryview(buf) as view:
                            work(view[:n])
                    except BaseException as err:  # a write error (disk full) stops the download
                        self._error = err
                self._release(buf)
            finally:
                q.task_done()

    def _release(self, buf: bytearray) -> None:
        with self._lock:
            left = self._refs.pop(id(buf)) - 1
            if left:
                self._refs[id(buf)] = left
                return
        self._free.put(buf)

    def buffer(self) -> bytearray:
        """A free buffer (waits while all of them are being written or hashed)."""
        return self._free.get()

    def give_back(self, buf: bytearray) -> None:
        """Return a buffer that was not submitted."""
        self._free.put(buf)

    def submit(self, buf: bytearray, n: int) -> None:
        """Append the first ``n`` bytes of ``buf`` to the file and the hash.

        Raises the error a worker met (such as OSError for a full disk).
        """
        self.check()
        with self._lock:
            self._refs[id(buf)] = len(self._queues)
        for q in self._queues:
            q.put((buf, n))

    @property
    def error(self) -> BaseException | None:
        """The error a worker met (such as OSError for a full disk), if any."""
        return self._error

    def check(self) -> None:
        """Raise the error a worker met, if any."""
        if self._error is not None:
            raise self._error

    def wait(self) -> hashlib._Hash:
        """The hash object once every submitted buffer is written and hashed.

        Raises the error a worker met.
        """
        for q in self._queues:
            q.join()
        self.check()
        return self.h

    def close(self) -> None:
        for q in self._queues:
            q.put(None)
        for thread in self._threads:
            thread.join()


def _reader(resp: requests.Response) -> Callable[[memoryview], int]:
    """``readinto`` for the body of ``resp``, as raw as possible.

    With no content coding (hubtools asks for ``identity``) the body is read
    straight from http.client into our buffer, skipping urllib3's per-read
    copies; otherwise through urllib3, which decodes it.
    """
    raw = resp.raw
    fp = getattr(raw, "_fp", None)
    coding = resp.headers.get("Content-Encoding", "").strip().lower()
    if isinstance(fp, http.client.HTTPResponse) and coding in ("", "identity"):
        return fp.readinto
    pending = bytearray()

    def readinto(view: memoryview) -> int:
        while not pending:
            block = raw.read(len(view), decode_content=True)
            if not block:
                return 0
            pending.extend(block)
        n = min(len(view), len(pending))
        view[:n] = pending[:n]
        del pending[:n]
        return n

    return readinto


def _declared_total(resp: requests.Response) -> int | None:
    """The whole file's size as the answer gives it (Content-Length, or a 206's Content-Range)."""
    if resp.status_code == 206:
        match = re.search(r"/(\d+)\s*$", resp.headers.get("Content-Range", ""))
        return int(match.group(1)) if match else None
    length = resp.headers.get("Content-Length", "")
    return int(length) if length.strip().isdigit() else None


def _body_length(resp: requests.Response) -> int | None:
    length = resp.headers.get("Content-Length", "")
    if resp.headers.get("Content-Encoding", "").strip().lower() not in ("", "identity"):
        return None
    return int(length) if length.strip().isdigit() else None


def _progress(total: int | None, initial: int, desc: str, settings: Settings) -> object:
    from tqdm import tqdm

    enabled = settings.progress and sys.stderr.isatty()
    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=sys.stderr,
        disable=not enabled,
        leave=False,
    )


def _hash_existing(f: BinaryIO, size: int) -> hashlib._Hash:
    """sha256 of the first ``size`` bytes already in ``f``, read in chunks."""
    h = hashlib.sha256()
    f.seek(0)
    left = size
    while left:
        block = f.read(min(CHUNK, left))
        if not block:
            break
        h.update(block)
        left -= len(block)
    # Truncate only when there is something past ``size``: on ext4 a truncate
    # (even of an empty file) makes close() allocate and flush every delayed
    # block written since (auto_da_alloc), 0.2 s for 512 MiB.
    if f.seek(0, 2) > size:
        f.truncate(size)
    f.seek(size)
    return h


def download_to(
    url: str,
    part: Path,
    settings: Settings,
    *,
    expected_size: int | None = None,
    desc: str = "",
) -> Fetched:
    """Stream ``url`` into the file ``part``, appending to the bytes it already holds.

    Bytes already in ``part`` are kept and the rest is asked for with a
    ``Range`` header; a server that ignores it makes the download start over.
    Redirects are followed (at most 10; the sha256 is of what the last one
    served). Returns the size and sha256 of the whole file; the caller compares
    them with what it expects (this function does not rename anything).

    Raises :class:`~hubtools.errors.WrongContentError` on a 404 (with the URL),
    an LFS pointer, HTML page or over-quota body, or a size other than
    ``expected_size`` (announced or sent), before writing any of it when it
    can tell; :class:`~hubtools.errors.DownloadError` on a redirect loop,
    another HTTP error, or when the retries run out (``part`` then keeps what
    arrived, for a later resume).
    """
    if url.startswith("file:"):
        return _copy_file(file_path(url), part, desc, settings)
    session = new_session()
    attempt = 0
    with session, part.open("a+b") as f:
        offset = f.seek(0, 2)
        sink = _Sink(f, _hash_existing(f, offset))
        bar = _progress(expected_size, offset, desc, settings)
        try:
            while True:
                if expected_size is not None and offset == expected_size:
                    break
                headers = {"Accept-Encoding": "identity"}
                if offset:
                    headers["Range"] = f"bytes={offset}-"
                try:
                    with open_http(session, url, settings, headers) as resp:
                        if offset and resp.status_code != 206:
                            log.info("%s: server ignored Range, starting over", url)
                            sink.wait()
                            sink.h = _hash_existing(f, 0)
                            offset = 0
                            bar.reset(expected_size)  # type: ignore[attr-defined]
                        offset = _receive(resp, url, sink, offset, expected_size, bar)
                    break
                except Retryable as err:
                    sink.wait()
                    offset = f.seek(0, 2)  # what arrived before the cut is kept
                    attempt += 1
                    if attempt > settings.retries:
                        raise DownloadError(
                            f"{url}: {err}; gave up after {attempt} attempts "
                            "(what arrived is kept; the next try resumes from it)"
                        ) from err
                    sleep_before(attempt, err, settings, url)
            h = sink.wait()
        finally:
            sink.close()
            bar.close()  # type: ignore[attr-defined]
        f.flush()
    return Fetched(size=offset, sha256=h.hexdigest())


def _receive(
    resp: requests.Response,
    url: str,
    sink: _Sink,
    offset: int,
    expected_size: int | None,
    bar: object,
) -> int:
    """Hand the body of ``resp`` to ``sink`` (file at ``offset``, and hash); the new offset.

    Raises Retryable when the body is cut short, WrongContentError when it
    is not the file or has the wrong size.
    """
    import requests
    import urllib3

    readinto = _reader(resp)
    length = _body_length(resp)
    received = 0
    first = offset == 0
    try:
        while True:
            buf = sink.buffer()
            try:
                with memoryview(buf) as view:
                    n = readinto(view)
                    if first and n:
                        first = False
                        content_type = resp.headers.get("Content-Type", "")
                        sniff(url, resp.status_code, content_type, bytes(view[: min(n, 4096)]))
                        total = _declared_total(resp)
                        if None not in (total, expected_size) and total != expected_size:
                            raise WrongContentError(
                                f"{url}: the server offers {total} bytes, the manifest says "
                                f"{expected_size}; it serves a different file"
                            )
                    if not n:
                        sink.give_back(buf)
                        break
                    if expected_size is not None and offset + n > expected_size:
                        raise WrongContentError(
                            f"{url}: the server sent more than the "
                            f"{expected_size} bytes the manifest gives"
                        )
            except BaseException:
                sink.give_back(buf)
                raise
            sink.submit(buf, n)
            offset += n
            received += n
            bar.update(n)  # type: ignore[attr-defined]
    except (
        urllib3.exceptions.HTTPError,
        requests.RequestException,
        http.client.HTTPException,
        OSError,
    ) as err:
        if isinstance(err, DownloadError) or err is sink.error:
            raise  # not the network: the body is wrong, or the file cannot be written
        raise Retryable(f"body cut short after byte {offset}: {err}") from err
    if length is not None and received < length:
        raise Retryable(f"body cut short after byte {offset} ({received} of {length} bytes)")
    if expected_size is not None and offset < expected_size:
        raise WrongContentError(
            f"{url}: the server sent {offset} bytes, the manifest says {expected_size}; "
            "it serves a different file"
        )
    return offset


def _copy_file(src: Path, part: Path, desc: str, settings: Settings) -> Fetched:
    """Copy a local file into ``part`` (from its start) while hashing it."""
    h = hashlib.sha256()
    size = 0
    try:
        with src.open("rb") as fin, part.open("wb") as fout:
            head = fin.read(4096)
            sniff(src.as_uri(), 200, "", head)
            fin.seek(0)
            while block := fin.read(CHUNK):
                fout.write(block)
                h.update(block)
                size += len(block)
    except FileNotFoundError as err:
        raise DownloadError(f"{src}: no such file in the repository") from err
    except OSError as err:
        raise DownloadError(f"{src}: cannot copy: {err.strerror or err}") from err
    log.debug("copied %s (%d bytes) for %s", src, size, desc)
    return Fetched(size=size, sha256=h.hexdigest())
