"""A/AAAA records for every name a tenant's users reach (from model.services)."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_address

from souverain.dns.records import DnsContext, Record
from souverain.model.services import tenant_services


def records(context: DnsContext) -> Iterator[Record]:
    seen: set[tuple[str, str]] = set()
    for service in tenant_services(context.suite, context.tenant):
        address = context.suite.host(service.host).address
        kind = "AAAA" if ip_address(str(address)).version == 6 else "A"
        if (service.fqdn, str(address)) in seen:
            continue
        seen.add((service.fqdn, str(address)))
        yield Record(service.fqdn, kind, str(address), comment=f"host {service.host}")
