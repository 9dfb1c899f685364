"""HTTP(S) through requests, and ``file://``: sessions, timeouts, retries, and
telling a body that is not the file asked for (a Git LFS pointer, an HTML
page, an over-quota notice) from the file. With :mod:`hubtools.client.download`
it is the only code that opens URLs; it never writes files.

Every request has connect and read timeouts. Connection errors, timeouts,
429 and 5xx answers are retried with exponential backoff, honouring
``Retry-After``; what fails raises a :class:`~hubtools.errors.DownloadError`
that says what happened and what to do.
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from hubtools.client.config import Settings
from hubtools.errors import DownloadError, WrongContentError

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

CHUNK = 1 << 20
#: Largest manifest accepted, so a hostile server cannot fill memory.
MAX_TEXT_BYTES = 64 << 20
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/"
_QUOTA_MARKER = b"over its data quota"
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_USER_AGENT = "hubtools (+https://github.com/onnx/models)"


class Retryable(Exception):
    """A failure worth another attempt; ``wait`` is a server-requested delay."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


def new_session() -> requests.Session:
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


def sleep_before(attempt: int, err: Retryable, settings: Settings, url: str) -> None:
    delay = err.wait
    if delay is None:
        delay = min(settings.backoff * 2 ** (attempt - 1), settings.max_wait)
    log.info("%s: %s; retry %d/%d in %.1fs", url, err, attempt, settings.retries, delay)
    time.sleep(delay)


def sniff(url: str, status: int, content_type: str, head: bytes) -> None:
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
        raise Retryable(f"HTTP {status}", _retry_after(resp.headers.get("Retry-After"), settings))
    head = resp.raw.read(4096, decode_content=True) or b""
    if status == 404:
        raise WrongContentError(
            f"{url}: HTTP 404 Not Found; check the repository, ref and model name, "
            "or whether a mirror (HUBTOOLS_MIRRORS, HUBTOOLS_GITHUB_RAW) is needed"
        )
    sniff(url, status, resp.headers.get("Content-Type", ""), head)
    raise DownloadError(f"{url}: HTTP {status} {resp.reason}")


def file_path(url: str) -> Path:
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
        if _unresolvable(err):
            # No DNS answer: no network, or a wrong host name. Waiting and retrying
            # (half a minute with the default backoff) rarely changes that.
            host = urllib.parse.urlsplit(url).hostname
            raise DownloadError(
                f"{url}: cannot resolve the host {host} (no network, or a wrong host name); "
                "set HUBTOOLS_OFFLINE=1 to use only the cache"
            ) from err
        raise Retryable(f"connection failed: {err}") from err
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
    import requests

    session = new_session()
    attempt = 0
    with session:
        while True:
            try:
                with open_http(session, url, settings, {}) as resp:
                    body = bytearray()
                    try:
                        for chunk in resp.iter_content(CHUNK):
                            body += chunk
                            if len(body) > MAX_TEXT_BYTES:
                                raise DownloadError(f"{url}: body larger than 64 MiB")
                    except (requests.ConnectionError, requests.Timeout) as err:
                        raise Retryable(f"body cut short: {err}") from err
                    except requests.exceptions.ChunkedEncodingError as err:
                        raise Retryable(f"body cut short: {err}") from err
                    if body.startswith(LFS_POINTER_PREFIX) or _QUOTA_MARKER in body[:4096]:
                        sniff(url, resp.status_code, "", bytes(body[:4096]))
                    return bytes(body)
            except Retryable as err:
                attempt += 1
                if attempt > settings.retries:
                    raise DownloadError(f"{url}: {err}; gave up after {attempt} attempts") from err
                sleep_before(attempt, err, settings, url)
