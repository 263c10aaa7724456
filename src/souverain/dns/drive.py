"""Drive records: where calendar and contact clients find the tenant's Nextcloud.

drive.<domain> itself comes from core (a web service behind the proxy). These are the
service records of RFC 6764 (CalDAV and CardDAV over TLS) with the path of Nextcloud's DAV
endpoint, so that a client given only the user's address finds the server.
"""

from __future__ import annotations

from collections.abc import Iterator

from souverain.dns.records import DnsContext, Record

DAV_PATH = "/remote.php/dav/"


def records(context: DnsContext) -> Iterator[Record]:
    suite, tenant = context.suite, context.tenant
    if "drive" not in suite.tenant_components(tenant):
        return
    target = f"{suite.components.drive.hostname}.{tenant.domain}"
    for service in ("_caldavs._tcp", "_carddavs._tcp"):
        name = f"{service}.{tenant.domain}"
        yield Record(name, "SRV", f"0 1 443 {target}.", comment="Nextcloud (RFC 6764)")
        yield Record(name, "TXT", f"path={DAV_PATH}")
    # Plain-text CalDAV/CardDAV are not offered: a null target says so (RFC 6764, 3).
    for service in ("_caldav._tcp", "_carddav._tcp"):
        yield Record(f"{service}.{tenant.domain}", "SRV", "0 0 0 .")
