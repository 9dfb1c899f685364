"""write_atomic with ``follow`` (an output the user named): a link keeps
pointing at the file written, a FIFO or a link through /proc is written
through; without it, a link is replaced like a file."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from hubtools.core.files import write_atomic


def test_a_link_is_followed_only_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "target.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    write_atomic(link, "new", follow=True)
    assert link.is_symlink()
    assert target.read_text() == "new"
    write_atomic(link, "replaced")
    assert not link.is_symlink()  # a shared folder's planted link redirects nothing
    assert (target.read_text(), link.read_text()) == ("new", "replaced")


def test_a_fifo_is_written_through(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_atomic(fifo, b"through", follow=True)
    reader.join(10)
    assert got == [b"through"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]  # no temporary left


def test_a_link_through_proc_is_written_through(tmp_path: Path) -> None:
    """As /dev/stdout is: a link to /proc/self/fd/N, here to a regular file."""
    out = tmp_path / "out.json"
    with open(out, "wb") as handle:
        link = tmp_path / "stdout"
        link.symlink_to(f"/proc/self/fd/{handle.fileno()}")
        write_atomic(link, "to the descriptor", follow=True)
    assert link.is_symlink()
    assert out.read_text() == "to the descriptor"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "stdout"]
