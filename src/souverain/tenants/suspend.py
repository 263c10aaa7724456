"""`souverain tenant suspend` and `resume`: a tenant's ``suspended`` flag set or cleared in
suite.yml, every other line kept (model/yamlflag.py).

As for `tenant add`: the suite as it is must be valid and hold the tenant; the edited file
must pass the loader too; the file is replaced atomically, with its mode and owner, and only
if nobody changed it in the meantime. The hosts change at the next deploy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from souverain.errors import ConfigError, Problem
from souverain.model.loader import load_suite_text, read_suite_text
from souverain.model.suite import Suite, Tenant
from souverain.model.yamledit import LayoutRefused
from souverain.model.yamlflag import set_entry_flag
from souverain.tenants import find_tenant
from souverain.tenants.writing import write_suite


@dataclass(frozen=True)
class StateSet:
    """The tenant as suite.yml now reads it, and whether the file had to change."""

    suite: Suite
    tenant: Tenant
    file: Path
    changed: bool


def set_suspended(
    suite_file: Path, tenant_id: str, suspended: bool, *, dry_run: bool = False
) -> StateSet:
    """Suspend (or resume) ``tenant_id`` in ``suite_file``; nothing written on any error."""
    display = str(suite_file)
    text = read_suite_text(suite_file)
    suite = load_suite_text(suite_file, text)
    tenant = find_tenant(suite, tenant_id)
    if tenant.suspended is suspended:
        return StateSet(suite, tenant, suite_file, changed=False)
    try:
        edited = set_entry_flag(text, ("tenants",), "id", tenant_id, "suspended", suspended)
    except LayoutRefused as refused:
        raise ConfigError(
            [
                Problem(
                    f"cannot {'suspend' if suspended else 'resume'} the tenant cleanly: "
                    f"{refused.message}",
                    display,
                    refused.line,
                    path="tenants",
                    hint=refused.hint,
                )
            ]
        ) from None
    new_suite = load_suite_text(suite_file, edited)
    if not dry_run:
        write_suite(suite_file, text, edited, during="the tenant was being changed")
    return StateSet(new_suite, find_tenant(new_suite, tenant_id), suite_file, changed=True)
