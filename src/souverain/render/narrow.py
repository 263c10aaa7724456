"""A host's variables narrowed to one tenant, for `souverain deploy --tenant ID`.

A whole render gives each role every tenant of its host: each per-tenant loop then visits every
tenant, and a deploy costs O(N) even when one tenant changed. Narrowed, a component's
variables are its host template's merged with that tenant's part alone (the other tenants'
parts are left out), and its rendered files are that tenant's and the host-wide ones that list
the tenants (maps, includes, access rules, what the backup keeps). The other host-wide files
(a daemon's main configuration, a unit every tenant's instance runs) do not change when a
tenant does: a difference there comes from a new release or a suite-wide setting, whose
restarts reach every tenant, and waits for a whole deploy. What the roles then do visits that
tenant's objects and the shared ones, and nothing of the other tenants.

``souverain_only_tenant`` is set in the narrowed variables: a task that removes what its
variables do not list (a pruning step) must not run then, since the other tenants are missing
from them on purpose (tests/unit/test_tenant_deploy.py checks every role for it).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence, Set
from pathlib import Path
from typing import Any

from souverain.builddir import VARS_FILE_NAME
from souverain.render.engine import Build, VarsParts, merge_vars

ONLY_TENANT_VAR = "souverain_only_tenant"
FILES_SUFFIX = "_files"


def narrowed_host_vars(
    host_vars: Mapping[str, Any],
    parts: Mapping[str, VarsParts],
    tenant: str,
    listing: Set[str],
) -> dict[str, Any]:
    """``host_vars`` (a host's whole plain variables) as a deploy of ``tenant`` alone sees
    them; ``parts`` are the host's components' variable parts and ``listing`` the host-wide
    files that list the tenants (render.engine.Build)."""
    narrowed = dict(host_vars)
    components = host_vars.get("souverain_components", [])
    for component in components:
        key = f"{component}{FILES_SUFFIX}"
        if key in narrowed:
            narrowed[key] = [
                entry
                for entry in narrowed[key]
                if entry.get("tenant") == tenant
                or (entry.get("tenant") is None and entry["dest"] in listing)
            ]
    for component, component_parts in parts.items():
        if not component_parts.tenants:
            continue
        data: dict[str, Any] = {}
        if component_parts.host is not None:
            merge_vars(data, copy.deepcopy(component_parts.host), component)
        own = component_parts.tenants.get(tenant)
        if own is not None:
            merge_vars(data, copy.deepcopy(own), component)
        for other in component_parts.tenants.values():
            for key, value in other.items():
                if key not in data:
                    data[key] = _empty_like(value)
        narrowed.update(data)
    narrowed[ONLY_TENANT_VAR] = tenant
    return narrowed


def _empty_like(value: Any) -> Any:
    """What a variable holds when no tenant of the narrowed deploy gives it anything."""
    if isinstance(value, list):
        return []
    if isinstance(value, dict):
        return {}
    return value


def tenant_components(build: Build, tenant: str, order: Sequence[str]) -> list[str]:
    """The components that hold something of ``tenant`` on some host (a rendered file of its,
    or a non-empty part of the variables) or a host-wide file or variable listing the tenants
    (a mail map, the backup's list of what to keep), in ``order`` (site.yml's)."""
    found: set[str] = {name for names in build.listing_tenants.values() for name in names}
    for item in build.files.values():
        if item.tenant == tenant and item.component:
            found.add(item.component)
    for parts in build.vars_parts.values():
        for component, component_parts in parts.items():
            own = component_parts.tenants.get(tenant) or {}
            if any(value not in ({}, [], None) for value in own.values()):
                found.add(component)
    return [name for name in order if name in found]


def write_narrowed_inventory(build: Build, inventory_dir: Path, tenant: str, into: Path) -> Path:
    """A copy of the rendered inventory under ``into`` where each host's plain variables are
    narrowed to ``tenant``; the rest (hosts, group variables, the vault-encrypted secrets) is
    linked, never copied. Returns the new inventory directory."""
    narrowed_dir = into / "inventory"
    for source in inventory_dir.rglob("*"):
        target = narrowed_dir / source.relative_to(inventory_dir)
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        host = source.parent.name if source.parent.parent.name == "host_vars" else None
        if host in build.host_vars and source.name == VARS_FILE_NAME:
            narrowed = narrowed_host_vars(
                build.host_vars[host],
                build.vars_parts.get(host, {}),
                tenant,
                build.listing_files.get(host, frozenset()),
            )
            target.write_text(json.dumps(narrowed, indent=1, sort_keys=True) + "\n")
        else:
            target.symlink_to(source.resolve())
    return narrowed_dir
