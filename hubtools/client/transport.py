"""HTTP(S) through requests, and ``file://``: sessions, timeouts, retries, the
speed rules and the deadline, and telling a body that is not the file asked
for (a Git LFS pointer, an HTML page, an over-quota notice) from the file.
With :mod:`hubtools.client.download` it is the only code that opens URLs; it
never writes files.

Every request has connect and read timeouts, and every download a
:class:`Pace` (a minimum speed, and a deadline when one is set) that a
watchdog thread enforces even while a read is blocked. Connection errors,
timeouts, too-slow attempts, 429 and 5xx answers are retried with
exponential backoff, honouring ``Retry-After``, within a budget of waiting
(:class:`Attempts`), and each retry is logged with its reason and wait; what
fails raises a :class:`~hubtools.errors.DownloadError` that says what
happened, which rule ended it, and what to do. Its class keeps the type
``onnx.hub`` raised: an HTTP error status is a ``urllib.error.HTTPError``
(:class:`~hubtools.errors.HTTPStatusError`), a body that is not the file an
``AssertionError`` (:class:`~hubtools.errors.WrongFileError`), no answer a
``urllib.error.URLError`` (:class:`~hubtools.errors.UnreachableError`).
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import functools
import http.client
import logging
import re
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubtools.client.config import Settings
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


#: What waits between attempts; tests replace it to count the waits instead of waiting.
_sleep = time.sleep


class Retryable(Exception):
    """A failure worth another attempt: ``wait`` is a server-requested delay,
    ``cut`` says the server ended the body early (rather than a timeout, a
    speed rule or an error status); ``status``, ``reason`` and ``headers`` are
    the HTTP error answer's, ``unreachable`` says no connection was made."""

    def __init__(
        self,
        message: str,
        wait: float | None = None,
        *,
        cut: bool = False,
        status: int | None = None,
        reason: str = "",
        headers: tuple[tuple[str, str], ...] = (),
        unreachable: bool = False,
    ) -> None:
        super().__init__(message)
        self.wait = wait
        self.cut = cut
        self.status = status
        self.reason = reason
        self.headers = headers
        self.unreachable = unreachable

    def final(self, url: str, message: str) -> DownloadError:
        """The error to raise when this failure is the last: an HTTPStatusError for
        an error status, an UnreachableError when no connection was made.
        Raises nothing."""
        if self.status is not None:
            return HTTPStatusError(message, url, self.status, self.reason, self.headers)
        if self.unreachable:
            return UnreachableError(message)
        return DownloadError(message)


#: The Pace of the download running in this thread, for connections to register with.
_active: contextvars.ContextVar[Pace | None] = contextvars.ContextVar("hubtools_pace", default=None)


class Pace:
    """The speed rules and the deadline of one download from one source
    (``HUBTOOLS_MIN_SPEED``, ``HUBTOOLS_MIN_SPEED_TIME``, ``HUBTOOLS_DEADLINE``;
    see :mod:`hubtools.client.config`), kept by a watchdog thread.

    A read timeout alone cannot end a download that drips, since every byte
    restarts it. So the receiving loop adds what arrives to :attr:`got`, and a
    watchdog wakes a few times a second: when a rule fires it keeps the error
    (:meth:`take` hands it over) and shuts the connection down, so a read
    blocked on a silent or dripping server returns at once. :attr:`ticks`
    counts its wake-ups, which tells the loop when to hand over a partly
    filled buffer. Use it as a context manager around the whole download.
    """

    def __init__(self, url: str, settings: Settings, *, kept: str = "") -> None:
        self.url = url
        self.min_speed = settings.min_speed
        self.window = settings.min_speed_time
        self.deadline = settings.deadline
        self.kept = f"; {kept}" if kept else ""
        #: Bytes received from the network by this download, every attempt counted.
        self.got = 0
        self.ticks = 0
        self._fired: DownloadError | Retryable | None = None
        self._start = time.monotonic()
        self._window: tuple[float, int] | None = None  # (start, got then) of the body being read
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        periods = [1.0, self.window / 10 if self.min_speed else 1.0]
        periods.append(self.deadline / 10 if self.deadline else 1.0)
        self._period = max(0.005, min(periods))
        self._thread = threading.Thread(target=self._watch, name="hubtools-pace", daemon=True)
        self._token: contextvars.Token[Pace | None] | None = None

    def __enter__(self) -> Pace:
        self._token = _active.set(self)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._token is not None:
            _active.reset(self._token)

    @property
    def fired(self) -> bool:
        """True when a rule ended the current attempt (or the whole download)."""
        return self._fired is not None

    def watch(self, sock: socket.socket | None) -> None:
        """Shut ``sock`` down when a rule fires during this attempt."""
        if sock is not None:
            with self._lock:
                if all(s is not sock for s in self._sockets):
                    self._sockets.append(sock)

    def body_started(self, resp: requests.Response) -> None:
        """The body of an answer begins: the low-speed window starts now."""
        connection = getattr(resp.raw, "connection", None)
        self.watch(getattr(connection, "sock", None))
        with self._lock:
            self._window = (time.monotonic(), self.got)

    def take(self) -> DownloadError | Retryable | None:
        """The error of the rule that fired, if any; ends the attempt's watch.

        A too-slow attempt is handed over once (the next attempt starts
        afresh); a deadline stays, so every later call returns it.
        """
        with self._lock:
            fired = self._fired
            if not isinstance(fired, DownloadError):
                self._fired = None
            self._window = None
            self._sockets.clear()
        return fired

    def check(self) -> None:
        """Raise the deadline's DownloadError when it has passed."""
        if isinstance(self._fired, DownloadError):
            raise self._fired

    def before_wait(self, delay: float, err: Retryable) -> None:
        """Raise DownloadError (of the class :meth:`Retryable.final` gives) when an
        attempt after ``delay`` seconds would start past the deadline or past what
        the speed rules allow."""
        after = time.monotonic() - self._start + delay
        problem = self._overdue(after)
        if problem:
            raise err.final(
                self.url,
                f"{self.url}: {err}; the next attempt would start after {after:.1f} s, "
                f"{problem}{self.kept}",
            ) from err

    def _overdue(self, elapsed: float) -> str | None:
        """Which limit ``elapsed`` seconds since the start pass, in words; None when none."""
        if self.deadline and elapsed > self.deadline:
            return (
                f"past the deadline of {self.deadline:g} s "
                "(HUBTOOLS_DEADLINE; raise it, or 0 for none)"
            )
        if self.min_speed:
            allowed = 2 * self.window + self.got / self.min_speed
            if elapsed > allowed:
                return (
                    f"past the {allowed:.1f} s the speed rules allow for {self.got} bytes "
                    f"({2 * self.window:g} s, plus 1 s per {self.min_speed:g} bytes received: "
                    "HUBTOOLS_MIN_SPEED_TIME, HUBTOOLS_MIN_SPEED; on a slow network lower "
                    "HUBTOOLS_MIN_SPEED, 0 turns the rules off)"
                )
        return None

    def _rule(self, now: float) -> DownloadError | Retryable | None:
        """The error of the first rule that fires at ``now``, if any."""
        elapsed = now - self._start
        problem = self._overdue(elapsed)
        if problem:
            return DownloadError(f"{self.url}: stopped after {elapsed:.1f} s, {problem}{self.kept}")
        if not self.min_speed or self._window is None:
            return None
        start, got_then = self._window
        if now - start < self.window:
            return None
        got = self.got - got_then
        if got < self.min_speed * (now - start):
            return Retryable(
                f"too slow: {got} bytes in {now - start:.1f} s, under the "
                f"{self.min_speed:g} bytes/s asked over {self.window:g} s "
                "(HUBTOOLS_MIN_SPEED, HUBTOOLS_MIN_SPEED_TIME)"
            )
        self._window = (now, self.got)
        return None

    def _watch(self) -> None:
        while not self._stop.wait(self._period):
            self.ticks += 1
            with self._lock:
                if self._fired is not None:
                    continue
                self._fired = self._rule(time.monotonic())
                if self._fired is None:
                    continue
                for sock in self._sockets:
                    # The base class's shutdown: for TLS, no closing handshake with a
                    # server that is stalling anyway; a blocked read returns at once.
                    with contextlib.suppress(OSError):
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Attempts:
    """The retry policy of one download from one source.

    Failures (a connection refused, HTTP 429 or 5xx, a read timeout, an
    attempt the speed rules found too slow) use up ``HUBTOOLS_RETRIES`` and
    wait with exponential backoff from ``HUBTOOLS_BACKOFF``, or as long as
    ``Retry-After`` asks (at most a minute); the waits together stay within
    ``HUBTOOLS_RETRY_BUDGET`` seconds, so that a source that does not answer
    is given up quickly, saying why. A body the server cut short after new
    bytes arrived is resumed at once without using a retry, as wget does.
    The :class:`Pace` bounds it all. Each retry is logged as a warning with
    its reason and wait.
    """

    def __init__(self, url: str, settings: Settings, pace: Pace, *, kept: str = "") -> None:
        self.url = url
        self.settings = settings
        self.pace = pace
        self.kept = f" ({kept})" if kept else ""
        self.failures = 0
        self.resumes = 0
        #: Seconds waited between attempts so far.
        self.waited = 0.0

    def failed(self, err: Retryable, *, progressed: bool = False) -> None:
        """Count ``err`` and wait before the next attempt.

        ``progressed`` says the attempt brought bytes not had before. Raises
        :class:`~hubtools.errors.DownloadError` when a rule of the pace fired
        for good, when the retries are used up, or when the wait would end
        past what the pace or the retry budget allows: an HTTPStatusError
        when the last failure was an HTTP error status, an UnreachableError
        when no connection could be made.
        """
        fired = self.pace.take()
        if isinstance(fired, DownloadError):
            raise fired from err
        if fired is not None:
            err = fired
        if err.cut and progressed:
            self.resumes += 1
            log.info("%s: %s; resuming (resume %d)", self.url, err, self.resumes)
            return
        self.failures += 1
        resumed = f" and {self.resumes} resumes after cuts" if self.resumes else ""
        if self.failures > self.settings.retries:
            raise err.final(
                self.url,
                f"{self.url}: {err}; gave up after {self.failures} attempts{resumed} "
                f"(HUBTOOLS_RETRIES={self.settings.retries}){self.kept}",
            ) from err
        asked = err.wait is not None
        delay = err.wait
        if delay is None:
            delay = min(self.settings.backoff * 2 ** (self.failures - 1), self.settings.max_wait)
        self.pace.before_wait(delay, err)
        budget = self.settings.retry_budget
        if self.waited + delay > budget + 1e-9:
            why = f"a wait of {delay:g} s"
            if asked:
                why = f"the wait of {delay:g} s the server asks (Retry-After)"
            raise err.final(
                self.url,
                f"{self.url}: {err}; gave up after {self.failures} attempts{resumed}: {why} "
                f"would pass the retry budget of {budget:g} s (HUBTOOLS_RETRY_BUDGET; "
                f"{self.waited:g} s waited so far); retry later, or raise the budget{self.kept}",
            ) from err
        log.warning(
            "%s: %s; retry %d/%d in %.2f s%s",
            self.url,
            err,
            self.failures,
            self.settings.retries,
            delay,
            " (Retry-After)" if asked else "",
        )
        self.waited += delay
        _sleep(delay)


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
    pace = _active.get()
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
