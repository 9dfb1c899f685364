"""Client settings, resolved at call time: explicit argument, then environment, then default.

Nothing here is read at import time, so changing an environment variable or
calling :func:`set_dir` between two calls changes what the next call does.

Environment variables:

``ONNX_HOME`` / ``XDG_CACHE_HOME``
    cache location, as ``onnx.hub`` used them (``$ONNX_HOME/hub``, else
    ``$XDG_CACHE_HOME/onnx/hub``, else ``~/.cache/onnx/hub``).
``HUBTOOLS_OFFLINE``
    ``1`` uses only the cache (manifests and files) for repositories reached
    over the network; a folder repository is still read.
``HUBTOOLS_NO_PROGRESS``
    ``1`` turns the progress bar off (it is only shown on a terminal anyway).

A yes/no variable takes ``1``, ``y``, ``yes``, ``true``, ``on`` or ``0``, ``n``,
``no``, ``false``, ``off``, empty (any case), in the library and the CLI alike.
``HUBTOOLS_GITHUB_RAW`` / ``HUBTOOLS_GITHUB_MEDIA``
    base URLs that replace ``https://raw.githubusercontent.com`` (manifests)
    and ``https://media.githubusercontent.com/media`` (Git LFS payload), for
    mirrors and tests.
``HUBTOOLS_MIRRORS``
    payload mirrors per repository: ``REPO=URL[,URL...][;REPO=URL...]``, for
    example ``onnx/models=https://mirror.example/zoo,default``; see
    "Payload mirrors" below.
``HUBTOOLS_HF_ENDPOINT`` (else ``HF_ENDPOINT``)
    the Hugging Face endpoint of the built-in ``onnx/models`` mirror
    (default ``https://huggingface.co``).
``HUBTOOLS_CONFIG``
    the JSON config file (default ``<cache folder>/config.json``).
``HUBTOOLS_TRUSTED_REPOS``
    comma-separated repositories trusted without asking (``owner/name``,
    ``owner/name:ref``, a URL or a directory), or ``*`` for all.
``HUBTOOLS_CONNECT_TIMEOUT`` / ``HUBTOOLS_READ_TIMEOUT``
    seconds (defaults 10 and 60).
``HUBTOOLS_RETRIES`` / ``HUBTOOLS_BACKOFF`` / ``HUBTOOLS_RETRY_BUDGET``
    failed attempts retried (default 5), the first backoff delay in seconds
    (default 0.25, doubling each retry), and the seconds of waiting between
    attempts one download from one source may spend in all (default 8, as
    pip's retries take about 7.5 s): a wait that would pass it, backoff or
    ``Retry-After``, is not waited, and the download fails saying so. A body
    the server cuts short after new bytes arrived is resumed without using
    up a retry.
``HUBTOOLS_MIN_SPEED`` / ``HUBTOOLS_MIN_SPEED_TIME``
    bytes per second (default 1024) and seconds (default 30) of the speed
    rules, which count the bytes of a download from one source: an attempt
    that receives less than ``MIN_SPEED`` bytes a second over
    ``MIN_SPEED_TIME`` seconds is cut and counts as a failed attempt, and a
    download may take, waits included, twice ``MIN_SPEED_TIME`` plus one
    second for every ``MIN_SPEED`` bytes it received (so a 158-byte file
    that drips in ends after a minute). ``0`` turns both rules off.
``HUBTOOLS_DEADLINE``
    seconds a download from one source may take in all, attempts, resumes
    and waits included (default 0: no fixed deadline, the speed rules bound it).
``HUBTOOLS_MAX_ARCHIVE_MEMBERS`` / ``HUBTOOLS_MAX_ARCHIVE_BYTES`` / ``HUBTOOLS_MAX_ARCHIVE_RATIO``
    the limits an archive must keep to be extracted: members, bytes of
    content, and content per byte of archive (defaults: those of
    :mod:`hubtools.core.archives`, 100,000, 16 GiB and 200).

Payload mirrors
---------------

A repository's files are fetched from an ordered list of sources: the host
of its manifest first, then its mirrors in order. A source that answers with
a 404, a Git LFS pointer, an HTML page or a size other than the manifest's
is skipped with a one-line note in the log; the sha256 of the manifest still
decides what is accepted, so a mirror can never change what a user gets.

A mirror is a base URL (a file's URL is the base, ``/``, and its
``model_path``) or a URL template holding ``{model_path}``. ``onnx/models``
has one built-in mirror, the Hugging Face copy of the zoo,
``https://huggingface.co/onnxmodelzoo/legacy_models/resolve/main``.

Mirrors come from four levels, each replacing the list of the repositories
it names: built in, then the config file, then ``HUBTOOLS_MIRRORS``, then the
``mirrors`` argument (``Settings.resolve``, ``Hub``, ``hub.load`` and the
CLI's ``--mirror``). In a list, the word ``default`` stands for the list the
repository had at the level below, so ``["https://m.example/zoo", "default"]``
puts a mirror before the built-in one, ``["default", "https://m.example/zoo"]``
after it, and ``[]`` turns mirrors off. A repository is named as in
``--repo``: ``owner/name`` (any ref), ``owner/name:ref`` (that ref only, wins
over ``owner/name``), an ``http(s)://`` base URL, or a folder.

The config file is JSON::

    {
        "mirrors": {
            "onnx/models": ["https://mirror.example/onnx-models", "default"],
            "acme/zoo:main": ["https://cdn.example/zoo/{model_path}"]
        }
    }
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hubtools.errors import UsageError

DEFAULT_GITHUB_RAW = "https://raw.githubusercontent.com"
DEFAULT_GITHUB_MEDIA = "https://media.githubusercontent.com/media"
DEFAULT_HF_ENDPOINT = "https://huggingface.co"
#: Mirrors every user gets; ``{hf}`` is the Hugging Face endpoint.
BUILTIN_MIRRORS: dict[str, tuple[str, ...]] = {
    "onnx/models": ("{hf}/onnxmodelzoo/legacy_models/resolve/main",),
}
#: In a mirror list, the list the repository had at the level below.
INHERIT = "default"
CONFIG_NAME = "config.json"

#: Resolved mirrors: (repository key, URLs) pairs, so that Settings stays hashable.
MirrorTable = tuple[tuple[str, tuple[str, ...]], ...]

DEFAULT_REPO = "onnx/models:main"
#: The whole archived ONNX Model Zoo (legacy and new-layout entries), listed
#: from a manifest shipped with hubtools.
ARCHIVE_REPO = "onnx/models:archive"

#: Seconds of waiting between attempts one download from one source may spend.
DEFAULT_RETRY_BUDGET = 8.0

_TRUE = {"1", "y", "yes", "true", "on"}
_FALSE = {"0", "n", "no", "false", "off", ""}

#: The directory given to :func:`set_dir`, which wins over the environment, as given.
_dir_given: str | os.PathLike[str] | None = None
_dir_override: Path | None = None


def set_dir(new_dir: str | os.PathLike[str] | None) -> None:
    """Use ``new_dir`` as the cache folder from now on (``None`` goes back to the default).

    Raises nothing; the folder is created when something is written to it.
    """
    global _dir_given, _dir_override
    _dir_given = new_dir
    _dir_override = None if new_dir is None else Path(new_dir)


def given_dir() -> str | os.PathLike[str] | None:
    """What :func:`set_dir` was last given, unchanged (a trailing ``/`` kept, a
    ``Path`` still a ``Path``); None when it was not called. Raises nothing."""
    return _dir_given


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


def env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """The yes/no variable ``name`` of ``env`` (``default`` when unset): the one
    parser of booleans, for the library and the CLI. Raises UsageError naming
    the variable for any other value."""
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise UsageError(f"${name}={raw!r} is not a yes/no value; use 1 or 0")


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


def _env_int(env: Mapping[str, str], name: str) -> int | None:
    """A whole number of at least 1 from ``env``; None when unset."""
    value = _env_number(env, name, 0.0, minimum=1)
    if value != int(value):
        raise UsageError(f"${name}={env[name]!r} is not a whole number")
    return int(value) or None


def mirror_key(repo: str) -> str:
    """The spelling of a repository name used to look up its mirrors (lowercase, no ``/`` end)."""
    return repo.strip().rstrip("/").lower()


def _check_mirror(url: str, where: str) -> str:
    url = url.strip()
    if url == INHERIT:
        return url
    if not url.startswith(("http://", "https://", "file:")):
        raise UsageError(
            f"{where}: mirror {url!r} is not an http(s):// or file: URL "
            f"(or the word {INHERIT!r} for the mirrors the repository had before)"
        )
    return url if "{model_path}" in url else url.rstrip("/")


def _apply_level(
    table: dict[str, tuple[str, ...]], level: Mapping[str, Sequence[str]], where: str
) -> None:
    """Replace the lists of the repositories ``level`` names, expanding ``default``."""
    for repo, urls in level.items():
        if isinstance(urls, str) or not all(isinstance(u, str) for u in urls):
            raise UsageError(f"{where}: the mirrors of {repo!r} must be a list of URLs")
        key = mirror_key(repo)
        before = table.get(key)
        if before is None and "://" not in key and ":" in key:
            before = table.get(key.split(":", 1)[0])
        out: list[str] = []
        for url in urls:
            checked = _check_mirror(url, where)
            out.extend((before or ()) if checked == INHERIT else (checked,))
        table[key] = tuple(dict.fromkeys(out))


def parse_mirrors_env(raw: str, name: str = "HUBTOOLS_MIRRORS") -> dict[str, list[str]]:
    """``REPO=URL[,URL...][;REPO=...]`` as a mapping. Raises UsageError on a malformed item."""
    out: dict[str, list[str]] = {}
    for item in raw.split(";"):
        if not item.strip():
            continue
        repo, sep, urls = item.partition("=")
        if not sep or not repo.strip():
            raise UsageError(
                f"${name}: {item.strip()!r} is not REPO=URL[,URL...]; for example "
                "onnx/models=https://mirror.example/zoo,default"
            )
        out[repo.strip()] = [u for u in urls.replace(" ", ",").split(",") if u.strip()]
    return out


def config_file(cache_dir: Path, env: Mapping[str, str] | None = None) -> Path:
    """The JSON config file: ``$HUBTOOLS_CONFIG``, else ``<cache_dir>/config.json``."""
    env = os.environ if env is None else env
    raw = env.get("HUBTOOLS_CONFIG")
    return Path(raw).expanduser() if raw else cache_dir / CONFIG_NAME


def _read_config_mirrors(path: Path) -> dict[str, list[str]]:
    """The ``mirrors`` object of the config file (empty when there is no file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise UsageError(f"{path}: cannot read the config file: {err.strerror or err}") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(f"{path}:{err.lineno}:{err.colno}: not JSON: {err.msg}") from err
    mirrors = data.get("mirrors", {}) if isinstance(data, dict) else None
    if not isinstance(mirrors, dict):
        raise UsageError(f'{path}: expected {{"mirrors": {{"owner/name": ["https://...", ...]}}}}')
    return mirrors


def resolve_mirrors(
    *levels: tuple[Mapping[str, Sequence[str]], str], hf_endpoint: str = DEFAULT_HF_ENDPOINT
) -> MirrorTable:
    """The built-in mirrors with each ``(mapping, where)`` level applied in turn.

    Raises :class:`~hubtools.errors.UsageError` naming ``where`` for a value
    that is not a list of http(s)/file URLs (or ``default``).
    """
    table = {
        key: tuple(url.replace("{hf}", hf_endpoint) for url in urls)
        for key, urls in BUILTIN_MIRRORS.items()
    }
    for level, where in levels:
        _apply_level(table, level, where)
    return tuple(sorted(table.items()))


@dataclass(frozen=True)
class Settings:
    """Everything the client needs to know, fixed for one call.

    Build it with :meth:`resolve`, which applies explicit arguments over the
    environment over defaults.
    """

    cache_dir: Path
    offline: bool = False
    #: What turned offline mode on, as messages name it (``HUBTOOLS_OFFLINE``,
    #: ``--offline``, ``offline=True``).
    offline_by: str = "offline=True"
    progress: bool = True
    github_raw: str = DEFAULT_GITHUB_RAW
    github_media: str = DEFAULT_GITHUB_MEDIA
    trusted_repos: tuple[str, ...] = ()
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 5
    backoff: float = 0.25
    #: Seconds of waiting between attempts, in all, per download from one source.
    retry_budget: float = DEFAULT_RETRY_BUDGET
    #: Longest wait honoured from a ``Retry-After`` header or backoff, in seconds.
    max_wait: float = 60.0
    #: The speed rules (see the module docstring): bytes per second, 0 for none...
    min_speed: float = 1024.0
    #: ...over this many seconds.
    min_speed_time: float = 30.0
    #: Seconds one download from one source may take in all; 0 for no fixed deadline.
    deadline: float = 0.0
    #: Archive limits over the defaults of :mod:`hubtools.core.archives` (None keeps them).
    max_archive_members: int | None = None
    max_archive_bytes: int | None = None
    max_archive_ratio: float | None = None
    #: Payload mirrors per repository (see the module docstring); built-in ones by default.
    mirrors: MirrorTable = field(default_factory=resolve_mirrors)

    def with_mirrors(
        self, mirrors: Mapping[str, Sequence[str]], where: str = "mirrors"
    ) -> Settings:
        """These settings with ``mirrors`` applied over their mirror lists (``default``
        in a list stands for the list it replaces). Raises UsageError for a bad URL.
        """
        import dataclasses

        table = dict(self.mirrors)
        _apply_level(table, mirrors, where)
        return dataclasses.replace(self, mirrors=tuple(sorted(table.items())))

    def offline_reason(self) -> tuple[str, str]:
        """Why offline mode is on and how to turn it off, in words for messages:
        ``("--offline was given", "run without --offline")``. Raises nothing."""
        if self.offline_by == "HUBTOOLS_OFFLINE":
            return "HUBTOOLS_OFFLINE is set", "unset HUBTOOLS_OFFLINE"
        return f"{self.offline_by} was given", f"run without {self.offline_by}"

    def mirrors_for(self, *names: str) -> tuple[str, ...]:
        """The mirrors of the first of ``names`` (most specific first) that has a list."""
        table = dict(self.mirrors)
        for name in names:
            key = mirror_key(name)
            if key in table:
                return table[key]
        return ()

    @classmethod
    def resolve(
        cls,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        offline: bool | None = None,
        offline_by: str = "offline=True",
        progress: bool | None = None,
        trusted_repos: tuple[str, ...] | None = None,
        mirrors: Mapping[str, Sequence[str]] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Settings from explicit arguments, then the environment, then defaults.

        ``mirrors`` maps repositories to mirror lists, over ``HUBTOOLS_MIRRORS``,
        over the config file, over the built-in ones (see the module docstring).
        ``offline_by`` names what gave ``offline`` (``--offline`` in the CLI),
        for messages.
        Raises :class:`~hubtools.errors.UsageError` when an environment
        variable, the config file or ``mirrors`` holds a value that cannot be used.
        """
        env = os.environ if env is None else env
        cache = Path(cache_dir) if cache_dir is not None else default_cache_dir(env)
        conf = config_file(cache, env)
        hf = env.get("HUBTOOLS_HF_ENDPOINT") or env.get("HF_ENDPOINT") or DEFAULT_HF_ENDPOINT
        table = resolve_mirrors(
            (_read_config_mirrors(conf), str(conf)),
            (parse_mirrors_env(env.get("HUBTOOLS_MIRRORS", "")), "$HUBTOOLS_MIRRORS"),
            (mirrors or {}, "mirrors argument"),
            hf_endpoint=hf.rstrip("/"),
        )
        trusted_env = tuple(
            item.strip()
            for item in env.get("HUBTOOLS_TRUSTED_REPOS", "").split(",")
            if item.strip()
        )
        return cls(
            cache_dir=cache,
            offline=offline if offline is not None else env_flag(env, "HUBTOOLS_OFFLINE", False),
            offline_by=offline_by if offline is not None else "HUBTOOLS_OFFLINE",
            progress=(
                progress
                if progress is not None
                else not env_flag(env, "HUBTOOLS_NO_PROGRESS", False)
            ),
            github_raw=(env.get("HUBTOOLS_GITHUB_RAW") or DEFAULT_GITHUB_RAW).rstrip("/"),
            github_media=(env.get("HUBTOOLS_GITHUB_MEDIA") or DEFAULT_GITHUB_MEDIA).rstrip("/"),
            trusted_repos=(trusted_repos or ()) + trusted_env,
            connect_timeout=_env_number(env, "HUBTOOLS_CONNECT_TIMEOUT", 10.0, minimum=0.001),
            read_timeout=_env_number(env, "HUBTOOLS_READ_TIMEOUT", 60.0, minimum=0.001),
            retries=int(_env_number(env, "HUBTOOLS_RETRIES", 5, minimum=0)),
            backoff=_env_number(env, "HUBTOOLS_BACKOFF", 0.25, minimum=0),
            retry_budget=_env_number(env, "HUBTOOLS_RETRY_BUDGET", DEFAULT_RETRY_BUDGET, minimum=0),
            min_speed=_env_number(env, "HUBTOOLS_MIN_SPEED", 1024.0, minimum=0),
            min_speed_time=_env_number(env, "HUBTOOLS_MIN_SPEED_TIME", 30.0, minimum=0.001),
            deadline=_env_number(env, "HUBTOOLS_DEADLINE", 0.0, minimum=0),
            max_archive_members=_env_int(env, "HUBTOOLS_MAX_ARCHIVE_MEMBERS"),
            max_archive_bytes=_env_int(env, "HUBTOOLS_MAX_ARCHIVE_BYTES"),
            max_archive_ratio=(
                _env_number(env, "HUBTOOLS_MAX_ARCHIVE_RATIO", 0.0, minimum=1) or None
            ),
            mirrors=table,
        )
