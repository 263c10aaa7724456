"""What an edit of a text file did: the lines it added, asserting it changed or removed none."""

from __future__ import annotations

import difflib


def added_lines(before: str, after: str) -> list[str]:
    """The lines ``after`` adds to ``before``; fails if it changes or removes any."""
    matcher = difflib.SequenceMatcher(
        a=before.splitlines(True), b=after.splitlines(True), autojunk=False
    )
    added = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        assert tag in ("equal", "insert"), (tag, before.splitlines()[i1:i2])
        if tag == "insert":
            added += after.splitlines(True)[j1:j2]
    return added
