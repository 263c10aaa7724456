"""Reads suite.yml into plain Python data, remembering where each value came from.

The document is composed into nodes (PyYAML, with libyaml when available) and converted by
hand, which lets us refuse, quickly and
with bounded memory: oversized files, control characters, overlong lists, deep nesting, alias
bombs, duplicate keys, numbers of thousands of digits and multiple documents, and keep a line
and column for every field path (and for values merged with '<<', the merge site) so that each
validation error can point into the file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.error import MarkedYAMLError, YAMLError
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    Event,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
    SequenceStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from souverain.errors import ConfigError, Problem
from souverain.model.limits import LIST_ITEMS, MAPPING_KEYS, CountLimit

# libyaml's parser when PyYAML was built with it (Debian's and PyPI's wheels are): several
# times faster on large suites than a pure-Python parser.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 40
MAX_NODES = 1_000_000  # counted with aliases expanded
MAX_DIGITS = 64  # no setting takes a whole number that long; Python refuses beyond 4,300

# What YAML allows in a stream (YAML 1.1, section 5.1): anything else is refused before parsing.
_FORBIDDEN = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
INT_TAG = "tag:yaml.org,2002:int"

Path = tuple[str | int, ...]
MERGE_TAG = "tag:yaml.org,2002:merge"
ALLOWED_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "merge")
)


@dataclass
class SourceMap:
    """Where each field path sits in the file (1-based line and column).

    ``merges`` holds, for each key a mapping took from another one through '<<', where that
    merge key stands: ``values`` and ``keys`` point into the anchored mapping.
    """

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    merges: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path, *, prefer_key: bool = False) -> tuple[int | None, int | None]:
        """The position of ``path``, or of its nearest ancestor that has one."""
        probe = tuple(path)
        while True:
            table_order = (self.keys, self.values) if prefer_key else (self.values, self.keys)
            for table in table_order:
                if probe in table:
                    return table[probe]
            if not probe:
                return None, None
            probe = probe[:-1]

    def merge_site(self, path: Path) -> tuple[int, int] | None:
        """Where the '<<' stands through which ``path`` (or an ancestor) got its value."""
        probe = tuple(path)
        while probe:
            if probe in self.merges:
                return self.merges[probe]
            probe = probe[:-1]
        return None

    def adopt(self, other: SourceMap, under: Path, merged_at: tuple[int, int]) -> None:
        """Take ``other``'s positions of ``under`` and below, as merged at ``merged_at``."""
        size = len(under)
        for mine, theirs in (
            (self.values, other.values),
            (self.keys, other.keys),
            (self.merges, other.merges),
        ):
            for path, position in theirs.items():
                if path[:size] == under:
                    mine.setdefault(path, position)
        self.merges.setdefault(under, merged_at)


class _Refused(Exception):
    def __init__(
        self,
        message: str,
        node: Node | None,
        hint: str | None = None,
        path: Path | None = None,
        mark: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.path = path
        if node is not None:
            mark = node.start_mark
        self.position = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)

    def problem(self, file: str) -> Problem:
        path = format_path(self.path) if self.path is not None else None
        line, column = self.position
        return Problem(self.message, file, line, column, path, self.hint)


def _position(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Converter:
    def __init__(
        self, source: SourceMap, scalars: Any, sizes: dict[int, int] | None = None
    ) -> None:
        self.source = source
        self.scalars = scalars
        self.sizes: dict[int, int] = {} if sizes is None else sizes

    def size(self, node: Node, depth: int = 0) -> int:
        """Number of nodes once aliases are expanded (memoised, so linear in distinct nodes)."""
        if depth > MAX_DEPTH:
            raise _Refused(
                f"the document is nested more than {MAX_DEPTH} levels deep",
                node,
                "suite.yml is never that deep; check the indentation",
            )
        known = self.sizes.get(id(node))
        if known is not None:
            return known
        total = 1
        if isinstance(node, MappingNode):
            for key, value in node.value:
                total += self.size(key, depth + 1) + self.size(value, depth + 1)
                if total > MAX_NODES:
                    break
        elif isinstance(node, SequenceNode):
            for item in node.value:
                total += self.size(item, depth + 1)
                if total > MAX_NODES:
                    break
        self.sizes[id(node)] = total
        if total > MAX_NODES:
            raise _Refused(
                f"the document expands to more than {MAX_NODES:,} values "
                "(anchors and aliases that multiply?)",
                node,
            )
        return total

    def convert(self, node: Node, path: Path) -> Any:
        self.source.values.setdefault(path, _position(node))
        if node.tag not in ALLOWED_TAGS:
            raise _Refused(
                f"the YAML tag {node.tag!r} is not allowed",
                node,
                "suite.yml holds plain strings, numbers, booleans, lists and mappings",
                path,
            )
        if isinstance(node, ScalarNode):
            if node.tag == MERGE_TAG:
                raise _Refused("a merge key ('<<') is only allowed as a mapping key", node)
            return self._scalar(node, path)
        if isinstance(node, SequenceNode):
            return [self.convert(item, (*path, index)) for index, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        raise _Refused("unsupported YAML node", node)

    def _scalar(self, node: ScalarNode, path: Path) -> Any:
        if node.tag == INT_TAG:
            digits = sum(character.isdigit() for character in node.value)
            if digits > MAX_DIGITS:
                raise _Refused(
                    f"a whole number of {digits:,} digits: no setting takes a number of more than "
                    f"{MAX_DIGITS} digits",
                    node,
                    "check this value; quote it if it is meant as text",
                    path,
                )
        try:
            return self.scalars.construct_object(node, deep=True)
        except (ValueError, OverflowError, YAMLError):
            raise _Refused(
                f"{node.value[:40]!r} cannot be read as a {node.tag.rsplit(':', 1)[-1]}",
                node,
                "quote it if it is meant as text",
                path,
            ) from None

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merges: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merges.append((key_node, value_node))
                continue
            if not isinstance(key_node, ScalarNode):
                raise _Refused(
                    "mapping keys must be plain names, not lists or mappings", key_node, path=path
                )
            key = self._scalar(key_node, path)
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                line, _ = self.source.keys[(*path, key)]
                raise _Refused(
                    f"duplicate key {key!r} (first defined on line {line})",
                    key_node,
                    "a key may appear once per mapping; remove or merge the duplicates",
                    (*path, key),
                )
            self.source.keys[(*path, key)] = _position(key_node)
            result[key] = self.convert(value_node, (*path, key))
        # Keys set here win over merged ones; among merged mappings, the first wins (YAML 1.1).
        for key_node, value_node in merges:
            self._merge(key_node, value_node, path, result)
        return result

    def _merge(self, key_node: Node, value_node: Node, path: Path, result: dict[str, Any]) -> None:
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, MappingNode):
                raise _Refused(
                    "'<<' must refer to a mapping or a list of mappings", source, path=path
                )
            positions = SourceMap(self.source.file)
            merged = _Converter(positions, self.scalars, self.sizes)._mapping(source, path)
            for key, value in merged.items():
                if key in result:
                    continue
                result[key] = value
                self.source.adopt(positions, (*path, key), _position(key_node))


def format_path(path: Path) -> str:
    """A field path as suite.yml's documentation writes it: tenants[0].quotas.mail_mb."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _line_and_column(text: str, index: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def _refuse_forbidden_characters(text: str, file: str) -> None:
    found = _FORBIDDEN.search(text)
    if found is None:
        return
    character = found.group()
    code = f"U+{ord(character):04X}"
    if character == "\x00":
        what = f"a NUL byte ({code})"
    elif 0xD800 <= ord(character) <= 0xDFFF:
        what = f"a lone surrogate ({code}), which is not text"
    else:
        name = unicodedata.name(character, "")
        what = f"the control character {code}" + (f" ({name})" if name else "")
    line, column = _line_and_column(text, found.start())
    raise ConfigError(
        [
            Problem(
                f"{what} is not allowed in a YAML file",
                file,
                line,
                column,
                hint="remove it; an editor or a binary copy put it there",
            )
        ]
    )


@dataclass
class _Open:
    """A list or mapping being read by _LengthScan."""

    path: tuple[str | int, ...]
    is_mapping: bool
    count: int = 0  # items of a list; keys and values of a mapping
    key: str | None = None


class _LengthScan:
    """Counts the items of each list from the parser's events, before any node is built, so
    that a list longer than its limit is refused after reading that far and no further."""

    def __init__(self, limits: Mapping[tuple[str, ...], CountLimit]) -> None:
        self.limits = limits
        self.open: list[_Open] = []

    def run(self, text: str) -> None:
        loader = _Loader(text)
        try:
            while loader.check_event():
                self._take(loader.get_event())
        except YAMLError:
            return  # the full parse reports syntax errors, with their position
        finally:
            loader.dispose()

    def _take(self, event: Event) -> None:
        if isinstance(event, CollectionEndEvent):
            self.open.pop()
            return
        if not isinstance(event, NodeEvent):
            return
        path = self._place(event)
        if isinstance(event, SequenceStartEvent | MappingStartEvent):
            self.open.append(_Open(path, isinstance(event, MappingStartEvent)))

    def _place(self, event: NodeEvent) -> Path:
        """The path of the node this event starts, counting it in its parent."""
        if not self.open:
            return ()
        parent = self.open[-1]
        parent.count += 1
        if parent.is_mapping:
            if parent.count % 2 == 1:  # a key
                keys = parent.count // 2 + 1
                if keys > MAPPING_KEYS.most:
                    raise _Refused(
                        MAPPING_KEYS.message(f"this is key {keys:,} of {format_path(parent.path)}"),
                        None,
                        path=parent.path,
                        mark=event.start_mark,
                    )
                is_name = isinstance(event, ScalarEvent) and not isinstance(event, AliasEvent)
                parent.key = event.value if is_name else None
                return parent.path
            return parent.path if parent.key in (None, "<<") else (*parent.path, parent.key)
        index = parent.count - 1
        pattern = tuple("*" if isinstance(part, int) else part for part in parent.path)
        limit = self.limits.get(pattern, LIST_ITEMS)
        if parent.count > limit.most:
            raise _Refused(
                limit.message(f"this is item {parent.count:,} of {format_path(parent.path)}"),
                None,
                path=(*parent.path, index),
                mark=event.start_mark,
            )
        return (*parent.path, index)


def load_yaml(
    text: str, file: str, limits: Mapping[tuple[str, ...], CountLimit] | None = None
) -> tuple[Any, SourceMap]:
    """Parse one YAML document; raise ConfigError with a located problem if it is refused.

    ``limits`` caps the length of the lists at some paths ("*" standing for any position in a
    list); every other list holds at most LIST_ITEMS.
    """
    source = SourceMap(file)
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        raise ConfigError([Problem(f"the file is larger than {MAX_BYTES // 2**20} MiB", file)])
    _refuse_forbidden_characters(text, file)
    try:
        _LengthScan(limits or {}).run(text)
    except _Refused as refusal:
        raise ConfigError([refusal.problem(file)]) from None
    loader = _Loader(text)
    try:
        documents = []
        while loader.check_node():
            documents.append(loader.get_node())
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        what = error.problem or error.context or "invalid YAML"
        raise ConfigError([Problem(f"YAML syntax error: {what}", file, line, column)]) from None
    except (YAMLError, RecursionError) as error:
        raise ConfigError([Problem(f"YAML syntax error: {error}", file)]) from None
    documents = [doc for doc in documents if doc is not None]
    if not documents:
        raise ConfigError(
            [
                Problem(
                    "the file is empty", file, hint="run 'souverain init' for a commented example"
                )
            ]
        )
    if len(documents) > 1:
        line, column = _position(documents[1])
        raise ConfigError(
            [Problem("the file holds several YAML documents ('---'); keep one", file, line, column)]
        )
    root = documents[0]
    converter = _Converter(source, loader)
    try:
        converter.size(root)
        data = converter.convert(root, ())
    except _Refused as refusal:
        raise ConfigError([refusal.problem(file)]) from None
    except (YAMLError, ValueError, OverflowError) as error:
        raise ConfigError([Problem(f"invalid value: {error}", file)]) from None
    except RecursionError:
        raise ConfigError([Problem("the document is nested too deeply", file)]) from None
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "a single value"
        line, column = _position(root)
        raise ConfigError(
            [
                Problem(
                    f"expected a mapping of settings at the top level, found {kind}",
                    file,
                    line,
                    column,
                )
            ]
        )
    return data, source
