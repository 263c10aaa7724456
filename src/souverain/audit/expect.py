"""Judging what was read: a setting's effective value, or the lines of a file or output."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from souverain.audit.findings import Evidence
from souverain.audit.parsers import Entry, effective, meaningful_lines
from souverain.audit.rules import LinePattern, Setting

_NUMBER = re.compile(r"^\s*(-?[0-9]+(?:\.[0-9]+)?)")


@dataclass(frozen=True)
class Judged:
    """Evidence plus a verdict hint: False failed, True passed, None not applicable."""

    evidence: tuple[Evidence, ...]
    ok: bool | None
    reason: str


def _items(value: Any, split: str) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return [item for item in re.split(split, str(value).strip()) if item]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    match = _NUMBER.match(str(value))
    return float(match.group(1)) if match else None


def _same(value: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        truthy = {"true", "yes", "on", "1"}
        return (str(value).lower() in truthy) == (str(expected).lower() in truthy)
    return str(value).strip().lower() == str(expected).strip().lower()


def value_problem(setting: Setting, value: Any) -> str | None:
    """Why ``value`` does not meet ``setting``, or None when it does."""
    text = str(value) if not isinstance(value, (list, dict)) else ""
    checks: list[tuple[bool, str]] = []
    if setting.equals is not None:
        checks.append((_same(value, setting.equals), f"expected {setting.equals!r}"))
    if setting.one_of is not None:
        ok = any(_same(value, choice) for choice in setting.one_of)
        checks.append((ok, f"expected one of {setting.one_of}"))
    if setting.not_one_of is not None:
        ok = not any(_same(value, choice) for choice in setting.not_one_of)
        checks.append((ok, f"must not be one of {setting.not_one_of}"))
    if setting.matches is not None:
        checks.append(
            (re.search(setting.matches, text) is not None, f"must match /{setting.matches}/")
        )
    if setting.not_matches is not None:
        ok = re.search(setting.not_matches, text) is None
        checks.append((ok, f"must not match /{setting.not_matches}/"))
    if setting.min is not None or setting.max is not None:
        number = _number(value)
        if number is None:
            checks.append((False, "expected a number"))
        if number is not None and setting.min is not None:
            checks.append((number >= setting.min, f"expected at least {setting.min:g}"))
        if number is not None and setting.max is not None:
            checks.append((number <= setting.max, f"expected at most {setting.max:g}"))
    items = _items(value, setting.split) if value is not None else []
    if setting.items_subset is not None:
        allowed = {item.lower() for item in setting.items_subset}
        extra = [item for item in items if item.lower() not in allowed]
        checks.append((not extra, f"not allowed: {', '.join(extra)}"))
    if setting.items_match is not None:
        bad = [item for item in items if not re.search(setting.items_match, item)]
        checks.append((not bad, f"not allowed: {', '.join(bad)}"))
    if setting.items_exclude is not None:
        bad = [item for item in items if re.search(setting.items_exclude, item)]
        checks.append((not bad, f"not allowed: {', '.join(bad)}"))
    if setting.empty is not None:
        is_empty = value in (None, "", [], {}) or (isinstance(value, str) and not value.strip())
        checks.append(
            (is_empty == setting.empty, "expected empty" if setting.empty else "expected a value")
        )
    for ok, message in checks:
        if not ok:
            return message
    return None


def judge_setting(
    setting: Setting, entries: list[Entry], fmt: str, where: str, redact: Any
) -> Judged:
    found = effective(entries, setting.key, fmt)
    if not found:
        ok = {"fail": False, "pass": True, "not_applicable": None}[setting.missing]
        # An absent optional setting is context, not proof: it is not shown as a pass.
        evidence = Evidence(f"{setting.key}: not set", where, None, False if ok is False else None)
        return Judged((evidence,), ok, f"{setting.key} is not set")
    evidence = []
    problems = []
    for entry in found:
        problem = value_problem(setting, entry.value)
        shown = entry.value
        text = redact(f"{setting.key} = {shown}" if fmt != "sshd" else f"{entry.key} {shown}")
        line = entry.line or None
        evidence.append(
            Evidence(
                text if not problem else f"{text}  ({problem})",
                entry.where or where,
                line,
                not problem,
            )
        )
        if problem:
            problems.append(f"{setting.key}: {problem}")
    return Judged(
        tuple(evidence), not problems, "; ".join(problems) or f"{setting.key} as expected"
    )


def judge_lines(
    pattern: LinePattern, text: str, where: str, redact: Any, lines: list[Any] | None = None
) -> Judged:
    lines = meaningful_lines(text) if lines is None else lines
    if pattern.must_not_match is not None:
        regex = re.compile(pattern.must_not_match)
        hits = [(n, line) for n, line in lines if regex.search(line)]
        if hits:
            evidence = tuple(
                Evidence(redact(line), where, n or None, False) for n, line in hits[:5]
            )
            return Judged(evidence, False, f"found /{pattern.must_not_match}/")
        note = Evidence(f"no line matches /{pattern.must_not_match}/", where, None, True)
        return Judged((note,), True, "nothing forbidden found")
    regex = re.compile(pattern.must_match or "")
    for number, line in lines:
        match = regex.search(line)
        if not match:
            continue
        if pattern.min is not None or pattern.max is not None:
            number_value = _number(match.group(1)) if match.groups() else None
            low_ok = pattern.min is None or (
                number_value is not None and number_value >= pattern.min
            )
            high_ok = pattern.max is None or (
                number_value is not None and number_value <= pattern.max
            )
            if not (low_ok and high_ok):
                low = "" if pattern.min is None else f"{pattern.min:g}"
                high = "" if pattern.max is None else f"{pattern.max:g}"
                bound = f"[{low}..{high}]"
                evidence = Evidence(
                    redact(line) + f"  (outside {bound})", where, number or None, False
                )
                return Judged((evidence,), False, f"value outside {bound}")
        return Judged((Evidence(redact(line), where, number or None, True),), True, "found")
    evidence = Evidence(f"no line matches /{pattern.must_match}/", where, None, False)
    return Judged((evidence,), False, f"missing /{pattern.must_match}/")
