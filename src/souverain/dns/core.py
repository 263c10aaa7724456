"""A/AAAA records for every name a tenant's users reach (from model.services).

A name resolves to the host that receives it: the front (the proxy's host) for a web name,
even when the front passes the requests on to the host serving them (the comment then names
both); the component's own host for a direct endpoint, such as mail's SMTP and IMAP.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_address

from souverain.dns.records import DnsContext, Record
from souverain.model.services import Service, tenant_services


def records(context: DnsContext) -> Iterator[Record]:
    seen: set[tuple[str, str]] = set()
    for service in tenant_services(context.suite, context.tenant):
        address = context.suite.host(service.host).address
        kind = "AAAA" if ip_address(str(address)).version == 6 else "A"
        if (service.fqdn, str(address)) in seen:
            continue
        seen.add((service.fqdn, str(address)))
        yield Record(service.fqdn, kind, str(address), comment=comment(service))


def comment(service: Service) -> str:
    """Where the name leads: its host, and the host serving it when that is another one."""
    if service.forwarded:
        return f"host {service.host}, proxied to {service.served_by}"
    return f"host {service.host}"
