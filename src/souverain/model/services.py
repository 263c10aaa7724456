"""The network names and endpoints each tenant gets, derived from the model.

One place decides that chat lives at matrix.<domain>: the proxy vhosts, the certificates,
`souverain info` and `souverain dns` all read it from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from souverain.model.suite import Suite, Tenant


@dataclass(frozen=True)
class Service:
    component: str
    role: str  # what this endpoint is for, e.g. "portal", "homeserver", "imaps"
    fqdn: str
    port: int
    scheme: str  # https, imaps, smtp-submission, ...
    host: str  # the suite host that serves it

    @property
    def url(self) -> str:
        if self.scheme == "https":
            return (
                f"https://{self.fqdn}/" if self.port == 443 else f"https://{self.fqdn}:{self.port}/"
            )
        return f"{self.scheme}://{self.fqdn}:{self.port}"


def tenant_services(suite: Suite, tenant: Tenant) -> list[Service]:
    """Every endpoint a tenant's users reach, in a stable order."""
    settings = suite.components
    placement = suite.placement
    proxy_host = placement["proxy"][0]
    enabled = set(suite.tenant_components(tenant))
    domain = tenant.domain
    services = [Service("proxy", "landing", domain, 443, "https", proxy_host)]
    if suite.components.is_enabled("sso"):
        services.append(
            Service("sso", "portal", f"{settings.sso.hostname}.{domain}", 443, "https", proxy_host)
        )
    if "mail" in enabled:
        mail_host = placement["mail"][0]
        mail_name = f"{settings.mail.hostname}.{domain}"
        services += [
            Service(
                "mail",
                "webmail",
                f"{settings.mail.webmail_hostname}.{domain}",
                443,
                "https",
                proxy_host,
            ),
            Service("mail", "submission", mail_name, 587, "smtp+starttls", mail_host),
            Service("mail", "submissions", mail_name, 465, "smtps", mail_host),
            Service("mail", "imaps", mail_name, 993, "imaps", mail_host),
            Service("mail", "mta-sts", f"mta-sts.{domain}", 443, "https", proxy_host),
            Service("mail", "autoconfig", f"autoconfig.{domain}", 443, "https", proxy_host),
        ]
    if "chat" in enabled:
        services += [
            Service(
                "chat", "homeserver", f"{settings.chat.hostname}.{domain}", 443, "https", proxy_host
            ),
            Service(
                "chat",
                "element",
                f"{settings.chat.element_hostname}.{domain}",
                443,
                "https",
                proxy_host,
            ),
        ]
    if "visio" in enabled:
        services.append(
            Service(
                "visio", "meet", f"{settings.visio.hostname}.{domain}", 443, "https", proxy_host
            )
        )
    if "drive" in enabled:
        services.append(
            Service(
                "drive", "files", f"{settings.drive.hostname}.{domain}", 443, "https", proxy_host
            )
        )
    return services


def tenant_web_names(suite: Suite, tenant: Tenant) -> list[str]:
    """The DNS names the tenant's TLS certificate must carry (the proxy's virtual hosts)."""
    names: list[str] = []
    for service in tenant_services(suite, tenant):
        if service.fqdn not in names:
            names.append(service.fqdn)
    return names


def host_fqdn(suite: Suite, host: str) -> str:
    """The DNS name in a host's own certificate (slapd, PostgreSQL, coturn serve it)."""
    return f"{host}.{suite.name}.internal"


@dataclass(frozen=True)
class TlsEndpoint:
    """A port a host serves TLS on, as the roles configure it.

    ``starttls`` names the plain-text preamble before the handshake (smtp, imap, ldap,
    postgres), None when TLS starts with the first byte. ``names`` are the names clients ask
    for, each of which the certificate must carry (the first is sent as SNI); ``loopback``
    when the service listens on loopback only as placed (the probe then connects there).
    """

    component: str
    service: str
    port: int
    starttls: str | None
    names: tuple[str, ...]
    loopback: bool = False

    @property
    def label(self) -> str:
        how = f"STARTTLS {self.starttls}" if self.starttls else "TLS"
        return f"{self.service} {self.port} ({how})"


def host_tls_endpoints(suite: Suite, host: str, component: str | None = None) -> list[TlsEndpoint]:
    """Every TLS port ``host`` serves for the components it carries (or for ``component``).

    Derived from the same settings as the roles' listeners and firewall openings (a unit
    test checks that every port here is opened by the host's rendered nftables.conf).
    """
    carried = suite.components_of_host(host)
    wanted = [c for c in carried if component is None or c == component]
    own = (host_fqdn(suite, host),)
    endpoints: list[TlsEndpoint] = []
    if "proxy" in wanted:
        names = tuple(tenant.domain for tenant in suite.tenants)
        endpoints.append(TlsEndpoint("proxy", "https", 443, None, names))
    if "mail" in wanted:
        settings = suite.components.mail
        names = tuple(
            f"{settings.hostname}.{tenant.domain}"
            for tenant in suite.tenants
            if "mail" in suite.tenant_components(tenant)
        )
        if names:
            endpoints += [
                TlsEndpoint("mail", "smtp", 25, "smtp", names),
                TlsEndpoint("mail", "submissions", 465, None, names),
                TlsEndpoint("mail", "submission", 587, "smtp", names),
                TlsEndpoint("mail", "imaps", 993, None, names),
            ]
    if "directory" in wanted:
        # slapd serves ldap:/// too (StartTLS; the firewall keeps it to the host itself).
        endpoints += [
            TlsEndpoint("directory", "ldaps", 636, None, own),
            TlsEndpoint("directory", "ldap", 389, "ldap", own),
        ]
    if "postgresql" in wanted:
        # Listens beyond loopback only when a database user runs on another host.
        remote = any(
            name != host for user in ("chat", "drive") for name in suite.placement.get(user, [])
        )
        endpoints.append(
            TlsEndpoint("postgresql", "postgresql", 5432, "postgres", own, loopback=not remote)
        )
    if "visio" in wanted:
        port = suite.components.visio.turns_port
        endpoints.append(TlsEndpoint("visio", "turns", port, None, own))
    return endpoints
