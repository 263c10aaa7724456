"""Takes one entry out of a block list, in a YAML file that a person edits (a tenant leaving
suite.yml), changing none of the file's other lines.

The entry's lines go: from its dash to its last line indented under the dash (its keys, and
comments among them). Comments above it and blank lines around it stay: they may speak of
the list, or of the entry that follows. The result is read again and must hold exactly the
old data less that entry, or the edit is refused (LayoutRefused), as yamledit does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from souverain.model.yamledit import (
    LayoutRefused,
    _dash_column,
    _indent,
    check_reads_as,
    find_list,
    load_for_edit,
    plain,
)
from souverain.model.yamlflag import _entry


@dataclass(frozen=True)
class Removal:
    text: str
    first_line: int  # 1-based, of the entry in the file as it was
    last_line: int
    removed: str  # the entry's lines as they were


def remove_entry(text: str, keys: Sequence[str], name_key: str, name: str) -> Removal:
    """``text`` without the entry of the list at ``keys`` whose ``name_key`` is ``name``."""
    document = load_for_edit(text)
    _, items = find_list(document, keys)
    where = ".".join(keys)
    index, _entry_map = _entry(items, name_key, name, where)
    start, column = items.lc.item(index)
    lines = text.split("\n")  # a line of a CRLF file keeps its "\r"
    dash = _dash_column(lines[start], column)
    if dash is None or lines[start][:dash].strip():
        raise LayoutRefused(
            f"the entry of {where} with {name_key} {name} does not start a line with '- '",
            start + 1,
            "write each entry as '- key: value' with its other keys below, then run again",
        )
    end = start
    for number in range(start + 1, len(lines)):
        line = lines[number].rstrip("\r")
        if not line.strip():
            continue
        if _indent(line) <= dash:
            break
        end = number
    result = "\n".join([*lines[:start], *lines[end + 1 :]])
    expected: Any = plain(document)
    remaining = expected
    for key in keys:
        remaining = remaining[key]
    del remaining[index]
    check_reads_as(
        result,
        expected,
        what=f"the entry cannot be taken out of {where} cleanly",
        hint=f"delete the entry with {name_key} {name} by hand, then run again",
    )
    removed = "\n".join(line.rstrip("\r") for line in lines[start : end + 1]) + "\n"
    return Removal(result, start + 1, end + 1, removed)
