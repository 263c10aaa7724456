"""Adds an entry to a block list of a YAML file that a person edits, changing none of its bytes.

ruamel.yaml reads the file (round trip: positions, quoting and flow styles kept) to find where
the list is, how its entries are indented and quoted, and writes the new entry in that style.
The entry goes in as text, after the list's last line: every byte already there stays as it
was (a full ruamel dump moves the comment that follows a list into its new last entry, and
rewrites spacing it does not keep), and the result is read again to check that it holds
exactly the old data plus the entry. A layout where that cannot be done cleanly (a flow list
`[...]`, a list reached through an alias) is refused, with what to change.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

# Line breaks that YAML 1.1 readers count and str.split("\n") does not: positions would differ.
_OTHER_BREAKS = ("\x85", "\u2028", "\u2029")
_DEFAULT_STEP = 2


class LayoutRefused(Exception):
    """The file's layout leaves no clean place for the entry; says what to change."""

    def __init__(self, message: str, line: int | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line  # 1-based
        self.hint = hint


@dataclass(frozen=True)
class Insertion:
    """The file with the entry added, and where the entry's lines are."""

    text: str
    first_line: int  # 1-based line of the entry's first line in ``text``
    count: int  # number of lines added

    @property
    def last_line(self) -> int:
        return self.first_line + self.count - 1

    def original_line(self, line: int) -> int | None:
        """The line of ``text`` as numbered in the file before: None inside the entry."""
        if line < self.first_line:
            return line
        if line <= self.last_line:
            return None
        return line - self.count


def _reader() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    return yaml


def load_round_trip(text: str) -> Any:
    """The document as ruamel's round-trip loader reads it (comments, quotes, positions)."""
    return _reader().load(text)


def load_for_edit(text: str) -> Any:
    """``text`` read with its layout kept (as load_round_trip), or LayoutRefused saying why
    it cannot be read."""
    try:
        return load_round_trip(text)
    except YAMLError as error:
        raise LayoutRefused(f"the file cannot be read as YAML: {error}") from None


def dump_round_trip(document: Any, *, mapping: int = 2, sequence: int = 4, offset: int = 2) -> str:
    """Write a round-trip document back with the given indentation (no line folding)."""
    yaml = _reader()
    yaml.width = 4096
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def plain(value: Any) -> Any:
    """Round-trip data as plain dicts, lists and scalars (for comparing two readings)."""
    if isinstance(value, Mapping):
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def append_to_block_list(text: str, keys: Sequence[str], entry: Mapping[str, Any]) -> Insertion:
    """``text`` with ``entry`` appended to the block list at ``keys`` (mapping keys from the root).

    The entry's scalars are quoted as the list's last entry quotes the same key; its lists
    take the flow or block style of the same key there (flow when absent), its mappings the
    indentation step the file uses.
    """
    for mark in _OTHER_BREAKS:
        if mark in text:
            raise LayoutRefused(
                f"the file holds the line separator U+{ord(mark):04X}",
                hint="remove it (an editor put it there), then run again",
            )
    if "\r" in text.replace("\r\n", ""):
        raise LayoutRefused("the file ends some lines with a lone carriage return (CR)")
    newline = "\r\n" if "\r\n" in text else "\n"
    document = load_for_edit(text)
    parent, items = find_list(document, keys)
    name = ".".join(keys)
    key_line, key_column = parent.lc.key(keys[-1])
    if items.fa.flow_style() or not items:
        raise LayoutRefused(
            f"{name} is written as a flow list ({name}: [...]) on line {key_line + 1}",
            key_line + 1,
            f"write it as a block list, one '- ' entry per line under '{keys[-1]}:', "
            "then run again",
        )
    item_lines = [items.lc.item(index)[0] for index in range(len(items))]
    if min(item_lines) <= key_line:
        raise LayoutRefused(
            f"{name} is not written under its key on line {key_line + 1} (an alias to a "
            "list elsewhere?)",
            key_line + 1,
            f"write the entries of {name} under '{keys[-1]}:', then run again",
        )
    lines = text.split("\n")  # a line of a CRLF file keeps its "\r"
    dash, content = _entry_columns(lines, items, name)
    cr = "\r" if newline == "\r\n" else ""
    rendered = _render_entry(entry, items, lines, (dash, content), _mapping_step(items))
    new_lines = [line + cr for line in rendered]
    end = _last_line_of_list(lines, max(item_lines), key_column)
    if end == len(lines) - 1:  # the list ends the file, on a line without a line break
        lines[end] += cr
        lines.append("")
    result = "\n".join([*lines[: end + 1], *new_lines, *lines[end + 1 :]])
    _check(document, result, keys, entry)
    return Insertion(result, end + 2, len(new_lines))


def find_list(document: Any, keys: Sequence[str]) -> tuple[CommentedMap, CommentedSeq]:
    """The mapping that holds the list at ``keys``, and the list; LayoutRefused if none."""
    node = document
    parent: Any = None
    for depth, key in enumerate(keys):
        if not isinstance(node, CommentedMap) or key not in node:
            where = ".".join(keys[: depth + 1])
            raise LayoutRefused(f"the file has no '{where}' to add to")
        parent, node = node, node[key]
    if not isinstance(node, CommentedSeq):
        raise LayoutRefused(f"'{'.'.join(keys)}' is not a list")
    return parent, node


def _entry_columns(lines: list[str], items: CommentedSeq, name: str) -> tuple[int, int]:
    """The columns of the last entry's dash and of its content (its first key)."""
    line, column = items.lc.item(len(items) - 1)
    dash = _dash_column(lines[line], column)
    if dash is None or lines[line][:dash].strip() or not isinstance(items[-1], CommentedMap):
        raise LayoutRefused(
            f"the last entry of {name}, line {line + 1}, is not a '- key: value' entry",
            line + 1,
            "write each entry as '- key: value' with its other keys below, then run again",
        )
    return dash, column


def _block_values(items: CommentedSeq, kind: type) -> Iterator[tuple[int, Any]]:
    """Each non-empty block-style ``kind`` value under a key of an entry, last entry first,
    with the column of its key: what shows how the file indents nested blocks."""
    for item in reversed(items):
        if not isinstance(item, CommentedMap):
            continue
        for key, value in item.items():
            if isinstance(value, kind) and value and not value.fa.flow_style():
                yield item.lc.key(key)[1], value


def _mapping_step(items: CommentedSeq) -> int:
    """How far the file indents a mapping inside an entry (2 unless an entry shows it)."""
    for key_column, value in _block_values(items, CommentedMap):
        step = value.lc.key(next(iter(value)))[1] - key_column
        if step > 0:
            return int(step)
    return _DEFAULT_STEP


def _styled(value: Any, model: Any) -> Any:
    """``value`` in the style of ``model``, the same key's value in the list's last entry."""
    if isinstance(value, str):
        if isinstance(model, DoubleQuotedScalarString):
            return DoubleQuotedScalarString(value)
        if isinstance(model, SingleQuotedScalarString):
            return SingleQuotedScalarString(value)
        return value
    if isinstance(value, Mapping):
        styled = CommentedMap()
        for key, item in value.items():
            styled[key] = _styled(item, model.get(key) if isinstance(model, Mapping) else None)
        if isinstance(model, CommentedMap) and model.fa.flow_style():
            styled.fa.set_flow_style()
        return styled
    if isinstance(value, list | tuple):
        first = model[0] if isinstance(model, list) and model else None
        styled_list = CommentedSeq(_styled(item, first) for item in value)
        if not isinstance(model, CommentedSeq) or model.fa.flow_style():
            styled_list.fa.set_flow_style()
        return styled_list
    return value


def _list_style(items: CommentedSeq, lines: list[str]) -> tuple[int, int]:
    """How an entry indents a block list under a key: (its items' content, its dashes),
    counted from the key's column; (4, 2) unless an entry shows one."""
    for key_column, value in _block_values(items, CommentedSeq):
        line, content = value.lc.item(0)
        dash = _dash_column(lines[line], content)
        if dash is not None:
            return content - key_column, dash - key_column
    return 4, 2


def _dash_column(line: str, content: int) -> int | None:
    """The column of the dash before ``content`` on ``line`` (ruamel keeps no dash column)."""
    dash = content - 1
    while dash >= 0 and line[dash] == " ":
        dash -= 1
    if dash < 0 or line[dash] != "-":
        return None
    return dash


def _render_entry(
    entry: Mapping[str, Any],
    items: CommentedSeq,
    lines: list[str],
    columns: tuple[int, int],
    step: int,
) -> list[str]:
    """The entry's lines at their columns: the first after a dash at ``dash``, the others
    at ``content``."""
    dash, content = columns
    styled = _styled(entry, items[-1])
    sequence, offset = _list_style(items, lines)
    text = dump_round_trip(styled, mapping=step, sequence=sequence, offset=max(offset, 0))
    lines = text.rstrip("\n").split("\n")
    first = " " * dash + "-" + " " * (content - dash - 1) + lines[0]
    return [first, *(" " * content + line if line else line for line in lines[1:])]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _last_line_of_list(lines: list[str], last_item: int, key_column: int) -> int:
    """The last line that belongs to the list (0-based): its last entry's content and the
    comments indented under the key; blank lines and comments back at the key's column after
    it belong to what follows."""
    end = last_item
    for index in range(last_item + 1, len(lines)):
        line = lines[index].rstrip("\r")
        stripped = line.strip()
        if not stripped:
            continue
        if stripped in ("...", "---") and _indent(line) == 0:
            break
        if _indent(line) > key_column:
            end = index
        elif not stripped.startswith("#"):
            break
    return end


def _check(before: Any, text: str, keys: Sequence[str], entry: Mapping[str, Any]) -> None:
    """The new text must read as the old data plus the entry, and nothing else."""
    expected = plain(before)
    node = expected
    for key in keys:
        node = node[key]
    node.append(plain(entry))
    check_reads_as(
        text,
        expected,
        what=f"the entry cannot be added cleanly to {'.'.join(keys)}",
        hint="add the entry by hand, or simplify the list, then run again",
    )


def check_reads_as(text: str, expected: Any, *, what: str, hint: str) -> None:
    """``text`` must read as ``expected`` (plain data), or LayoutRefused saying ``what``."""
    try:
        after = plain(load_round_trip(text))
    except YAMLError as error:
        raise LayoutRefused(f"{what} here: {error}") from None
    if after != expected:
        raise LayoutRefused(
            f"{what} in this layout (anchors, aliases or merge keys around it?)", hint=hint
        )
