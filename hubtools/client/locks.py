"""Per-target locks of the cache: an ``flock`` on ``<target>.lock`` held by the
one process that writes the target, the lock file removed when released (no
0-byte files left beside cached files), taken without waiting where a caller
must not block (prune). Nothing here writes a target itself."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"


def lock_path(target: Path) -> Path:
    """The lock file of ``target``: ``<target>.lock``."""
    return target.with_name(target.name + LOCK_SUFFIX)


if sys.platform == "win32":  # pragma: no cover - no flock: filelock's files stay

    def _acquire(lock: Path, timeout: float) -> object | None:
        from filelock import FileLock, Timeout

        handle = FileLock(str(lock), timeout=timeout)
        try:
            handle.acquire()
        except Timeout:
            return None
        return handle

    def _release(handle: object, lock: Path, *, remove: bool) -> None:
        handle.release()  # type: ignore[attr-defined]

else:
    import fcntl

    _OPEN_LOCK = os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC

    def _flock(fd: int, end: float | None) -> bool:
        """Lock ``fd``, waiting until ``end`` (for ever when None); False when it passed."""
        if end is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return True
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                time.sleep(min(0.05, left))

    def _acquire(lock: Path, timeout: float) -> object | None:
        """A descriptor holding the lock of the file ``lock``; None when ``timeout``
        (not negative) passed first. Raises OSError when the file cannot be made."""
        end = None if timeout < 0 else time.monotonic() + timeout
        while True:
            # Read-only is enough for flock, so users sharing a cache can lock
            # each other's lock files.
            try:
                fd = os.open(lock, _OPEN_LOCK, 0o666)
            except OSError as err:
                if err.errno != errno.ELOOP:
                    raise
                os.unlink(lock)  # a link at that name is not a lock hubtools made
                continue
            try:
                if not _flock(fd, end):
                    os.close(fd)
                    return None
                mine = os.fstat(fd)
                try:
                    now = os.stat(lock, follow_symlinks=False)
                except FileNotFoundError:
                    now = None
                # The holder before removed the file on release: this lock is then
                # on a file no one else sees; lock the one now at that name.
                if now is not None and (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino):
                    return fd
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)

    def _release(handle: object, lock: Path, *, remove: bool) -> None:
        assert isinstance(handle, int)
        try:
            if remove:
                # Removed while held, so that no 0-byte lock file stays beside every
                # cached file; whoever waited on it sees it gone and takes a new one.
                with contextlib.suppress(OSError):
                    os.unlink(lock)
        finally:
            os.close(handle)


@contextlib.contextmanager
def locked(target: Path, timeout: float = -1) -> Iterator[None]:
    """Hold the inter-process lock of ``target`` (file ``<target>.lock``, removed on release).

    Raises OSError when the lock file cannot be created, or TimeoutError after
    ``timeout`` seconds when it is not negative.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = lock_path(target)
    handle = _acquire(lock, timeout)
    if handle is None:
        raise TimeoutError(f"{target}: another process has held its lock for {timeout:g} s")
    try:
        yield
    finally:
        _release(handle, lock, remove=True)


@contextlib.contextmanager
def lock_if_free(target: Path, *, remove: bool = True) -> Iterator[bool]:
    """Hold the lock of ``target`` when no other process does (True), without waiting;
    False (nothing held) when one does. With ``remove`` False the lock file
    stays. Raises OSError when the lock file cannot be created."""
    lock = lock_path(target)
    handle = _acquire(lock, 0)
    if handle is None:
        yield False
        return
    try:
        yield True
    finally:
        _release(handle, lock, remove=remove)


def in_use(target: Path) -> bool:
    """True when a process holds the lock of ``target``; creates and removes nothing."""
    if not lock_path(target).exists():
        return False
    with lock_if_free(target, remove=False) as free:
        return not free
