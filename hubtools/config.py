"""Client settings, resolved at call time: explicit argument, then environment, then default.

Nothing here is read at import time, so changing an environment variable or
calling :func:`set_dir` between two calls changes what the next call does.

Environment variables:

``ONNX_HOME`` / ``XDG_CACHE_HOME``
    cache location, as ``onnx.hub`` used them (``$ONNX_HOME/hub``, else
    ``$XDG_CACHE_HOME/onnx/hub``, else ``~/.cache/onnx/hub``).
``HUBTOOLS_OFFLINE``
    ``1`` uses only the cache (manifests and files).
``HUBTOOLS_NO_PROGRESS``
    ``1`` turns the progress bar off (it is only shown on a terminal anyway).
``HUBTOOLS_GITHUB_RAW`` / ``HUBTOOLS_GITHUB_MEDIA``
    base URLs that replace ``https://raw.githubusercontent.com`` (manifests)
    and ``https://media.githubusercontent.com/media`` (Git LFS payload), for
    mirrors and tests.
``HUBTOOLS_TRUSTED_REPOS``
    comma-separated repositories trusted without asking (``owner/name``,
    ``owner/name:ref``, a URL or a directory), or ``*`` for all.
``HUBTOOLS_CONNECT_TIMEOUT`` / ``HUBTOOLS_READ_TIMEOUT``
    seconds (defaults 10 and 60).
``HUBTOOLS_RETRIES`` / ``HUBTOOLS_BACKOFF``
    retries after the first attempt (default 5) and the first backoff delay
    in seconds (default 1, doubling each retry).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hubtools.errors import UsageError

DEFAULT_GITHUB_RAW = "https://raw.githubusercontent.com"
DEFAULT_GITHUB_MEDIA = "https://media.githubusercontent.com/media"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

#: The directory given to :func:`set_dir`, which wins over the environment.
_dir_override: Path | None = None


def set_dir(new_dir: str | os.PathLike[str] | None) -> None:
    """Use ``new_dir`` as the cache folder from now on (``None`` goes back to the default).

    Raises nothing; the folder is created when something is written to it.
    """
    global _dir_override
    _dir_override = None if new_dir is None else Path(new_dir)


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """The cache folder: :func:`set_dir` > ``$ONNX_HOME/hub`` > ``$XDG_CACHE_HOME/onnx/hub``
    > ``~/.cache/onnx/hub``. Raises nothing.
    """
    env = os.environ if env is None else env
    if _dir_override is not None:
        return _dir_override
    if env.get("ONNX_HOME"):
        return Path(env["ONNX_HOME"]) / "hub"
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "onnx" / "hub"
    return Path.home() / ".cache" / "onnx" / "hub"


def _env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise UsageError(f"${name}={raw!r} is not a boolean; use 1 or 0")


def _env_number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"${name}={raw!r} is not a number") from None
    if value < minimum:
        raise UsageError(f"${name}={raw!r} must be at least {minimum:g}")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything the client needs to know, fixed for one call.

    Build it with :meth:`resolve`, which applies explicit arguments over the
    environment over defaults.
    """

    cache_dir: Path
    offline: bool = False
    progress: bool = True
    github_raw: str = DEFAULT_GITHUB_RAW
    github_media: str = DEFAULT_GITHUB_MEDIA
    trusted_repos: tuple[str, ...] = ()
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 5
    backoff: float = 1.0
    #: Longest wait honoured from a ``Retry-After`` header or backoff, in seconds.
    max_wait: float = 60.0

    @classmethod
    def resolve(
        cls,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        offline: bool | None = None,
        progress: bool | None = None,
        trusted_repos: tuple[str, ...] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Settings from explicit arguments, then the environment, then defaults.

        Raises :class:`~hubtools.errors.UsageError` when an environment
        variable holds a value that cannot be used.
        """
        env = os.environ if env is None else env
        trusted_env = tuple(
            item.strip()
            for item in env.get("HUBTOOLS_TRUSTED_REPOS", "").split(",")
            if item.strip()
        )
        return cls(
            cache_dir=Path(cache_dir) if cache_dir is not None else default_cache_dir(env),
            offline=offline if offline is not None else _env_bool(env, "HUBTOOLS_OFFLINE", False),
            progress=(
                progress
                if progress is not None
                else not _env_bool(env, "HUBTOOLS_NO_PROGRESS", False)
            ),
            github_raw=(env.get("HUBTOOLS_GITHUB_RAW") or DEFAULT_GITHUB_RAW).rstrip("/"),
            github_media=(env.get("HUBTOOLS_GITHUB_MEDIA") or DEFAULT_GITHUB_MEDIA).rstrip("/"),
            trusted_repos=(trusted_repos or ()) + trusted_env,
            connect_timeout=_env_number(env, "HUBTOOLS_CONNECT_TIMEOUT", 10.0, minimum=0.001),
            read_timeout=_env_number(env, "HUBTOOLS_READ_TIMEOUT", 60.0, minimum=0.001),
            retries=int(_env_number(env, "HUBTOOLS_RETRIES", 5, minimum=0)),
            backoff=_env_number(env, "HUBTOOLS_BACKOFF", 1.0, minimum=0),
        )
