"""suite.yml written back after a tenant command edited it: atomically, with its mode and
owner, and only if nobody changed it since it was read; any failure a UsageError saying that
nothing was written."""

from __future__ import annotations

from pathlib import Path

from souverain.errors import UsageError
from souverain.fsutil import ChangedMeanwhile, replace_keeping_metadata


def write_suite(suite_file: Path, read: str, edited: str, *, during: str) -> None:
    """Replace ``suite_file``, read as ``read``, by ``edited``; ``during`` names the edit
    ("the tenant was being added") in the message when the file changed meanwhile."""
    try:
        replace_keeping_metadata(suite_file, edited.encode("utf-8"), expected=read.encode("utf-8"))
    except ChangedMeanwhile:
        raise UsageError(
            f"{suite_file} changed while {during}; nothing was written",
            hint="run the command again",
        ) from None
    except OSError as error:
        raise UsageError(
            f"cannot write {suite_file}: {error.strerror or error}; nothing was written",
            hint="run as the user who owns suite.yml",
        ) from None
