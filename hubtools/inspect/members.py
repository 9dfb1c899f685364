"""Whether an archive holds an ONNX model, told from as little of it as
possible: a zip's central directory, or a tar's member headers up to the
first ``.onnx`` one, within a bounded amount of content. It answers a yes,
a no, or "cannot tell" and never raises for bad content; it must not extract
anything, judge the archive's safety (:mod:`hubtools.core.archives` does), or
import onnx.
"""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

from hubtools.core.files import LFS_POINTER_MAX_BYTES, _open, parse_lfs_pointer

__all__ = ["PEEK_BYTES", "archive_holds_onnx"]

#: The most member content a tar is read through (decompressed) to find its
#: first ``.onnx`` member; past it, the answer is "cannot tell".
PEEK_BYTES = 64 << 20


def archive_holds_onnx(path: Path, archive: str) -> bool | None:
    """Whether the ``archive`` (``"tar.gz"`` or ``"zip"``) at ``path`` has an
    ``.onnx`` member; None when that cannot be told: a Git LFS pointer, an
    archive that cannot be read, or more than :data:`PEEK_BYTES` of other
    members before the first ``.onnx``."""
    try:
        with _open(Path(path)) as handle:
            if parse_lfs_pointer(handle.read(LFS_POINTER_MAX_BYTES + 1)) is not None:
                return None
            handle.seek(0)
            if archive == "zip":
                with zipfile.ZipFile(handle) as zipped:
                    return any(name.endswith(".onnx") for name in zipped.namelist())
            with tarfile.open(fileobj=handle, mode="r|*") as tar:
                content = 0
                for member in tar:
                    if member.isfile() and member.name.endswith(".onnx"):
                        return True
                    content += max(member.size, 0)
                    if content > PEEK_BYTES:
                        return None
                return False
    except (OSError, EOFError, ValueError, tarfile.TarError, zipfile.BadZipFile):
        return None
