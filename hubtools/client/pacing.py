"""When a download gives up: the speed rules and the deadline of one download
from one source (:class:`Pace`, enforced by a watchdog thread that shuts a
blocked socket), and the budget of retries and waits (:class:`Attempts`),
each retry logged with its reason and wait. It opens no URL itself."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import socket
import threading
import time
from typing import TYPE_CHECKING

from hubtools.client.config import Settings
from hubtools.errors import (
    DownloadError,
    HTTPStatusError,
    UnreachableError,
)

if TYPE_CHECKING:
    import requests
    import requests.adapters

log = logging.getLogger(__name__)


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
ACTIVE: contextvars.ContextVar[Pace | None] = contextvars.ContextVar("hubtools_pace", default=None)


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
        self._token = ACTIVE.set(self)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._token is not None:
            ACTIVE.reset(self._token)

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
