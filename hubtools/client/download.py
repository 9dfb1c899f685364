"""Streaming a file of a repository to disk: the receiving thread fills buffers
from a fixed pool while two worker threads write and hash them, a body cut
short is resumed with ``Range`` (or fetched again when the server ignores it),
and the size and sha256 of what arrived are returned for the caller to judge.
It never renames anything into place: the cache does that once it is verified.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from hubtools.client.config import Settings
from hubtools.client.pacing import Attempts, Pace, Retryable
from hubtools.client.transport import (
    CHUNK,
    body_errors,
    body_length,
    body_reader,
    file_path,
    is_timeout,
    new_session,
    open_http,
    sniff,
)
from hubtools.errors import DownloadError, WrongSizeError

if TYPE_CHECKING:
    import requests

__all__ = ["Fetched", "download_to"]

log = logging.getLogger(__name__)

#: Size and number of the buffers a download cycles through: the socket fills
#: one while worker threads write and hash the ones before, so peak memory is
#: fixed (a few MiB) whatever the file size.
BUFFER = 1 << 20
BUFFERS = 6
#: Bytes at the start of a file looked at to tell a model from a page or a pointer.
SNIFF = 4096
_KEPT = "what arrived is kept; the next try resumes from it"


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


def _declared_total(resp: requests.Response) -> int | None:
    """The whole file's size as the answer gives it (Content-Length, or a 206's Content-Range)."""
    if resp.status_code == 206:
        match = re.search(r"/(\d+)\s*$", resp.headers.get("Content-Range", ""))
        return int(match.group(1)) if match else None
    length = resp.headers.get("Content-Length", "")
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


def _open_part(part: Path, *, append: bool) -> BinaryIO:
    """Open ``part`` to append to it (or emptied), refusing a symlink: a link
    planted in a shared cache must not make a download write outside it.
    Raises OSError."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(part, flags | (os.O_APPEND if append else os.O_TRUNC), 0o666)
    return open(fd, "a+b" if append else "w+b")


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
    served). Failed attempts are retried and bodies cut short resumed as
    :class:`~hubtools.client.pacing.Attempts` says, within the speed rules
    and deadline of a :class:`~hubtools.client.pacing.Pace`. Returns the
    size and sha256 of the whole file; the caller compares them with what it
    expects (this function does not rename anything).

    Raises :class:`~hubtools.errors.WrongContentError` on a 404 (NotServedError,
    with the URL), an LFS pointer, HTML page or over-quota body
    (WrongFileError, or NotServedError with an error status), or a size
    other than ``expected_size``, announced or sent (WrongSizeError), before
    writing any of it when it can tell; :class:`~hubtools.errors.DownloadError`
    on a redirect loop, another HTTP error (HTTPStatusError), when the
    retries run out or a speed rule or the deadline ends the download,
    saying which (``part`` then keeps what arrived, for a later resume);
    OSError when ``part`` cannot be written.
    """
    if url.startswith("file:"):
        return _copy_file(file_path(url), part, desc, settings)
    with (
        new_session() as session,
        _open_part(part, append=True) as f,
        Pace(url, settings, kept=_KEPT) as pace,
    ):
        offset = f.seek(0, 2)
        if expected_size is not None and offset > expected_size:
            offset = 0  # longer than the file, so not a beginning of it
        sink = _Sink(f, _hash_existing(f, offset))
        bar = _progress(expected_size, offset, desc, settings)
        attempts = Attempts(url, settings, pace, kept=_KEPT)
        best = offset
        try:
            while expected_size is None or offset != expected_size:
                pace.check()
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
                        offset = _receive(resp, url, sink, offset, expected_size, bar, pace)
                    break
                except Retryable as err:
                    sink.wait()
                    offset = f.seek(0, 2)  # what arrived before the cut is kept
                    attempts.failed(err, progressed=offset > best)
                    best = max(best, offset)
            h = sink.wait()
        finally:
            sink.close()
            bar.close()  # type: ignore[attr-defined]
        f.flush()
    return Fetched(size=offset, sha256=h.hexdigest())


def _fill(
    view: memoryview, readinto: Callable[[memoryview], int], pace: Pace, at_least: int
) -> tuple[int, bool, BaseException | None]:
    """Read into ``view`` until it is full, the body ends, or the pace ticks with
    at least ``at_least`` bytes in: ``(bytes read, ended, connection error)``."""
    filled = 0
    ticks = pace.ticks
    try:
        while filled < len(view):
            n = readinto(view[filled:])
            if not n:
                return filled, True, None
            filled += n
            pace.got += n
            if pace.ticks != ticks:
                # Once a tick: a slow body is written as it comes, and the loop
                # stops here when a rule fired but its socket could not be shut.
                if pace.fired:
                    return filled, True, None
                if filled >= at_least:
                    break
    except body_errors() as err:
        if isinstance(err, DownloadError):
            raise
        return filled, True, err
    return filled, False, None


def _check_start(resp: requests.Response, url: str, head: bytes, expected_size: int | None) -> None:
    """Raise WrongContentError when the first bytes of the file, or the size the
    answer gives (WrongSizeError), say that it is not the file."""
    sniff(url, resp.status_code, resp.headers.get("Content-Type", ""), head)
    total = _declared_total(resp)
    if None not in (total, expected_size) and total != expected_size:
        raise WrongSizeError(
            f"{url}: the server offers {total} bytes, the manifest says "
            f"{expected_size}; it serves a different file"
        )


def _receive(
    resp: requests.Response,
    url: str,
    sink: _Sink,
    offset: int,
    expected_size: int | None,
    bar: object,
    pace: Pace,
) -> int:
    """Hand the body of ``resp`` to ``sink`` (file at ``offset``, and hash) as it
    arrives; the new offset.

    Raises Retryable when the body is cut short or a speed rule fired,
    WrongContentError when it is not the file (WrongSizeError: the wrong size).
    """
    readinto = body_reader(resp)
    length = body_length(resp)
    pace.body_started(resp)
    start = offset
    head = offset == 0  # the file's first bytes are looked at before any is kept
    ended, failure = False, None
    while not ended:
        buf = sink.buffer()
        try:
            with memoryview(buf) as view:
                filled, ended, failure = _fill(view, readinto, pace, SNIFF if head else 1)
            if head and filled:
                head = False
                _check_start(resp, url, bytes(buf[: min(filled, SNIFF)]), expected_size)
            if expected_size is not None and offset + filled > expected_size:
                raise WrongSizeError(
                    f"{url}: the server sent more than the {expected_size} bytes the manifest gives"
                )
        except BaseException:
            sink.give_back(buf)
            raise
        if not filled:
            sink.give_back(buf)
            continue
        sink.submit(buf, filled)
        offset += filled
        bar.update(filled)  # type: ignore[attr-defined]
    received = offset - start
    if failure is not None:
        raise Retryable(
            f"body cut short after byte {offset}: {failure}", cut=not is_timeout(failure)
        ) from failure
    if pace.fired:
        raise Retryable(f"stopped after byte {offset}")  # Attempts takes the rule's own error
    if length is not None and received < length:
        raise Retryable(
            f"body cut short after byte {offset} ({received} of {length} bytes)", cut=True
        )
    if expected_size is not None and offset < expected_size:
        raise WrongSizeError(
            f"{url}: the server sent {offset} bytes, the manifest says {expected_size}; "
            "it serves a different file"
        )
    return offset


def _copy_file(src: Path, part: Path, desc: str, settings: Settings) -> Fetched:
    """Copy a local file into ``part`` (from its start) while hashing it."""
    h = hashlib.sha256()
    size = 0
    try:
        with src.open("rb") as fin, _open_part(part, append=False) as fout:
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
