"""Reads suite.yml into plain Python data, remembering where each value came from.

The document is composed into nodes (PyYAML, with libyaml when available) and converted by
hand, which lets us refuse, quickly and
with bounded memory: oversized files, deep nesting, alias bombs, duplicate keys and multiple
documents, and keep a line and column for every field path so that each validation error can
point into the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.error import MarkedYAMLError, YAMLError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from souverain.errors import ConfigError, Problem

# libyaml's parser when PyYAML was built with it (Debian's and PyPI's wheels are): several
# times faster on large suites than a pure-Python parser.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 40
MAX_NODES = 1_000_000  # counted with aliases expanded

Path = tuple[str | int, ...]
MERGE_TAG = "tag:yaml.org,2002:merge"
ALLOWED_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "merge")
)


@dataclass
class SourceMap:
    """Where each field path sits in the file (1-based line and column)."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

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


class _Refused(Exception):
    def __init__(self, message: str, node: Node | None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.node = node
        self.hint = hint


def _position(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Converter:
    def __init__(self, source: SourceMap, scalars: Any) -> None:
        self.source = source
        self.scalars = scalars
        self.sizes: dict[int, int] = {}

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
            )
        if isinstance(node, ScalarNode):
            if node.tag == MERGE_TAG:
                raise _Refused("a merge key ('<<') is only allowed as a mapping key", node)
            return self.scalars.construct_object(node, deep=True)
        if isinstance(node, SequenceNode):
            return [self.convert(item, (*path, index)) for index, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        raise _Refused("unsupported YAML node", node)

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merged.update(self._merge_sources(value_node, path))
                continue
            if not isinstance(key_node, ScalarNode):
                raise _Refused("mapping keys must be plain names, not lists or mappings", key_node)
            key = self.scalars.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                line, _ = self.source.keys[(*path, key)]
                raise _Refused(
                    f"duplicate key {key!r} (first defined on line {line})",
                    key_node,
                    "a key may appear once per mapping; remove or merge the duplicates",
                )
            self.source.keys[(*path, key)] = _position(key_node)
            result[key] = self.convert(value_node, (*path, key))
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def _merge_sources(self, node: Node, path: Path) -> dict[str, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for source in sources:
            if not isinstance(source, MappingNode):
                raise _Refused("'<<' must refer to a mapping or a list of mappings", source)
            for key, value in self._mapping(source, path).items():
                merged.setdefault(key, value)
        return merged


def load_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document; raise ConfigError with a located problem if it is refused."""
    source = SourceMap(file)
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        raise ConfigError([Problem(f"the file is larger than {MAX_BYTES // 2**20} MiB", file)])
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
        line, column = _position(refusal.node) if refusal.node is not None else (None, None)
        raise ConfigError(
            [Problem(refusal.message, file, line, column, hint=refusal.hint)]
        ) from None
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
