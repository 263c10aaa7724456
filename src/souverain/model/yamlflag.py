"""Sets or clears one boolean key of one entry of a block list, in a YAML file that a person
edits (a tenant's ``suspended`` in suite.yml), changing none of the file's other lines.

Set: the key's value is replaced where the key is there; otherwise its line goes in right
under the line of the key that names the entry (``id``), at that key's indentation. Cleared:
the key's line goes, so that suspending then resuming gives back the file as it was; where
the key shares its line with the entry's dash, its value becomes ``false`` instead. The
result is read again and must hold exactly the old data with that one change, or the edit is
refused (LayoutRefused), as yamledit and yamlset do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ruamel.yaml.comments import CommentedMap

from souverain.model.yamledit import (
    LayoutRefused,
    check_reads_as,
    find_list,
    load_for_edit,
    plain,
)

_TOKEN = re.compile(r"[^\s#]+")


def set_entry_flag(
    text: str, keys: Sequence[str], name_key: str, name: str, flag: str, value: bool
) -> str:
    """``text`` with ``flag`` set to ``value`` in the entry of the list at ``keys`` whose
    ``name_key`` is ``name`` (unchanged when it already reads so; a false flag is removed)."""
    document = load_for_edit(text)
    _, items = find_list(document, keys)
    where = ".".join(keys)
    index, entry = _entry(items, name_key, name, where)
    if entry.get(flag, False) is value and (value or flag not in entry):
        return text
    cr = "\r" if "\r\n" in text else ""
    lines = text.split("\n")  # a line of a CRLF file keeps its "\r"
    path = f"{where}[{index}].{flag}"
    kept_as_false = False
    if flag in entry:
        key_line, key_column = entry.lc.key(flag)
        value_line, value_column = entry.lc.value(flag)
        if value_line != key_line or isinstance(entry[flag], dict | list):
            raise LayoutRefused(f"{path} is not written on one line", key_line + 1)
        standalone = not lines[key_line][:key_column].strip()
        if value or not standalone:
            lines[key_line] = _with_value(lines[key_line], value_column, value, path, key_line)
            kept_as_false = not value
        else:
            del lines[key_line]
    else:
        key_line, key_column = entry.lc.key(name_key)
        if entry.lc.value(name_key)[0] != key_line:
            raise LayoutRefused(f"{where}[{index}].{name_key} is not written on one line")
        lines.insert(key_line + 1, " " * key_column + f"{flag}: true" + cr)
    result = "\n".join(lines)
    expected: Any = plain(document)
    changed = expected
    for key in keys:
        changed = changed[key]
    if value or kept_as_false:
        changed[index][flag] = value
    else:
        del changed[index][flag]
    check_reads_as(
        result,
        expected,
        what=f"{path} cannot be set cleanly",
        hint=f"set {flag}: {'true' if value else 'false'} in that entry by hand, then run again",
    )
    return result


def _entry(items: Any, name_key: str, name: str, where: str) -> tuple[int, CommentedMap]:
    for index, entry in enumerate(items):
        if isinstance(entry, CommentedMap) and entry.get(name_key) == name:
            if entry.fa.flow_style():
                raise LayoutRefused(
                    f"the entry of {where} with {name_key} {name} is written as a flow "
                    "mapping {...}",
                    items.lc.item(index)[0] + 1,
                    "write it as a block mapping (one key per line), then run again",
                )
            return index, entry
    raise LayoutRefused(f"{where} has no entry with {name_key} {name}")


def _with_value(line: str, column: int, value: bool, path: str, number: int) -> str:
    match = _TOKEN.match(line, column)
    if match is None:
        raise LayoutRefused(f"the value of {path} cannot be found on its line", number + 1)
    return line[:column] + ("true" if value else "false") + line[match.end() :]
