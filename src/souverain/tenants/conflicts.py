"""Why a new tenant cannot join a suite as it is: each reason located at what is in the way.

An id or a domain already taken points at the tenant entry that holds it (file, line,
column); a component switched off suite-wide points at its `components.<name>` settings.
The rest of the suite's rules (a domain that is one of the names the suite makes, limits)
are checked by validating the whole suite with the entry added (add.py).
"""

from __future__ import annotations

from souverain.errors import Problem
from souverain.model.suite import Suite
from souverain.model.yamlsource import SourceMap, format_path
from souverain.tenants.request import TenantRequest

Loc = tuple[str | int, ...]


def _at(source: SourceMap, loc: Loc, message: str, hint: str) -> Problem:
    line, column = source.locate(loc)
    return Problem(message, source.file, line, column, format_path(loc), hint)


def _where(source: SourceMap, loc: Loc) -> str:
    line, _ = source.locate(loc)
    return f"{source.file}:{line}" if line is not None else source.file


def conflicts(suite: Suite, source: SourceMap, request: TenantRequest) -> list[Problem]:
    """Every reason the request clashes with the tenants and components already there."""
    new = request.tenant
    problems: list[Problem] = []
    for index, tenant in enumerate(suite.tenants):
        if tenant.id == new.id:
            loc: Loc = ("tenants", index, "id")
            problems.append(
                _at(
                    source,
                    loc,
                    f"tenant id {new.id!r} is already used by the tenant at {_where(source, loc)}",
                    "choose another id, or edit that entry in suite.yml",
                )
            )
        for position, domain in enumerate(tenant.domains):
            if domain not in new.domains:
                continue
            loc = (
                ("tenants", index, "domain")
                if position == 0
                else ("tenants", index, "extra_domains", position - 1)
            )
            problems.append(
                _at(
                    source,
                    loc,
                    f"domain {domain} is already used by tenant {tenant.id} at "
                    f"{_where(source, loc)}",
                    "a domain belongs to one tenant; choose another domain",
                )
            )
    enabled = set(suite.components.enabled_names())
    for component in new.components or []:
        if component not in enabled:
            loc = ("components", component, "enabled")
            problems.append(
                _at(
                    source,
                    loc,
                    f"{component} is disabled suite-wide (components.{component}.enabled at "
                    f"{_where(source, loc)})",
                    f"enable it there first, or leave out --component {component}",
                )
            )
    return problems
