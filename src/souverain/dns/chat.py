"""Chat records: Matrix federation discovery, only when federation is on.

matrix.<domain> and chat.<domain> come from core (web services behind the proxy), and
clients find the homeserver through https://<domain>/.well-known/matrix/client, served by
the proxy. Servers find it through /.well-known/matrix/server when federation is allowed;
the SRV record (_matrix-fed._tcp, Matrix 1.8) is the spec's fallback for those that do not
fetch it.
"""

from __future__ import annotations

from collections.abc import Iterator

from souverain.dns.records import DnsContext, Record


def records(context: DnsContext) -> Iterator[Record]:
    suite, tenant = context.suite, context.tenant
    if "chat" not in suite.tenant_components(tenant):
        return
    settings = suite.components.chat
    if settings.federation.mode == "off":
        context.note(
            "chat: federation is off, so no Matrix server-discovery record is published "
            "(clients use https://<domain>/.well-known/matrix/client)."
        )
        return
    target = f"{settings.hostname}.{tenant.domain}"
    yield Record(
        f"_matrix-fed._tcp.{tenant.domain}",
        "SRV",
        f"10 5 443 {target}.",
        comment="Matrix federation (allowlist), behind the proxy",
    )
