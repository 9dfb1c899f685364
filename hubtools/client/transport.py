"""HTTP(S) through requests, and ``file://``: sessions, timeouts, retries, the
speed rules and the deadline, and telling a body that is not the file asked
for (a Git LFS pointer, an HTML page, an over-quota notice) from the file.
With :mod:`hubtools.client.download` it is the only code that opens URLs; it
never writes files.

Every request has connect and read timeouts, and every download a
:class:`~hubtools.client.pacing.Pace` (a minimum speed, and a deadline when
one is set) that a watchdog thread enforces even while a read is blocked. Connection errors,
timeouts, too-slow attempts, 429 and 5xx answers are retried with
exponential backoff, honouring ``Retry-After``, within a budget of waiting
(:class:`~hubtools.client.pacing.Attempts`), and each retry is logged with its reason and wait; what
fails raises a :class:`~hubtools.errors.DownloadError` that says what
happened, which rule ended it, and what to do. Its class keeps the type
``onnx.hub`` raised: an HTTP error status is a ``urllib.error.HTTPError``
(:class:`~hubtools.errors.HTTPStatusError`), a body that is not the file an
``AssertionError`` (:class:`~hubtools.errors.WrongFileError`), no answer a
``urllib.error.URLError`` (:class:`~hubtools.errors.UnreachableError`).
"""

from __future__ import annotations

import email.utils
import functools
import http.client
import logging
import re
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubtools.client.config import Settings
from hubtools.client.pacing import ACTIVE, Attempts, Pace, Retryable
from hubtools.errors import (
    DownloadError,
    HTTPStatusError,
    NotServedError,
    UnreachableError,
    WrongContentError,
    WrongFileError,
)

if TYPE_CHECKING:
    import requests
    import requests.adapters

log = logging.getLogger(__name__)

CHUNK = 1 << 20
#: Largest manifest accepted, so a hostile server cannot fill memory.
MAX_TEXT_BYTES = 64 << 20
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/"
_QUOTA_MARKER = b"over its data quota"
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_USER_AGENT = "hubtools (+https://github.com/onnx/models)"


def body_errors() -> tuple[type[BaseException], ...]:
    """What reading a body raises when the connection fails (DownloadError
    excepted, though it is an OSError: the caller lets it through)."""
    import requests
    import urllib3

    return (
        urllib3.exceptions.HTTPError,
        requests.RequestException,
        http.client.HTTPException,
        OSError,
    )


def is_timeout(err: BaseException) -> bool:
    """True when ``err`` is a read that timed out (not the server cutting the body)."""
    import requests
    import urllib3

    return isinstance(
        err, (TimeoutError, urllib3.exceptions.TimeoutError, requests.exceptions.Timeout)
    )


def body_length(resp: requests.Response) -> int | None:
    """The body's length as sent (Content-Length without a content coding), if given."""
    length = resp.headers.get("Content-Length", "")
    if resp.headers.get("Content-Encoding", "").strip().lower() not in ("", "identity"):
        return None
    return int(length) if length.strip().isdigit() else None


def body_reader(resp: requests.Response) -> Callable[[memoryview], int]:
    """``readinto`` for the body of ``resp`` that makes at most one read from the
    socket, so that the caller sees bytes as they come (a slow body is written
    and checked as it arrives, not once a whole buffer is full).

    With no content coding and no chunks (hubtools asks for ``identity``)
    the body is read straight from http.client's buffered socket into the
    caller's buffer, skipping urllib3's per-read copies; otherwise through
    urllib3, which decodes it. Returns 0 at the end of the body.
    """
    raw = resp.raw
    fp = getattr(raw, "_fp", None)
    coding = resp.headers.get("Content-Encoding", "").strip().lower()
    sock_file = getattr(fp, "fp", None)
    if (
        isinstance(fp, http.client.HTTPResponse)
        and coding in ("", "identity")
        and not fp.chunked
        and hasattr(sock_file, "readinto1")
    ):
        assert sock_file is not None  # for the type checker: hasattr said so
        raw_file = sock_file.raw
        drained = False

        def direct(view: memoryview) -> int:
            # http.client.HTTPResponse.readinto's bookkeeping, reading straight from
            # the socket: one recv, where readinto waits until the buffer is full
            # (and BufferedReader.readinto1 too, when it holds a few bytes already).
            nonlocal drained
            length = fp.length
            if length is not None:
                if length <= 0:
                    return 0
                if len(view) > length:
                    view = view[:length]
            if drained:
                n: int = raw_file.readinto(view) or 0
            else:
                # What http.client read past the headers, or else one recv; then the
                # buffer stays empty and the socket is read directly.
                block = sock_file.read1(len(view))
                n = len(block)
                view[:n] = block
                drained = True
            if length is not None:
                fp.length = length - n
            return n

        return direct
    pending = bytearray()

    def decoded(view: memoryview) -> int:
        while not pending:
            block = raw.read1(len(view), decode_content=True)
            if not block:
                return 0
            pending.extend(block)
        n = min(len(view), len(pending))
        view[:n] = pending[:n]
        del pending[:n]
        return n

    return decoded


def new_session() -> requests.Session:
    """A requests session whose direct connections register with the running
    :class:`Pace`, so its watchdog can end a download stalled even before the
    body (a server dripping its headers)."""
    # Imported here so that `import hubtools` stays light.
    import requests

    session = requests.Session()
    session.headers["User-Agent"] = _USER_AGENT
    session.max_redirects = 10
    adapter = _watched_adapter()()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _watch_socket(sock: socket.socket | None) -> None:
    pace = ACTIVE.get()
    if pace is not None:
        pace.watch(sock)


@functools.cache
def _watched_adapter() -> type[requests.adapters.HTTPAdapter]:
    """An HTTPAdapter whose connections register their socket once connected.

    Through a proxy the pools are the proxy manager's own, so there the
    socket is watched from the start of the body (:meth:`Pace.body_started`).
    """
    import requests.adapters
    import urllib3
    import urllib3.connection

    class Connection(urllib3.connection.HTTPConnection):
        def connect(self) -> None:
            super().connect()
            _watch_socket(self.sock)

    class TLSConnection(urllib3.connection.HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            _watch_socket(self.sock)

    class Pool(urllib3.HTTPConnectionPool):
        ConnectionCls = Connection

    class TLSPool(urllib3.HTTPSConnectionPool):
        ConnectionCls = TLSConnection

    class Adapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": TLSPool}

    return Adapter


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


def _not_the_file(url: str, status: int, message: str) -> WrongContentError:
    """The error for a body that is not the file: NotServedError (an HTTPError)
    for an error status, WrongFileError (an AssertionError) for a success."""
    if status >= 400:
        return NotServedError(message, url, status)
    return WrongFileError(message)


def sniff(url: str, status: int, content_type: str, head: bytes) -> None:
    """Raise WrongContentError when ``head`` is clearly not a model: LFS pointer,
    HTML, quota (:func:`_not_the_file` says which subclass)."""
    if head.startswith(LFS_POINTER_PREFIX):
        raise _not_the_file(
            url,
            status,
            f"{url} returned a Git LFS pointer instead of the file: the repository no "
            "longer serves its Git LFS content (the ONNX Model Zoo on GitHub stopped in "
            "July 2025); add a mirror that serves the files (HUBTOOLS_MIRRORS or "
            "HUBTOOLS_GITHUB_MEDIA), or pass a local clone with the LFS content as the "
            "repository",
        )
    if _QUOTA_MARKER in head:
        raise _not_the_file(
            url,
            status,
            f"{url}: the repository is over its Git LFS data quota, so GitHub does not "
            "serve its files; try again later or add a mirror (HUBTOOLS_MIRRORS)",
        )
    start = head[:512].lstrip().lower()
    if "text/html" in content_type.lower() or start.startswith((b"<!doctype html", b"<html")):
        match = re.search(rb"<title[^>]*>(.*?)</title>", head, re.IGNORECASE | re.DOTALL)
        title = match.group(1).decode("utf-8", "replace").strip() if match else "no title"
        raise _not_the_file(
            url,
            status,
            f"{url} returned an HTML page (HTTP {status}, {title!r}) instead of the file; "
            "check the repository URL, or whether a proxy or login page is in the way",
        )


def _raise_for_status(resp: requests.Response, url: str, settings: Settings) -> None:
    status = resp.status_code
    if status < 400:
        return
    headers = tuple(resp.headers.items())
    reason = resp.reason or ""
    if status in _RETRY_STATUSES:
        wait = _retry_after(resp.headers.get("Retry-After"), settings)
        raise Retryable(f"HTTP {status}", wait, status=status, reason=reason, headers=headers)
    head = resp.raw.read(4096, decode_content=True) or b""
    if status == 404:
        raise NotServedError(
            f"{url}: HTTP 404 Not Found; check the repository, ref and model name, "
            "or whether a mirror (HUBTOOLS_MIRRORS, HUBTOOLS_GITHUB_RAW) is needed",
            url,
            status,
            reason,
            headers,
        )
    sniff(url, status, resp.headers.get("Content-Type", ""), head)
    raise HTTPStatusError(f"{url}: HTTP {status} {reason}", url, status, reason, headers)


def file_path(url: str) -> Path:
    parsed = urllib.parse.urlsplit(url)
    return Path(urllib.request.url2pathname(parsed.path))


def _caused_by(err: BaseException, *kinds: type[BaseException]) -> bool:
    """True when ``err`` is, wraps or was caused by one of ``kinds`` (requests and
    urllib3 nest the low-level error in ``reason`` or the first argument)."""
    import urllib3

    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, kinds):
            return True
        if isinstance(seen, urllib3.exceptions.MaxRetryError) and seen.reason is not None:
            seen = seen.reason
            continue
        nested = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = nested or seen.__cause__
    return False


@contextmanager
def open_http(
    session: requests.Session, url: str, settings: Settings, headers: dict[str, str]
) -> Iterator[requests.Response]:
    """One GET; maps requests' failures to Retryable or DownloadError."""
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
        import urllib3

        if _caused_by(err, urllib3.exceptions.NameResolutionError):
            # No DNS answer: no network, or a wrong host name. Waiting and retrying
            # rarely changes that.
            host = urllib.parse.urlsplit(url).hostname
            raise UnreachableError(
                f"{url}: cannot resolve the host {host} (no network, or a wrong host name); "
                "use only the cache with --offline or HUBTOOLS_OFFLINE=1"
            ) from err
        unreachable = isinstance(err, requests.ConnectTimeout) or _caused_by(
            err, urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError
        )
        raise Retryable(f"connection failed: {err}", unreachable=unreachable) from err
    except requests.RequestException as err:
        raise DownloadError(f"{url}: request failed: {err}") from err
    with resp:
        _raise_for_status(resp, url, settings)
        yield resp


def fetch_text(url: str, settings: Settings) -> str:
    """GET ``url`` (``http(s)://`` or ``file://``) and return its body as UTF-8 text.

    Raises :class:`~hubtools.errors.DownloadError`: NotServedError on a 404
    (naming the URL), HTTPStatusError for any other HTTP error after the
    retries, UnreachableError when no connection could be made, WrongFileError
    for a Git LFS pointer, and DownloadError for a body over 64 MiB or text
    that is not UTF-8.
    """
    if url.startswith("file:"):
        path = file_path(url)
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
    session = new_session()
    with session, Pace(url, settings) as pace:
        attempts = Attempts(url, settings, pace)
        while True:
            pace.check()
            try:
                with open_http(session, url, settings, {}) as resp:
                    body = _read_body(resp, url, pace)
                    if body.startswith(LFS_POINTER_PREFIX) or _QUOTA_MARKER in body[:4096]:
                        sniff(url, resp.status_code, "", bytes(body[:4096]))
                    return bytes(body)
            except Retryable as err:
                attempts.failed(err)  # a manifest is fetched whole again: nothing to resume


def _read_body(resp: requests.Response, url: str, pace: Pace) -> bytearray:
    """The whole body of ``resp`` (at most 64 MiB). Raises Retryable when it is cut short."""
    readinto = body_reader(resp)
    pace.body_started(resp)
    body = bytearray()
    block = bytearray(CHUNK)
    try:
        with memoryview(block) as view:
            while n := readinto(view):
                body += view[:n]
                pace.got += n
                if len(body) > MAX_TEXT_BYTES:
                    raise DownloadError(f"{url}: body larger than 64 MiB")
                if pace.fired:
                    break
    except body_errors() as err:
        if isinstance(err, DownloadError):
            raise
        raise Retryable(f"body cut short: {err}", cut=not is_timeout(err)) from err
    length = body_length(resp)
    if pace.fired or (length is not None and len(body) < length):
        raise Retryable(f"body cut short after {len(body)} bytes", cut=True)
    return body
