"""Whether files of a repository may be downloaded: the trust policy, and the
prompt that asks a person when the policy cannot decide.

The policy reads settings and the trusted list; the prompt is a small object
the caller passes in (:class:`TerminalPrompt` by default), so tests and other
front ends give their own instead of patching this module. Nothing here
downloads or writes.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hubtools.client.cache import read_trusted, trusted_file
from hubtools.client.config import Settings
from hubtools.client.repository import Repository
from hubtools.errors import UntrustedRepositoryError

__all__ = ["Prompt", "TerminalPrompt", "ensure_trust", "is_trusted"]

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
    official zoo, ``settings.trusted_repos`` (``HUBTOOLS_TRUSTED_REPOS``) or the
    trusted list in the cache folder (``*`` trusts all). Raises OSError when
    the trusted list exists but cannot be read."""
    if trust_repo or repository.official:
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


def ensure_trust(
    repository: Repository, settings: Settings, *, trust_repo: bool, prompt: Prompt
) -> bool:
    """True to go on, False when the person asked said no.

    Raises :class:`~hubtools.errors.UntrustedRepositoryError` when the
    repository is not trusted and ``prompt`` has nobody to ask, naming the
    three ways to trust it.
    """
    if is_trusted(repository, settings, trust_repo=trust_repo):
        return True
    if prompt.available():
        message = (
            f"The model repository {repository.spec} is not trusted and may contain "
            "security vulnerabilities. Only continue if you trust it."
        )
        if prompt.ask(message):
            return True
        log.warning("not downloading from untrusted repository %s", repository.spec)
        return False
    name = repository.trust_names[0]
    raise UntrustedRepositoryError(
        f"repository {repository.spec} is not trusted and there is no terminal to ask; "
        f"trust it with trust_repo=True (hubtools download --trust), "
        f"HUBTOOLS_TRUSTED_REPOS={name}, or a line {name!r} in "
        f"{trusted_file(settings.cache_dir)}"
    )
