"""`souverain tenant remove`: a tenant's entry taken out of suite.yml, every other line kept
(model/yamlremove.py). The hosts keep the tenant until a deploy that names it
(`deploy --remove-tenant ID`) exports its data and takes it away.

As for `tenant add`: the suite as it is must be valid and hold the tenant, the edited file
must pass the loader, and the file is replaced atomically only if nobody changed it
meanwhile. Refused: the suite's only tenant, and the first tenant while the directory's
suffix is derived from its domain (every entry of the directory would move).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from souverain.errors import ConfigError, Problem
from souverain.model.loader import load_suite_text, read_suite_text
from souverain.model.suite import Suite, Tenant
from souverain.model.yamledit import LayoutRefused
from souverain.model.yamlremove import remove_entry
from souverain.tenants import find_tenant
from souverain.tenants.writing import write_suite


@dataclass(frozen=True)
class Removed:
    suite: Suite  # as suite.yml reads without the tenant
    tenant: Tenant  # the entry taken out
    file: Path
    first_line: int
    last_line: int
    entry_text: str


def _refused(display: str, message: str, hint: str, line: int | None = None) -> ConfigError:
    return ConfigError([Problem(message, display, line, path="tenants", hint=hint)])


def remove_tenant(suite_file: Path, tenant_id: str, *, dry_run: bool = False) -> Removed:
    """Take ``tenant_id`` out of ``suite_file``; nothing written on any error."""
    display = str(suite_file)
    text = read_suite_text(suite_file)
    suite = load_suite_text(suite_file, text)
    tenant = find_tenant(suite, tenant_id)
    if len(suite.tenants) == 1:
        raise _refused(
            display,
            f"tenant {tenant_id} is the suite's only tenant",
            "a suite serves at least one tenant: add the one that replaces it first",
        )
    if suite.tenants[0].id == tenant_id and not suite.components.directory.suffix:
        raise _refused(
            display,
            f"the directory's suffix ({suite.directory_suffix}) comes from the domain of "
            f"tenant {tenant_id}, the first: without it, every entry of every tenant would "
            "move",
            f'keep it: set `suffix: "{suite.directory_suffix}"` under components.directory '
            "in suite.yml, then run again",
        )
    try:
        removal = remove_entry(text, ("tenants",), "id", tenant_id)
    except LayoutRefused as refused:
        raise _refused(
            display,
            f"cannot take the tenant out cleanly: {refused.message}",
            refused.hint or "delete its entry by hand",
            refused.line,
        ) from None
    new_suite = load_suite_text(suite_file, removal.text)
    if not dry_run:
        write_suite(suite_file, text, removal.text, during="the tenant was being removed")
    return Removed(
        new_suite, tenant, suite_file, removal.first_line, removal.last_line, removal.removed
    )
