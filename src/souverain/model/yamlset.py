"""Sets one string in a YAML file that a person edits, changing none of its other bytes.

Where the key is there, only its value's text on its line is replaced; where it is not, its
line (and those of the mappings missing on the way) goes in right under the deepest mapping
that is there, at that mapping's indentation. The result is read again: it must hold exactly
the old data with that one value set, or the edit is refused (as yamledit does for lists).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from ruamel.yaml.comments import CommentedMap

from souverain.model.yamledit import LayoutRefused, check_reads_as, load_for_edit, plain

_DOUBLE_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_SINGLE_QUOTED = re.compile(r"'(?:[^']|'')*'")
_PLAIN = re.compile(r"[^#]*?(?=\s+#|\s*$)")
_STEP = 2


def set_string(text: str, keys: Sequence[str], value: str) -> str:
    """``text`` with the string at ``keys`` (mapping keys from the root) set to ``value``."""
    if not keys:
        raise ValueError("no key to set")
    document = load_for_edit(text)
    if document is None:
        document = CommentedMap()
    if not isinstance(document, CommentedMap):
        raise LayoutRefused("the file is not a mapping at its top")
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.split("\n")
    node, depth = document, 0
    while depth < len(keys) - 1 and isinstance(node.get(keys[depth]), CommentedMap):
        node, depth = node[keys[depth]], depth + 1
    path = ".".join(keys)
    if node.fa.flow_style():
        raise LayoutRefused(
            f"{'.'.join(keys[:depth]) or 'the file'} is written as a flow mapping {{...}}",
            hint=f"write it as a block mapping (one key per line), or set {path} by hand",
        )
    quoted = json.dumps(value, ensure_ascii=False)
    if depth == len(keys) - 1 and keys[-1] in node:
        if isinstance(node[keys[-1]], dict | list):
            raise LayoutRefused(f"{path} holds a mapping or a list, not a string")
        line, column = node.lc.value(keys[-1])
        lines[line] = _replace_value(lines[line], column, quoted, path, line)
    else:
        missing = keys[depth:]
        if node is document:
            at, column, step = len(lines), 0, _step_of(document)
            if lines and lines[-1] == "":
                at -= 1  # before the final line break
        else:
            key_line, key_column = _parent(document, keys[:depth]).lc.key(keys[depth - 1])
            at = key_line + 1
            column = node.lc.key(next(iter(node)))[1] if node else key_column + _STEP
            step = column - key_column if column > key_column else _STEP
        carriage = "\r" if newline == "\r\n" else ""
        added = [
            " " * (column + index * step) + f"{key}:" + carriage
            for index, key in enumerate(missing[:-1])
        ]
        last = " " * (column + (len(missing) - 1) * step) + f"{missing[-1]}: {quoted}" + carriage
        lines[at:at] = [*added, last]
    result = "\n".join(lines)
    if not result.endswith("\n"):
        result += newline
    _check(document, result, keys, value)
    return result


def _parent(document: CommentedMap, keys: Sequence[str]) -> CommentedMap:
    node = document
    for key in keys[:-1]:
        node = node[key]
    return node


def _step_of(document: CommentedMap) -> int:
    """The indentation the file uses under its top keys (the first nested mapping's)."""
    for value in document.values():
        if isinstance(value, CommentedMap) and value and not value.fa.flow_style():
            return max(value.lc.key(next(iter(value)))[1], 1)
    return _STEP


def _replace_value(line: str, column: int, quoted: str, path: str, number: int) -> str:
    rest = line[column:]
    for pattern in (
        (_DOUBLE_QUOTED if rest.startswith('"') else None),
        (_SINGLE_QUOTED if rest.startswith("'") else None),
        _PLAIN,
    ):
        if pattern is None:
            continue
        match = pattern.match(rest)
        if match and match.group(0).strip():
            return line[:column] + quoted + rest[match.end() :]
    raise LayoutRefused(
        f"the value of {path} is not a one-line string", line=number + 1,
        hint=f"write {path} on one line, or set it by hand",
    )  # fmt: skip


def _check(before: CommentedMap, text: str, keys: Sequence[str], value: str) -> None:
    expected: Any = plain(before)
    node = expected
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    path = ".".join(keys)
    check_reads_as(
        text,
        expected,
        what=f"{path} cannot be set cleanly",
        hint=f"set {path} by hand, then run again",
    )
