"""Turns suite.yml into a validated Suite, or into a list of located, understandable problems."""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from souverain.errors import ConfigError, Problem
from souverain.model.limits import SEQUENCE_LIMITS
from souverain.model.suite import InconsistentSuite, Suite
from souverain.model.yamlsource import SourceMap, format_path, load_yaml

Loc = tuple[str | int, ...]

__all__ = [
    "check_files",
    "format_path",
    "load_suite",
    "load_suite_text",
    "parse_suite",
    "read_suite_text",
]


def load_suite(path: Path) -> Suite:
    """Read and validate suite.yml; raise ConfigError listing every problem found."""
    return load_suite_text(path, read_suite_text(path))


def read_suite_text(path: Path) -> str:
    """suite.yml's text, or a ConfigError saying why it cannot be read."""
    display = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            [Problem("no suite.yml here", display, hint="run 'souverain init DIR' or use -C DIR")]
        ) from None
    except OSError as error:
        raise ConfigError([Problem(f"cannot read the file: {error.strerror}", display)]) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError([_not_utf8(raw, error, display)]) from None


def load_suite_text(path: Path, text: str) -> Suite:
    """Validate ``text`` as the content of suite.yml at ``path`` (files it names included)."""
    display = str(path)
    suite = parse_suite(text, display)
    check_files(suite, path.parent, display)
    return suite


def _not_utf8(raw: bytes, error: UnicodeDecodeError, file: str) -> Problem:
    """Where the first byte that is not UTF-8 sits, as line and column of the text before it."""
    line_start = raw.rfind(b"\n", 0, error.start) + 1
    line = raw.count(b"\n", 0, error.start) + 1
    column = len(raw[line_start : error.start].decode("utf-8", errors="replace")) + 1
    byte = raw[error.start]
    return Problem(
        f"the file is not UTF-8 text: byte 0x{byte:02x} {error.reason}",
        file,
        line,
        column,
        hint="save suite.yml as UTF-8 (iconv -f LATIN1 -t UTF-8 converts a Latin-1 file)",
    )


def parse_suite(text: str, file: str = "suite.yml") -> Suite:
    data, source = load_yaml(text, file, SEQUENCE_LIMITS)
    try:
        return Suite.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_problems(error, source)) from None


def check_files(suite: Suite, root: Path, file: str) -> None:
    """Files suite.yml refers to must exist (the CA bundles that render copies to the hosts)."""
    problems = []
    for index, name in enumerate(suite.trust.extra_ca):
        candidate = root / name
        if not candidate.is_file():
            problems.append(
                Problem(f"no such file: {candidate}", file, path=f"trust.extra_ca[{index}]")
            )
        elif b"-----BEGIN CERTIFICATE-----" not in candidate.read_bytes():
            problems.append(
                Problem(
                    f"{candidate} holds no PEM certificate",
                    file,
                    path=f"trust.extra_ca[{index}]",
                )
            )
    if problems:
        raise ConfigError(problems)


def _problems(error: ValidationError, source: SourceMap) -> list[Problem]:
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        loc: Loc = tuple(item["loc"])
        nested = item.get("ctx", {}).get("error")
        if isinstance(nested, InconsistentSuite):
            for sub_loc, message in nested.problems:
                problems.append(_located(source, (*loc, *sub_loc), message))
            continue
        problems.append(_from_pydantic(item, loc, source))
    problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    return problems


def _located(source: SourceMap, loc: Loc, message: str, hint: str | None = None) -> Problem:
    """A problem at ``loc``; a value merged with '<<' is shown at the merge, then the anchor."""
    line, column = source.locate(loc)
    merged_at = source.merge_site(loc)
    if merged_at is not None and line is not None:
        message = f"{message} (merged by '<<' here from line {line}, column {column})"
        line, column = merged_at
    return Problem(message, source.file, line, column, format_path(loc), hint)


def _from_pydantic(item: Any, loc: Loc, source: SourceMap) -> Problem:
    kind = item["type"]
    message = str(item["msg"]).removeprefix("Value error, ")
    if kind == "missing":
        line, column = source.locate(loc[:-1])
        merged_at = source.merge_site(loc[:-1])
        if merged_at is not None:
            line, column = merged_at
        return Problem(
            f"required setting '{loc[-1]}' is missing",
            source.file,
            line,
            column,
            format_path(loc),
            _describe(loc),
        )
    if kind == "extra_forbidden":
        line, column = source.locate(loc, prefer_key=True)
        merged_at = source.merge_site(loc)
        if merged_at is not None and line is not None:
            hint_from = f" (merged by '<<' here from line {line}, column {column})"
            line, column = merged_at
        else:
            hint_from = ""
        allowed = _allowed_keys(loc[:-1])
        hint = None
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        if close:
            hint = f"did you mean '{close[0]}'?"
        elif allowed:
            hint = "allowed here: " + ", ".join(allowed)
        return Problem(
            f"unknown setting '{loc[-1]}'{hint_from}",
            source.file,
            line,
            column,
            format_path(loc),
            hint,
        )
    if (
        "input" in item
        and kind not in ("model_type", "dict_type", "list_type")
        and "(got " not in message
    ):
        shown = repr(item["input"])
        if len(shown) <= 60 and not isinstance(item["input"], dict | list):
            message = f"{message} (got {shown})"
    return _located(source, loc, message)


def _unwrap(annotation: Any) -> list[Any]:
    """The model classes an annotation can hold (through Optional, list, dict, Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, set, frozenset):
        return [found for arg in typing.get_args(annotation) for found in _unwrap(arg)]
    if origin is dict:
        return _unwrap(typing.get_args(annotation)[1])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _model_at(loc: Loc) -> type[BaseModel] | None:
    current: type[BaseModel] | None = Suite
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part)
        if info is None:
            return None
        candidates = _unwrap(info.annotation)
        current = candidates[0] if candidates else None
    return current


def _allowed_keys(loc: Loc) -> list[str]:
    model = _model_at(loc)
    return sorted(model.model_fields) if model else []


def _describe(loc: Loc) -> str | None:
    model = _model_at(loc[:-1])
    if model is None:
        return None
    info = model.model_fields.get(str(loc[-1]))
    return info.description if info and info.description else None
