"""File writes that never leave a half-written file behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes | str, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename.

    The file has ``mode`` from the moment it exists, so a secret is never briefly world-readable.
    """
    payload = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    _replace(path, payload, mode, None)


def _replace(target: Path, data: bytes, mode: int, owner: tuple[int, int] | None) -> None:
    """Write ``data`` to a temporary file beside ``target`` with ``owner`` (uid, gid) and
    ``mode`` set before any byte is in it, flush it to disk, then rename it over ``target``."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if owner is not None:
            created = os.fstat(fd)
            if (created.st_uid, created.st_gid) != owner:
                os.fchown(fd, *owner)  # before the mode: chown clears setuid
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


class ChangedMeanwhile(Exception):
    """The file changed between the moment it was read and the moment it is replaced."""


def replace_keeping_metadata(path: Path, data: bytes, *, expected: bytes | None = None) -> None:
    """Replace the file at ``path`` atomically, keeping its mode, owner and group.

    A symbolic link is followed: the file it points to is replaced, the link stays. With
    ``expected``, the file must still hold those bytes (a concurrent edit is not overwritten).
    """
    target = path.resolve()
    status = target.stat()
    if expected is not None and target.read_bytes() != expected:
        raise ChangedMeanwhile(str(target))
    _replace(target, data, status.st_mode & 0o7777, (status.st_uid, status.st_gid))
