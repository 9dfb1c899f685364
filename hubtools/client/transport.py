"""The only module that opens URLs: HTTP(S) through requests, and ``file://``.

Every request has connect and read timeouts. Connection errors, timeouts,
429 and 5xx answers are retried with exponential backoff, honouring
``Retry-After``; a body cut short is resumed with ``Range`` when the server
supports it (else fetched again from the start). Bodies that are not the file
asked for (a Git LFS pointer, an HTML page, an over-quota notice) raise a
:class:`~hubtools.errors.DownloadError` that says what happened and what to do.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import logging
import queue
import re
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from hubtools.client.config import Settings
from hubtools.errors import DownloadError, WrongContentError

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

CHUNK = 1 << 20
#: Size and number of the buffers a download cycles through: the socket fills
#: one while worker threads write and hash the ones before, so peak memory is
#: fixed (a few MiB) whatever the file size.
BUFFER = 1 << 20
BUFFERS = 6
#: Largest manifest accepted, so a hostile server cannot fill memory.
MAX_TEXT_BYTES = 64 << 20
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/"
_QUOTA_MARKER = b"over its data quota"
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_USER_AGENT = "hubtools (+https://github.com/onnx/models)"


@dataclass(frozen=True)
class Fetched:
    """What :func:`download_to` wrote: total size and sha256 of the whole file."""

    size: int
    sha256: str


class _Retryable(Exception):
    """A failure worth another attempt; ``wait`` is a server-requested delay."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


def _session() -> requests.Session:
    # Imported here so that `import hubtools` stays light.
    import requests

    session = requests.Session()
    session.headers["User-Agent"] = _USER_AGENT
    session.max_redirects = 10
    return session


def _retry_after(value: str | None, settings: Settings) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), settings.max_wait)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when.timestamp() - time.time(), settings.max_wait))


def _sleep_before(attempt: int, err: _Retryable, settings: Settings, url: str) -> None:
    delay = err.wait
    if delay is None:
        delay = min(settings.backoff * 2 ** (attempt - 1), settings.max_wait)
    log.info("%s: %s; retry %d/%d in %.1fs", url, err, attempt, settings.retries, delay)
    time.sleep(delay)


def _sniff(url: str, status: int, content_type: str, head: bytes) -> None:
    """Raise DownloadError when ``head`` is clearly not a model: LFS pointer, HTML, quota."""
    if head.startswith(LFS_POINTER_PREFIX):
        raise WrongContentError(
            f"{url} returned a Git LFS pointer instead of the file: the repository no "
            "longer serves its Git LFS content (the ONNX Model Zoo on GitHub stopped in "
            "July 2025); add a mirror that serves the files (HUBTOOLS_MIRRORS or "
            "HUBTOOLS_GITHUB_MEDIA), or pass a local clone with the LFS content as the "
            "repository"
        )
    if _QUOTA_MARKER in head:
        raise WrongContentError(
            f"{url}: the repository is over its Git LFS data quota, so GitHub does not "
            "serve its files; try again later or add a mirror (HUBTOOLS_MIRRORS)"
        )
    start = head[:512].lstrip().lower()
    if "text/html" in content_type.lower() or start.startswith((b"<!doctype html", b"<html")):
        match = re.search(rb"<title[^>]*>(.*?)</title>", head, re.IGNORECASE | re.DOTALL)
        title = match.group(1).decode("utf-8", "replace").strip() if match else "no title"
        raise WrongContentError(
            f"{url} returned an HTML page (HTTP {status}, {title!r}) instead of the file; "
            "check the repository URL, or whether a proxy or login page is in the way"
        )


def _raise_for_status(resp: requests.Response, url: str, settings: Settings) -> None:
    status = resp.status_code
    if status < 400:
        return
    if status in _RETRY_STATUSES:
        raise _Retryable(f"HTTP {status}", _retry_after(resp.headers.get("Retry-After"), settings))
    head = resp.raw.read(4096, decode_content=True) or b""
    if status == 404:
        raise WrongContentError(
            f"{url}: HTTP 404 Not Found; check the repository, ref and model name, "
            "or whether a mirror (HUBTOOLS_MIRRORS, HUBTOOLS_GITHUB_RAW) is needed"
        )
    _sniff(url, status, resp.headers.get("Content-Type", ""), head)
    raise DownloadError(f"{url}: HTTP {status} {resp.reason}")


def _file_path(url: str) -> Path:
    parsed = urllib.parse.urlsplit(url)
    return Path(urllib.request.url2pathname(parsed.path))


def _unresolvable(err: BaseException) -> bool:
    """True when a connection failed because the host name has no address."""
    import urllib3

    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, urllib3.exceptions.NameResolutionError):
            return True
        if isinstance(seen, urllib3.exceptions.MaxRetryError) and seen.reason is not None:
            seen = seen.reason
            continue
        nested = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = nested or seen.__cause__
    return False


@contextmanager
def _open_http(
    session: requests.Session, url: str, settings: Settings, headers: dict[str, str]
) -> Iterator[requests.Response]:
    """One GET; maps requests' failures to _Retryable or DownloadError."""
    import requests

    try:
        resp = session.get(
            url,
            stream=True,
            headers=headers,
            timeout=(settings.connect_timeout, settings.read_timeout),
        )
    except requests.TooManyRedirects as err:
        last = err.response.url if err.response is not None else url
        raise DownloadError(
            f"{url}: too many redirects (more than {session.max_redirects}; a redirect loop?), "
            f"the last to {last}; check the repository or mirror URL"
        ) from err
    except (requests.ConnectionError, requests.Timeout) as err:
        if _unresolvable(err):
            # No DNS answer: no network, or a wrong host name. Waiting and retrying
            # (half a minute with the default backoff) rarely changes that.
            host = urllib.parse.urlsplit(url).hostname
            raise DownloadError(
                f"{url}: cannot resolve the host {host} (no network, or a wrong host name); "
                "set HUBTOOLS_OFFLINE=1 to use only the cache"
            ) from err
        raise _Retryable(f"connection failed: {err}") from err
    except requests.RequestException as err:
        raise DownloadError(f"{url}: request failed: {err}") from err
    with resp:
        _raise_for_status(resp, url, settings)
        yield resp


def fetch_text(url: str, settings: Settings) -> str:
    """GET ``url`` (``http(s)://`` or ``file://``) and return its body as UTF-8 text.

    Raises :class:`~hubtools.errors.DownloadError` on a 404 (naming the URL),
    any other HTTP error after the retries, a body over 64 MiB, or text that is
    not UTF-8.
    """
    if url.startswith("file:"):
        path = _file_path(url)
        try:
            data = path.read_bytes()
        except OSError as err:
            raise DownloadError(f"{path}: cannot read: {err.strerror or err}") from err
    else:
        data = _fetch_bytes(url, settings)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DownloadError(f"{url}: not UTF-8 text: {err}") from err


def _fetch_bytes(url: str, settings: Settings) -> bytes:
    import requests

    session = _session()
    attempt = 0
    with session:
        while True:
            try:
                with _open_http(session, url, settings, {}) as resp:
                    body = bytearray()
                    try:
                        for chunk in resp.iter_content(CHUNK):
                            body += chunk
                            if len(body) > MAX_TEXT_BYTES:
                                raise DownloadError(f"{url}: body larger than 64 MiB")
                    except (requests.ConnectionError, requests.Timeout) as err:
                        raise _Retryable(f"body cut short: {err}") from err
                    except requests.exceptions.ChunkedEncodingError as err:
                        raise _Retryable(f"body cut short: {err}") from err
                    if body.startswith(LFS_POINTER_PREFIX) or _QUOTA_MARKER in body[:4096]:
                        _sniff(url, resp.status_code, "", bytes(body[:4096]))
                    return bytes(body)
            except _Retryable as err:
                attempt += 1
                if attempt > settings.retries:
                    raise DownloadError(f"{url}: {err}; gave up after {attempt} attempts") from err
                _sleep_before(attempt, err, settings, url)


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
        return _copy_file(_file_path(url), part, desc, settings)
    session = _session()
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
                    with _open_http(session, url, settings, headers) as resp:
                        if offset and resp.status_code != 206:
                            log.info("%s: server ignored Range, starting over", url)
                            sink.wait()
                            sink.h = _hash_existing(f, 0)
                            offset = 0
                            bar.reset(expected_size)  # type: ignore[attr-defined]
                        offset = _receive(resp, url, sink, offset, expected_size, bar)
                    break
                except _Retryable as err:
                    sink.wait()
                    offset = f.seek(0, 2)  # what arrived before the cut is kept
                    attempt += 1
                    if attempt > settings.retries:
                        raise DownloadError(
                            f"{url}: {err}; gave up after {attempt} attempts "
                            "(what arrived is kept; the next try resumes from it)"
                        ) from err
                    _sleep_before(attempt, err, settings, url)
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

    Raises _Retryable when the body is cut short, WrongContentError when it
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
                        _sniff(url, resp.status_code, content_type, bytes(view[: min(n, 4096)]))
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
        raise _Retryable(f"body cut short after byte {offset}: {err}") from err
    if length is not None and received < length:
        raise _Retryable(f"body cut short after byte {offset} ({received} of {length} bytes)")
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
            _sniff(src.as_uri(), 200, "", head)
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
