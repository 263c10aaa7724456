"""Tenants as data: look one up, add one to suite.yml, show what the suite gives each.

Light on purpose: the CLI's commands import ``find_tenant`` from here.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from souverain.errors import UsageError

if TYPE_CHECKING:
    from souverain.model.suite import Suite, Tenant

# An unknown id lists the known ones, up to this many (a hoster's suite has thousands).
KNOWN_SHOWN = 20


def find_tenant(suite: Suite, tenant_id: str) -> Tenant:
    """The tenant with this id, or a UsageError (exit 2) naming the ids suite.yml has."""
    for tenant in suite.tenants:
        if tenant.id == tenant_id:
            return tenant
    ids = [tenant.id for tenant in suite.tenants]
    known = ", ".join(ids[:KNOWN_SHOWN])
    if len(ids) > KNOWN_SHOWN:
        known += f"… ({len(ids) - KNOWN_SHOWN} more: `souverain tenant list`)"
    close = difflib.get_close_matches(tenant_id, ids, n=1)
    raise UsageError(
        f"unknown tenant {tenant_id!r}; suite.yml has: {known}",
        hint=f"did you mean {close[0]!r}?" if close else None,
    )
