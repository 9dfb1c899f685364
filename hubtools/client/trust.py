"""Whether files of a repository may be downloaded: the trust policy, the
prompt that asks a person when the policy cannot decide, and the trusted list
that remembers the answer.

A repository is trusted when the call says so (``trust_repo=True``,
``--trust``), when it is the official zoo (``onnx/models``, any ref), when it
is a folder the user named (their own files), when ``HUBTOOLS_TRUSTED_REPOS``
names it, or when the trusted list in the cache folder
(``trusted_repos.txt``: one ``owner/name``, ``owner/name:ref``, URL or folder
a line, ``#`` comments, ``*`` for all) holds it. Otherwise a person is asked,
and a yes is recorded in that list, as torch.hub's trusted list does;
``silent=True`` never stands for a yes. The prompt is a small object the
caller passes in (:class:`TerminalPrompt` by default), so tests and other
front ends give their own instead of patching this module. Nothing here
downloads; the only write is to the trusted list.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hubtools.client import cache
from hubtools.client.cache import read_trusted, trusted_file
from hubtools.client.config import Settings
from hubtools.client.repository import Repository, parse_repo
from hubtools.errors import UntrustedRepositoryError, UsageError

__all__ = [
    "Prompt",
    "TerminalPrompt",
    "ensure_trust",
    "forget",
    "is_trusted",
    "remember",
    "trust_entry",
    "trusted_entries",
]

#: Where an entry of :func:`trusted_entries` comes from, besides the list's file.
BUILT_IN = "built in (any ref)"
FROM_ENV = "HUBTOOLS_TRUSTED_REPOS"

log = logging.getLogger(__name__)


class Prompt(Protocol):
    """Asks a person a yes/no question, when one can be asked."""

    def available(self) -> bool:
        """True when there is someone to ask (a terminal, a dialog)."""
        ...

    def ask(self, message: str) -> bool:
        """The answer to ``message`` (True for yes)."""
        ...


def _ask_on_terminal(message: str) -> bool:
    """Ask on stderr and read stdin (the one place the library talks to a user)."""
    sys.stderr.write(f"{message} Continue? [y/N] ")
    sys.stderr.flush()
    try:
        return input().strip().lower() in {"y", "yes"}
    except EOFError:
        return False


@dataclass(frozen=True)
class TerminalPrompt:
    """Asks on the terminal, when stdin and stderr are one; ``confirm`` asks the
    question (default: a ``[y/N]`` line on stderr read from stdin)."""

    confirm: Callable[[str], bool] = _ask_on_terminal

    def available(self) -> bool:
        """True when stdin and stderr are terminals."""
        return sys.stdin.isatty() and sys.stderr.isatty()

    def ask(self, message: str) -> bool:
        """The answer ``confirm`` gets."""
        return self.confirm(message)


def is_trusted(repository: Repository, settings: Settings, *, trust_repo: bool) -> bool:
    """True when ``repository`` is trusted without asking: ``trust_repo``, the
    official zoo, a local folder, ``settings.trusted_repos``
    (``HUBTOOLS_TRUSTED_REPOS``) or the trusted list in the cache folder (``*``
    trusts all). Raises OSError when the trusted list exists but cannot be read."""
    if trust_repo or repository.official or repository.kind == "local":
        return True
    entries = set(settings.trusted_repos) | read_trusted(settings.cache_dir)
    if "*" in entries:
        return True
    names = {n.lower() for n in repository.trust_names}
    for entry in entries:
        if entry.lower().rstrip("/") in names:
            return True
        if repository.kind == "local" and Path(entry).expanduser().resolve() == Path(
            repository.trust_names[0]
        ):
            return True
    return False


def remember(repository: Repository, settings: Settings) -> None:
    """Record ``repository`` (``owner/name``, any ref, for a GitHub one) in the trusted
    list, after a person said yes. A list that cannot be written leaves the
    trust for this run only, with a warning saying why. Raises nothing."""
    name = repository.trust_names[0]
    where = trusted_file(settings.cache_dir)
    try:
        added = cache.add_trusted(settings.cache_dir, name)
    except OSError as err:
        log.warning(
            "trusting %s for this run only: cannot record it in %s (%s); make the cache "
            "writable, or set HUBTOOLS_TRUSTED_REPOS=%s",
            name,
            where,
            err.strerror or err,
            name,
        )
        return
    if added:
        log.info(
            "%s is trusted from now on: recorded in %s (`hubtools trust rm %s`)", name, where, name
        )


def ensure_trust(
    repository: Repository, settings: Settings, *, trust_repo: bool, prompt: Prompt
) -> bool:
    """True to go on, False when the person asked said no.

    A yes is remembered in the trusted list (:func:`remember`). Raises
    :class:`~hubtools.errors.UntrustedRepositoryError` when the repository is
    not trusted and ``prompt`` has nobody to ask, naming the ways to trust it.
    """
    if is_trusted(repository, settings, trust_repo=trust_repo):
        return True
    name = repository.trust_names[0]
    where = trusted_file(settings.cache_dir)
    if prompt.available():
        message = (
            f"The model repository {repository.spec} is not trusted and may contain "
            "security vulnerabilities. Only continue if you trust it; a yes is remembered "
            f"in {where} (`hubtools trust rm {name}` forgets it)."
        )
        if prompt.ask(message):
            remember(repository, settings)
            return True
        log.warning("not downloading from untrusted repository %s", repository.spec)
        return False
    raise UntrustedRepositoryError(
        f"repository {repository.spec} is not trusted and there is no terminal to ask; "
        f"trust it with trust_repo=True (hubtools download --trust), "
        f"HUBTOOLS_TRUSTED_REPOS={name}, or `hubtools trust add {name}` (a line {name!r} "
        f"in {where})"
    )


def trust_entry(spec: str, settings: Settings) -> str:
    """The trusted-list line for the repository ``spec``: ``owner/name`` (any ref) or
    ``owner/name:ref`` as written, a URL, a folder's absolute path, or ``*``.
    Raises UsageError when ``spec`` is not a repository."""
    spec = spec.strip()
    if spec == "*":
        return spec
    repository = parse_repo(spec, settings)
    if repository.kind == "github" and ":" in spec:
        return repository.trust_names[1]
    return repository.trust_names[0]


def forget(spec: str, settings: Settings) -> bool:
    """Remove ``spec`` from the trusted list (read as :func:`trust_entry` reads it, or
    as written when it no longer names a repository, such as a folder since
    removed); False when the list did not hold it. Raises OSError when the list
    cannot be written."""
    try:
        entry = trust_entry(spec, settings)
    except UsageError:
        entry = spec.strip()
    return cache.remove_trusted(settings.cache_dir, entry)


def trusted_entries(settings: Settings) -> list[tuple[str, str]]:
    """Every entry that grants trust without asking, with where it comes from:
    :data:`BUILT_IN`, :data:`FROM_ENV`, or the trusted list's path. Raises
    OSError when the list exists but cannot be read."""
    out = [("onnx/models", BUILT_IN)]
    out += [(entry, FROM_ENV) for entry in settings.trusted_repos]
    where = str(trusted_file(settings.cache_dir))
    out += [(entry, where) for entry in cache.trusted_lines(settings.cache_dir)]
    return out
