"""`souverain dns`: every DNS record a tenant needs, from the model and the secrets store.

The addresses of the names a tenant's users reach come first (:mod:`souverain.dns.core`),
then the records each component publishes from the DNS template of its role
(:mod:`souverain.dns.roles`), in catalog order. They are grouped by zone (the tenant's
domains) for output.
"""

from __future__ import annotations

from souverain.components import Catalog
from souverain.dns import core, roles
from souverain.dns.records import DnsContext, Record, TenantZone


def tenant_zone(context: DnsContext, catalog: Catalog | None = None) -> TenantZone:
    """Every record of one tenant, each tagged with the component that asked for it."""
    records = [record.tagged("core") for record in core.records(context)]
    records += roles.records(context, catalog)
    return TenantZone(context.tenant, records, list(context.notes))


__all__ = ["DnsContext", "Record", "TenantZone", "tenant_zone"]
