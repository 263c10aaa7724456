"""`souverain dns`: every DNS record a tenant needs, from the model and the secrets store.

Each component contributes its records from its own module in this package, loaded if it
exists: ``souverain.dns.<name>`` for each name in :data:`CONTRIBUTORS`, exposing

    def records(context: DnsContext) -> Iterable[Record]

A component engineer adds ``dns/chat.py`` (say) with that function and nothing else: the
name is already listed here. Records are collected in the order of the list, then grouped
by zone (the tenant's domains) for output.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from types import ModuleType

from souverain.dns.records import DnsContext, Record, TenantZone

# Modules consulted, in this order; a missing module contributes nothing.
CONTRIBUTORS = ("core", "sso", "mail", "chat", "visio", "drive", "backup")

RecordSource = Callable[[DnsContext], Iterable[Record]]


def contributor(name: str) -> ModuleType | None:
    """The module ``souverain.dns.<name>``, or None when the component has none yet."""
    module_name = f"{__name__}.{name}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            return None
        raise


def sources() -> list[tuple[str, RecordSource]]:
    found: list[tuple[str, RecordSource]] = []
    for name in CONTRIBUTORS:
        module = contributor(name)
        if module is not None:
            found.append((name, module.records))
    return found


def tenant_zone(context: DnsContext) -> TenantZone:
    """Every record of one tenant, each tagged with the component that asked for it."""
    records: list[Record] = []
    for name, source in sources():
        for record in source(context):
            records.append(record if record.component else record.tagged(name))
    return TenantZone(context.tenant, records, list(context.notes))


__all__ = ["CONTRIBUTORS", "DnsContext", "Record", "TenantZone", "contributor", "tenant_zone"]
