"""`souverain tenant add`: a tenant entry added to suite.yml, every other byte kept.

The order of the checks is the order of the promises: the suite as it is must be valid; the
options must make a valid tenant; nothing in the suite may be in its way (conflicts.py); the
entry must go in cleanly (model/yamledit.py); and the whole suite with it must pass the
loader, as `souverain validate` would. Only then is the file replaced, atomically, with its
mode and owner, and only if nobody changed it in the meantime.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from souverain.errors import ConfigError, Problem
from souverain.model.limits import SEQUENCE_LIMITS
from souverain.model.loader import load_suite_text, read_suite_text
from souverain.model.suite import Suite, Tenant
from souverain.model.yamledit import Insertion, LayoutRefused, append_to_block_list
from souverain.model.yamlsource import load_yaml
from souverain.tenants.conflicts import conflicts
from souverain.tenants.request import TenantRequest
from souverain.tenants.writing import write_suite


@dataclass(frozen=True)
class Added:
    """The tenant as the suite now reads it, and the lines of suite.yml that hold it."""

    suite: Suite
    tenant: Tenant
    file: Path
    first_line: int
    last_line: int
    entry_text: str


def add_tenant(suite_file: Path, request: TenantRequest, *, dry_run: bool = False) -> Added:
    """Add the requested tenant to ``suite_file``; ConfigError (nothing written) otherwise."""
    display = str(suite_file)
    text = read_suite_text(suite_file)
    suite = load_suite_text(suite_file, text)
    _, source = load_yaml(text, display, SEQUENCE_LIMITS)
    found = conflicts(suite, source, request)
    if found:
        raise ConfigError(found)
    try:
        insertion = append_to_block_list(text, ("tenants",), request.entry())
    except LayoutRefused as refused:
        raise ConfigError(
            [
                Problem(
                    f"cannot add the tenant cleanly: {refused.message}",
                    display,
                    refused.line,
                    path="tenants",
                    hint=refused.hint,
                )
            ]
        ) from None
    try:
        new_suite = load_suite_text(suite_file, insertion.text)
    except ConfigError as error:
        raise ConfigError(
            [_in_original(problem, insertion) for problem in error.problems],
            summary=f"with tenant {request.tenant.id}, suite.yml would not be valid",
        ) from None
    if not dry_run:
        write_suite(suite_file, text, insertion.text, during="the tenant was being added")
    lines = insertion.text.split("\n")[insertion.first_line - 1 : insertion.last_line]
    return Added(
        new_suite,
        new_suite.tenants[-1],
        suite_file,
        insertion.first_line,
        insertion.last_line,
        "\n".join(line.rstrip("\r") for line in lines) + "\n",
    )


def _in_original(problem: Problem, insertion: Insertion) -> Problem:
    """A problem of the suite with the entry, located in the file as it is (or in the entry)."""
    if problem.line is None:
        return problem
    line = insertion.original_line(problem.line)
    if line is None:
        return replace(
            problem,
            line=None,
            column=None,
            file="the new tenant entry",
        )
    return replace(problem, line=line)
