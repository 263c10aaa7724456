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
    for clash in address_clashes(records):
        context.note(clash)
    return TenantZone(context.tenant, records, list(context.notes))


def address_clashes(records: list[Record]) -> list[str]:
    """A name two components give different addresses (turn.<domain> being also a web name).

    The resolver would hand out either, so half the clients would reach the wrong host.
    """
    first: dict[str, Record] = {}
    clashes: list[str] = []
    for record in records:
        if record.type not in ("A", "AAAA"):
            continue
        earlier = first.setdefault(record.name, record)
        if earlier.value != record.value and earlier.component != record.component:
            clashes.append(
                f"{record.name} gets {earlier.value} from {earlier.component} and "
                f"{record.value} from {record.component}: clients would reach either host; "
                "give one of them another name in suite.yml"
            )
    return clashes


__all__ = ["DnsContext", "Record", "TenantZone", "tenant_zone"]
