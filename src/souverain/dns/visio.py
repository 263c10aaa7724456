"""Visio records: the tenant's TURN/STUN server (coturn on the visio host).

visio.<domain> itself comes from core (it is a web service behind the proxy). Browsers get
the TURN address and short-lived credentials from Prosody; these records let other
clients (and people) find the same server by name: turn.<domain> and the SRV records of
RFC 5766 (TURN over UDP/TCP), RFC 7065 (turns) and RFC 5389 (STUN).
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_address

from souverain.dns.records import DnsContext, Record


def records(context: DnsContext) -> Iterator[Record]:
    suite, tenant = context.suite, context.tenant
    if "visio" not in suite.tenant_components(tenant):
        return
    settings = suite.components.visio
    host = suite.placement["visio"][0]
    address = str(settings.public_address or suite.host(host).address)
    target = f"turn.{tenant.domain}"
    kind = "AAAA" if ip_address(address).version == 6 else "A"
    note = "public (NAT) address" if settings.public_address else f"host {host}"
    yield Record(target, kind, address, comment=f"coturn, {note}")
    for service, port in (
        ("_stun._udp", settings.turn_port),
        ("_turn._udp", settings.turn_port),
        ("_turn._tcp", settings.turn_port),
        ("_turns._tcp", settings.turns_port),
    ):
        yield Record(f"{service}.{tenant.domain}", "SRV", f"0 5 {port} {target}.")
