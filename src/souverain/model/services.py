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
