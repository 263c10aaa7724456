"""Model expressions of the rules: Jinja expressions in a sandbox, never Python's eval.

Undefined names are errors (StrictUndefined). Besides Jinja's own filters and tests, rules
can use: the test `search` (regex anywhere), the filter `third_party` (the items naming a
host under one of the given domains), and the address-space and endpoint filters of
souverain.audit.reach: `exposure` (what a list of networks lets in from the internet),
`calls_out` (the endpoints outside the suite), `named_endpoints` (every endpoint the
model names, internal or not) and `foreign_endpoints` (those not declared under an EU/EEA
jurisdiction).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from souverain.audit import reach
from souverain.errors import UsageError


def _search(value: Any, pattern: str) -> bool:
    return re.search(pattern, str(value)) is not None


def _under(name: str, domains: Iterable[str]) -> bool:
    host = re.sub(r"^[a-z]+:(//)?", "", str(name).lower()).split("/")[0].split(":")[0]
    return any(host == d or host.endswith("." + d) for d in domains)


def _third_party(values: Iterable[Any], domains: Iterable[str]) -> list[str]:
    listed = list(domains)
    return [str(value) for value in values if _under(str(value), listed)]


def _named_endpoints(suite: Any) -> list[str]:
    return [f"{where} = {endpoint}" for where, endpoint in reach.named_endpoints(suite)]


@cache
def environment() -> jinja2.Environment:
    env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
    env.tests["search"] = _search
    env.filters["third_party"] = _third_party
    env.filters["exposure"] = reach.exposure
    env.filters["calls_out"] = reach.calls_out
    env.filters["foreign_endpoints"] = reach.foreign_endpoints
    env.filters["named_endpoints"] = _named_endpoints
    return env


@cache
def compile_expression(source: str) -> Callable[..., Any]:
    try:
        return environment().compile_expression(source, undefined_to_none=False)
    except jinja2.TemplateSyntaxError as error:
        raise UsageError(f"invalid rule expression {source!r}: {error}") from None


def evaluate(source: str, context: dict[str, Any]) -> Any:
    """The value of ``source``; an unknown name or attribute is a UsageError naming it."""
    try:
        return compile_expression(source)(**context)
    except jinja2.UndefinedError as error:
        raise UsageError(f"rule expression {source!r}: {error}") from None
    except jinja2.exceptions.SecurityError as error:
        raise UsageError(f"rule expression {source!r} is not allowed: {error}") from None


def show(value: Any) -> str:
    """A value as evidence: short, stable, readable."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return "[" + ", ".join(show(item) for item in items) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {show(item)}" for key, item in value.items()) + "}"
    if hasattr(value, "model_dump"):
        return show(value.model_dump(mode="json"))
    return str(value)
