"""The client: :class:`Hub` finds a model in a repository's manifest, makes sure
the cache holds its verified file (trying the repository's host, then its
mirrors), extracts archives safely, and loads the model.

Each public method resolves :class:`~hubtools.client.config.Settings` once and
passes them down, so one call reads the environment and the config file once.
The parts live beside it: repository specs, manifests, trust, transport,
cache. This module never prints; the trust prompt is injected.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hubtools.client import cache, extracted, locks
from hubtools.client.cache import warn_once
from hubtools.client.config import ARCHIVE_REPO, DEFAULT_REPO, Settings
from hubtools.client.download import download_to
from hubtools.client.manifests import ModelInfo, load_models
from hubtools.client.repository import Repository, parse_repo
from hubtools.client.trust import Prompt, TerminalPrompt, ensure_trust
from hubtools.core import archives
from hubtools.core.archive_policy import DEFAULT_LIMITS, Limits
from hubtools.core.manifest import ModelEntry
from hubtools.errors import (
    ChecksumMismatchError,
    DownloadError,
    ExtractionRefusedError,
    HubtoolsError,
    ManifestError,
    ModelNotFoundError,
    NotCachedError,
    NoTestDataError,
    UnreachableError,
    UnsafeArchiveError,
    WrongContentError,
    WrongSizeError,
)

if TYPE_CHECKING:
    import onnx

__all__ = ["Download", "Hub", "last_download"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Download:
    """Where a file of a repository came from, as :meth:`Hub.fetch_file` returns it.

    ``path`` is the verified file in the cache; ``source`` the URL that
    served it (for a file already cached: the cache path, with
    ``from_cache`` True); ``skipped`` one line per source tried before it
    that did not serve the file (404, Git LFS pointer, HTML page, wrong size
    or sha256, network failure).
    """

    model: str
    model_path: str
    path: Path
    source: str
    from_cache: bool
    skipped: tuple[str, ...] = ()


_last_download: contextvars.ContextVar[Download | None] = contextvars.ContextVar(
    "hubtools_last_download", default=None
)


def last_download() -> Download | None:
    """The :class:`Download` of the last file this thread (or task) fetched or found cached.

    After ``hub.load("mnist")``, ``hub.last_download().source`` is the URL
    that served the model (or the cache path). None before any fetch.
    Raises nothing.
    """
    return _last_download.get()


@dataclass(frozen=True)
class _Call:
    """What one public call asked for, passed down with its settings."""

    settings: Settings
    force_reload: bool = False
    silent: bool = False
    trust_repo: bool = False


def _note(err: BaseException) -> str:
    """The first clause of an error message: a one-line note about a skipped source."""
    return str(err).split("; ", 1)[0]


def _combined(
    model: str, path: str, errors: Sequence[HubtoolsError], notes: Sequence[str]
) -> HubtoolsError:
    """The one error for a file no source served, with a note per source.

    When no source could be reached at all, an UnreachableError that says so.
    Otherwise the class of the first source's error, the repository's own
    host, which is the one ``onnx.hub`` asked (a 404 stays an HTTPError, a
    Git LFS pointer an AssertionError).
    """
    listed = "; ".join(f"({i}) {note}" for i, note in enumerate(notes, 1))
    if all(isinstance(e, UnreachableError) for e in errors):
        return UnreachableError(
            f"{model} ({path}): no source could be reached, so nothing was downloaded: "
            f"{listed}; check the network connection, or use only the cache with "
            "--offline (HUBTOOLS_OFFLINE=1)"
        )
    if len(errors) == 1:
        return errors[0]
    return errors[0].with_message(
        f"{model} ({path}): none of the {len(notes)} sources served a file with the "
        f"manifest's size and sha256, so nothing was accepted: {listed}; add a mirror that "
        "serves it (HUBTOOLS_MIRRORS) or retry later"
    )


def _archive_hint(model: str, repo: str, settings: Settings) -> str:
    """``; the archived zoo ... lists MODEL: use repo="onnx/models:archive"`` when
    ``repo`` is the official zoo (not its archive) and the archive shipped with
    hubtools lists ``model``; otherwise an empty string. Raises nothing."""
    try:
        repository = parse_repo(repo, settings)
        if not repository.official or repository.kind == "packaged":
            return ""
        archived = load_models(parse_repo(ARCHIVE_REPO, settings), settings)
    except (HubtoolsError, OSError):
        return ""
    names = {m.model for m in archived if m.model.lower() == model.lower()}
    if not names:
        return ""
    name = sorted(names)[0]
    return (
        f"; the archived zoo shipped with hubtools (listed without network) has {name}: "
        f'use repo="{ARCHIVE_REPO}" (--repo {ARCHIVE_REPO})'
    )


def _entry(info: ModelInfo) -> ModelEntry:
    """The typed entry of a ModelInfo the client built (always present there)."""
    if info.entry is None:  # pragma: no cover - only hand-built ModelInfo objects lack it
        raise ManifestError(f"{info.model} ({info.model_path}): not a usable manifest entry")
    return info.entry


def _archive_format(entry: ModelEntry) -> str | None:
    """``tar.gz`` or ``zip`` for an archive entry, None for a plain ``.onnx`` one.

    Raises ManifestError for another ``model_archive`` value.
    """
    kind = entry.metadata.get("model_archive")
    if kind is None:
        return None
    if kind not in archives.MODEL_ARCHIVE_FORMATS:
        raise ManifestError(
            f"{entry.model} ({entry.model_path}): metadata model_archive {kind!r} is not one "
            f"of {', '.join(archives.MODEL_ARCHIVE_FORMATS)}; hubtools cannot unpack it"
        )
    return str(kind)


class Hub:
    """The client behind the module functions, with explicit settings.

    ``Hub()`` resolves :class:`~hubtools.client.config.Settings` at each
    public call; ``Hub(settings)`` uses the given ones. ``prompt`` asks a
    person whether to trust a repository (default: :class:`TerminalPrompt`,
    which asks only on a terminal); ``confirm`` is a shorter way to give the
    question-asking function of a terminal prompt. ``mirrors`` maps
    repositories to payload mirror lists, over every other setting
    (``"default"`` in a list stands for the mirrors it replaces).
    ``last_download`` is the :class:`Download` of this client's last fetch.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        confirm: Callable[[str], bool] | None = None,
        prompt: Prompt | None = None,
        mirrors: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._settings = settings
        if prompt is None:
            prompt = TerminalPrompt(confirm) if confirm is not None else TerminalPrompt()
        self._prompt = prompt
        self._mirrors = dict(mirrors) if mirrors is not None else None
        self.last_download: Download | None = None

    @property
    def settings(self) -> Settings:
        """Settings resolved now (each public method takes them once). Raises
        UsageError for an unusable setting."""
        if self._settings is None:
            return Settings.resolve(mirrors=self._mirrors)
        if self._mirrors is not None:
            return self._settings.with_mirrors(self._mirrors, "mirrors argument")
        return self._settings

    # -- manifest ---------------------------------------------------------

    def models(self, repo: str = DEFAULT_REPO) -> list[ModelInfo]:
        """Every usable entry of ``repo``'s manifest (see
        :func:`~hubtools.client.manifests.load_models` for fetching, keeping
        and the offline fallback). Raises DownloadError, ManifestError,
        NotCachedError, UsageError for a bad ``repo``."""
        settings = self.settings
        return load_models(parse_repo(repo, settings), settings)

    def list_models(
        self, repo: str = DEFAULT_REPO, model: str | None = None, tags: list[str] | None = None
    ) -> list[ModelInfo]:
        """Models named ``model`` (any case) having any of ``tags``; see
        :func:`hubtools.hub.list_models`."""
        return self._list(self.settings, repo, model, tags)

    def _list(
        self, settings: Settings, repo: str, model: str | None, tags: list[str] | None
    ) -> list[ModelInfo]:
        infos = load_models(parse_repo(repo, settings), settings)
        matching = [m for m in infos if model is None or m.model.lower() == model.lower()]
        if tags is None:
            return matching
        wanted = {t.lower() for t in tags}
        return [m for m in matching if wanted & {t.lower() for t in m.tags}]

    def get_model_info(
        self, model: str, repo: str = DEFAULT_REPO, opset: int | None = None
    ) -> ModelInfo:
        """The entry of ``model`` with ``opset`` (highest when None); see
        :func:`hubtools.hub.get_model_info`."""
        return self._info(self.settings, model, repo, opset)

    def _info(self, settings: Settings, model: str, repo: str, opset: int | None) -> ModelInfo:
        try:
            matching = self._list(settings, repo, model, None)
        except NotCachedError as err:
            hint = _archive_hint(model, repo, settings)
            if hint:
                raise NotCachedError(f"{err}{hint}") from err
            raise
        if not matching:
            raise ModelNotFoundError(
                f"No models found with name {model} in {repo}; "
                "`hubtools list` shows the models it has" + _archive_hint(model, repo, settings)
            )
        if opset is None:
            return max(matching, key=lambda m: m.opset)
        selected = [m for m in matching if m.opset == opset]
        if not selected:
            valid = sorted({m.opset for m in matching})
            raise ModelNotFoundError(
                f"{model} has no version with opset {opset}. Valid opsets: {valid}"
            )
        return selected[0]

    # -- files --------------------------------------------------------------

    def fetch_file(
        self,
        repo: str,
        model: str,
        path: str,
        sha: str | None,
        size: int | None,
        *,
        force_reload: bool = False,
        silent: bool = False,
        trust_repo: bool = False,
    ) -> Download | None:
        """Make sure the cache holds ``path`` of ``repo`` with ``sha``; say where it came from.

        The sources are tried in order (the repository's own host, then its
        mirrors); one that does not serve the file is skipped with a one-line
        note in the log, and the first whose bytes have the manifest's size
        and sha256 wins. The result is also kept as :attr:`last_download`
        and returned by :func:`last_download`. Returns None when the user
        declined to trust the repository.

        Without a sha256 in the manifest the file cannot be verified: it is
        used as it is, as ``onnx.hub`` did, and a warning says so once. When
        every source that served something offered another size than the
        manifest's, the file is fetched whole from those sources, and its
        sha256 decides (the manifest's size may be what is wrong).

        Raises, when no source served the file (with one note per source),
        the class of the repository's own host's error, as ``onnx.hub`` met
        it: NotServedError (an HTTPError) for a 404, HTTPStatusError for
        another HTTP error, WrongFileError (a ChecksumMismatchError) for a
        Git LFS pointer or a page, ChecksumMismatchError for wrong bytes;
        UnreachableError when no source could be reached at all (nothing is
        kept under the final name); NotCachedError (offline and absent),
        UntrustedRepositoryError,
        ManifestError (unsafe path or sha), UsageError (bad ``repo``),
        FileWriteError when the cache is read-only and the file must be
        fetched (a cached, verified file needs no write).
        """
        call = _Call(self.settings, force_reload, silent, trust_repo)
        return self._fetch_file(call, repo, model, path, sha, size)

    def _fetch_file(
        self, call: _Call, repo: str, model: str, path: str, sha: str | None, size: int | None
    ) -> Download | None:
        settings, force_reload = call.settings, call.force_reload
        repository = parse_repo(repo, settings)
        target = cache.cached_path(settings.cache_dir, path, sha)
        say = log.debug if call.silent else log.info
        if sha is None:
            warn_once(
                f"unverified:{repository.key}:{path}",
                "%s (%s): the manifest of %s gives no sha256, so the file cannot be verified; "
                "it is used as it is, as onnx.hub did (add model_sha to the manifest)",
                model,
                path,
                repository.spec,
            )
        if not force_reload and self._verified(target, sha, size, model, settings):
            say("Using cached %s model from %s", model, target)
            return self._record(Download(model, path, target, str(target), True))
        if settings.offline and repository.kind != "local":
            why, fix = settings.offline_reason()
            raise NotCachedError(
                f"offline ({why}) and {model} ({path}) is not in the cache "
                f"at {target}; {fix} to download it"
            )
        if not ensure_trust(repository, settings, trust_repo=call.trust_repo, prompt=self._prompt):
            return None
        with cache.writing(settings.cache_dir, f"download {model} ({path})"), locks.locked(target):
            # Another process may have fetched it while this one waited for the lock.
            if not force_reload and self._verified(target, sha, size, model, settings):
                say("Using cached %s model from %s", model, target)
                return self._record(Download(model, path, target, str(target), True))
            say("Downloading %s to local path %s", model, target)
            return self._record(
                self._from_sources(repository, model, path, target, sha, size, settings, say)
            )

    def _from_sources(
        self,
        repository: Repository,
        model: str,
        path: str,
        target: Path,
        sha: str | None,
        size: int | None,
        settings: Settings,
        say: Callable[..., None],
    ) -> Download:
        """Fetch ``target`` from the first source that serves the right bytes
        (the caller holds its lock). Raises what :meth:`fetch_file` says."""
        urls = repository.payload_urls(path)
        skipped: list[str] = []
        errors: list[HubtoolsError] = []
        labels = ["its host"] + [f"mirror {n}" for n in range(1, len(urls))]
        # First each source held to the manifest's size; then, when no source served
        # the file, the sources that offered another size, fetched whole: the
        # manifest's size may be the wrong one, and the sha256 decides.
        tries = [(label, url, True) for label, url in zip(labels, urls, strict=True)]
        while tries:
            label, url, check_size = tries.pop(0)
            if not check_size:
                log.warning(
                    "%s: %s offered another size than the manifest's %s bytes; fetching it "
                    "whole to let the sha256 decide",
                    model,
                    label,
                    size,
                )
            try:
                what = f"{model} ({url})"
                _fetch_from(url, target, path, sha, size, settings, what, check_size=check_size)
            except (DownloadError, ChecksumMismatchError) as err:
                errors.append(err)
                skipped.append(f"{label}{'' if check_size else ', fetched whole'}: {_note(err)}")
                if check_size and isinstance(err, WrongSizeError) and sha is not None:
                    tries.append((label, url, False))
                if tries:
                    log.log(_skip_level(err), "%s: skipped %s: %s", model, label, _note(err))
                continue
            say("%s: %s served by %s", model, Path(path).name, url)
            return Download(model, path, target, url, False, tuple(skipped))
        raise _combined(model, path, errors, skipped) from errors[-1]

    def _record(self, download: Download) -> Download:
        self.last_download = download
        _last_download.set(download)
        return download

    @staticmethod
    def _verified(
        target: Path, sha: str | None, size: int | None, model: str, settings: Settings
    ) -> bool:
        """True when ``target`` exists and matches; a mismatching file is deleted."""
        if not target.is_file():
            return False
        try:
            with cache.writing(settings.cache_dir, f"replace the corrupt cached {model}"):
                cache.verify_file(target, sha, size, what=f"cached {model} ({target})")
        except ChecksumMismatchError as err:
            if settings.offline:
                raise
            log.warning("%s", err)
            return False
        return True

    @staticmethod
    def _extracted(got: Download, force: bool, settings: Settings) -> Path:
        """The folder ``got`` (a cached archive) is extracted into, checked against
        the record of its extraction (see :func:`extracted.check_extracted`).

        Extracted again after a new download, with ``force``, or when the
        folder is missing or differs from its record (the archive's own
        sha256 was just verified); a folder that matches is used without
        any write, so a read-only cache still loads it. Raises
        ExtractionRefusedError (an UnsafeArchiveError and a tarfile.TarError)
        for an unsafe or unreadable archive,
        FileWriteError when the cache is read-only and it must be extracted.
        """
        dest = extracted.extracted_folder(got.path)
        reuse = not force and got.from_cache
        if reuse and extracted.check_extracted(dest) is None:
            return dest
        limits = _limits(settings)
        with cache.writing(settings.cache_dir, f"extract {got.path.name}"), locks.locked(dest):
            problem = extracted.check_extracted(dest) if reuse else None
            if reuse and problem is None:
                return dest  # another process extracted it while this one waited
            if problem is not None and dest.exists():
                log.warning("%s: %s; extracting it again from the verified archive", dest, problem)
            extract = functools.partial(archives.safe_extract, limits=limits)
            try:
                extracted.extract_into(got.path, dest, extract)
            except UnsafeArchiveError as err:
                raise ExtractionRefusedError(str(err)) from err
        return dest

    def download_model(
        self,
        model: str,
        repo: str = DEFAULT_REPO,
        opset: int | None = None,
        force_reload: bool = False,
        silent: bool = False,
        *,
        trust_repo: bool = False,
    ) -> Path | None:
        """The verified cached ``.onnx`` file of ``model``; None when trust was declined.

        For an archive entry (metadata ``model_archive``: ``tar.gz`` or
        ``zip``), the archive is fetched and verified by its sha256, extracted
        safely into ``<sha>_<name>`` beside it in the cache (again after each
        new download), and the path of the single ``.onnx`` file inside is
        returned; its external data sits beside it. Raises what
        :meth:`get_model_info` and :meth:`fetch_file` raise, and for archives
        ExtractionRefusedError (unsafe or unreadable archive), ArchiveLayoutError
        (no or several ``.onnx`` files inside) and ManifestError (unknown
        ``model_archive`` kind).
        """
        call = _Call(self.settings, force_reload, silent, trust_repo)
        return self._download_model(call, model, repo, opset)

    def _download_model(self, call: _Call, model: str, repo: str, opset: int | None) -> Path | None:
        entry = _entry(self._info(call.settings, model, repo, opset))
        kind = _archive_format(entry)
        md = entry.metadata
        got = self._fetch_file(
            call, repo, entry.model, entry.model_path, md.model_sha, md.model_bytes
        )
        if got is None or kind is None:
            return None if got is None else got.path
        dest = self._extracted(got, call.force_reload, call.settings)
        return archives.find_single_model(dest, f"{entry.model} ({entry.model_path})")

    def download_model_with_test_data(
        self,
        model: str,
        repo: str = DEFAULT_REPO,
        opset: int | None = None,
        force_reload: bool = False,
        silent: bool = False,
        *,
        trust_repo: bool = False,
    ) -> Path | None:
        """Fetch and safely extract the test-data tarball; the folder with ``model.onnx``.

        Returns None when trust was declined. Raises NoTestDataError (a
        ModelNotFoundError and a KeyError) when the entry has no
        ``model_with_data_path``, ExtractionRefusedError (an UnsafeArchiveError
        and a tarfile.TarError) for an unsafe or unreadable tarball, and what
        :meth:`fetch_file` raises.
        """
        call = _Call(self.settings, force_reload, silent, trust_repo)
        entry = _entry(self._info(call.settings, model, repo, opset))
        md = entry.metadata
        if md.model_with_data_path is None:
            raise NoTestDataError(
                f"{entry.model} (opset {entry.opset_version}) has no model_with_data_path in "
                "the manifest, so it has no test data"
            )
        path, sha, size = md.model_with_data_path, md.model_with_data_sha, md.model_with_data_bytes
        got = self._fetch_file(call, repo, entry.model, path, sha, size)
        if got is None:
            return None
        return archives.find_model_folder(self._extracted(got, force_reload, call.settings))

    def load(
        self,
        model: str,
        repo: str = DEFAULT_REPO,
        opset: int | None = None,
        force_reload: bool = False,
        silent: bool = False,
        *,
        trust_repo: bool = False,
    ) -> onnx.ModelProto | None:
        """The model as an ``onnx.ModelProto``; None when trust was declined.

        An archive entry is loaded from its extracted ``.onnx`` file with the
        external data beside it (see :meth:`download_model`);
        :attr:`last_download` says which source served the file. Raises what
        :meth:`download_model` raises.
        """
        call = _Call(self.settings, force_reload, silent, trust_repo)
        path = self._download_model(call, model, repo, opset)
        if path is None:
            return None
        import onnx

        # onnx.load reads external data relative to the model's own folder.
        return onnx.load(str(path))


def _limits(settings: Settings) -> Limits:
    """The archive limits: the policy's defaults, with those the settings give."""
    default = DEFAULT_LIMITS
    return dataclasses.replace(
        default,
        max_members=settings.max_archive_members or default.max_members,
        max_bytes=settings.max_archive_bytes or default.max_bytes,
        max_ratio=settings.max_archive_ratio or default.max_ratio,
    )


def _skip_level(err: HubtoolsError) -> int:
    """How loud a skipped source is: a warning for wrong bytes (a mirror that
    serves another file), information for a 404, a pointer, a page, no answer."""
    wrong_bytes = isinstance(err, ChecksumMismatchError) and not isinstance(err, WrongContentError)
    return logging.WARNING if wrong_bytes else logging.INFO


def _fetch_from(
    url: str,
    target: Path,
    path: str,
    sha: str | None,
    size: int | None,
    settings: Settings,
    what: str,
    *,
    check_size: bool = True,
) -> None:
    """Fill ``target`` from one source, verified (see :func:`cache.fetch_into_cache`);
    without ``check_size`` the transport does not hold the body to ``size``."""
    expected = size if check_size else None

    def fetch(temp: Path) -> tuple[int, str]:
        got = download_to(url, temp, settings, expected_size=expected, desc=Path(path).name)
        return got.size, got.sha256

    cache.fetch_into_cache(target, fetch, sha=sha, size=size, what=what)
