"""The network names and endpoints each tenant gets, derived from the model.

One place decides that chat lives at matrix.<domain>: the proxy vhosts, the certificates,
`souverain info` and `souverain dns` all read it from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from souverain.components import Component
from souverain.components.manifest import SSH_PORT, Link
from souverain.model.components import CATALOG, ON_DATA_HOSTS
from souverain.model.suite import Suite, Tenant


@dataclass(frozen=True)
class Service:
    """An endpoint of a tenant: the name its users reach and the hosts behind that name.

    ``host`` receives the connections, so its address is the one the name resolves to: the
    front (the proxy's host) for an endpoint `via: proxy`, the component's own host for a
    direct one. ``served_by`` is the host where the component runs and answers: the same as
    ``host`` unless the front passes the requests on to another host.
    """

    component: str
    role: str  # what this endpoint is for, e.g. "portal", "homeserver", "imaps"
    fqdn: str
    port: int
    scheme: str  # https, imaps, smtp-submission, ...
    host: str  # the suite host that receives it (the name's address)
    label: str = ""  # what the tenant's landing page calls it
    media: bool = False  # the page may use the camera and microphone
    links: tuple[Link, ...] = ()  # further addresses under it that `info` shows
    served_by: str = ""  # the suite host that serves it; left empty, ``host``
    menu: bool = False  # listed in the SSO portal's menu of applications

    def __post_init__(self) -> None:
        if not self.served_by:
            object.__setattr__(self, "served_by", self.host)

    @property
    def forwarded(self) -> bool:
        """Whether ``host`` passes the requests on to another host, ``served_by``."""
        return self.served_by != self.host

    @property
    def url(self) -> str:
        if self.scheme == "https":
            return (
                f"https://{self.fqdn}/" if self.port == 443 else f"https://{self.fqdn}:{self.port}/"
            )
        return f"{self.scheme}://{self.fqdn}:{self.port}"


def fill(pattern: str, settings: object, tenant: Tenant | None = None) -> str:
    """A manifest pattern with the component's settings and the tenant filled in."""
    if "{" not in pattern:
        return pattern
    domain = tenant.domain if tenant is not None else ""
    return pattern.format(settings=settings, domain=domain, tenant=tenant)


def serves_tenant(suite: Suite, component: Component, tenant: Tenant) -> bool:
    """Whether the component serves the tenant's users (its endpoints exist for it)."""
    if component.per_tenant:
        return component.name in suite.tenant_components(tenant)
    return suite.components.is_enabled(component.name) and bool(suite.placement.get(component.name))


def tenant_services(suite: Suite, tenant: Tenant) -> list[Service]:
    """Every endpoint a tenant's users reach, in a stable order (the catalog's).

    Each placed component publishes its endpoints in its manifest; those `via: proxy` are
    virtual hosts of the proxy, received by its host (the front) and served by the
    component's own host behind it; the others are served by the component's own host.
    """
    front = CATALOG.front
    proxy_hosts = (suite.placement.get(front) if front else None) or [suite.hosts[0].name]
    services: list[Service] = []
    for component in CATALOG:
        endpoints = component.manifest.endpoints
        if not endpoints or not serves_tenant(suite, component, tenant):
            continue
        settings = getattr(suite.components, component.name)
        own_host = suite.placement[component.name][0]
        for endpoint in endpoints:
            services.append(
                Service(
                    component.name,
                    endpoint.role,
                    fill(endpoint.name, settings, tenant),
                    endpoint.port,
                    endpoint.scheme,
                    proxy_hosts[0] if endpoint.via == "proxy" else own_host,
                    endpoint.label,
                    endpoint.media,
                    tuple(endpoint.links),
                    served_by=own_host,
                    menu=endpoint.menu,
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


@dataclass(frozen=True)
class HostOpening:
    """A port the firewall of a host opens, for whom: "any", "suite", "admin", or the
    addresses in ``sources`` ("clients": the hosts of the components that require it;
    "front": the front's hosts)."""

    component: str
    proto: str
    port: int
    origin: str
    sources: tuple[str, ...] = ()


def _port(value: int | str, settings: object, suite: Suite, host: str) -> int:
    if value == SSH_PORT:
        return suite.host(host).ssh_port or suite.components.base.ssh_port
    return value if isinstance(value, int) else int(fill(value, settings))


def _opens_on(suite: Suite, component: str, host: str) -> bool:
    """Whether ``component``'s openings apply on ``host``: a component that also runs on the
    data hosts (the backup agent) opens its ports on the hosts that list it only."""
    if component in ON_DATA_HOSTS:
        return host in suite.listed_placement.get(component, [])
    return True


def host_openings(suite: Suite, host: str) -> list[HostOpening]:
    """The inbound openings of a host: what each component it carries publishes.

    The same manifest entries give the TLS ports the audit probes (host_tls_endpoints).
    Entries open to the host itself only are not openings.
    """
    openings: list[HostOpening] = []
    carried = set(suite.components_of_host(host))
    for component in CATALOG:
        if component.name not in carried or not _opens_on(suite, component.name, host):
            continue
        settings = getattr(suite.components, component.name)
        for entry in component.manifest.openings:
            port = _port(entry.port, settings, suite, host)
            for origin in entry.origins:
                if origin == "host":
                    continue
                if origin in ("any", "suite", "admin"):
                    openings.append(HostOpening(component.name, entry.proto, port, origin))
                    continue
                sources = origin_addresses(suite, host, component.name, origin)
                if sources:  # peers on the same host connect through loopback
                    openings.append(HostOpening(component.name, entry.proto, port, origin, sources))
    return openings


def origin_addresses(suite: Suite, host: str, component: str, origin: str) -> tuple[str, ...]:
    """The addresses of the other hosts an opening of ``component`` on ``host`` is for:
    "clients", the hosts carrying a component that requires it; "front", the front's."""
    if origin == "front":
        users: tuple[str, ...] = (CATALOG.front,) if CATALOG.front else ()
    else:
        users = CATALOG.required_by(component)
    names = {name for user in users for name in suite.placement.get(user, []) if name != host}
    return tuple(other.address for other in suite.hosts if other.name in names)


def host_tls_endpoints(suite: Suite, host: str, component: str | None = None) -> list[TlsEndpoint]:
    """Every TLS port ``host`` serves for the components it carries (or for ``component``).

    Read from the `openings` of the components' manifests that say how they speak TLS: the
    same entries the firewall opens (host_openings).
    """
    carried = set(suite.components_of_host(host))
    own = (host_fqdn(suite, host),)
    endpoints: list[TlsEndpoint] = []
    for each in CATALOG:
        if each.name not in carried or (component is not None and each.name != component):
            continue
        settings = getattr(suite.components, each.name)
        for entry in each.manifest.openings:
            tls = entry.tls
            if tls is None:
                continue
            if tls.names == "host":
                names = own
            else:
                names = tuple(
                    fill(tls.name, settings, tenant)
                    for tenant in suite.tenants
                    if serves_tenant(suite, each, tenant)
                )
                if not names:
                    continue
            loopback = False
            if tls.loopback_unless_remote_users:
                loopback = not any(
                    name != host
                    for user in CATALOG.required_by(each.name)
                    for name in suite.placement.get(user, [])
                )
            port = _port(entry.port, settings, suite, host)
            endpoints.append(
                TlsEndpoint(each.name, tls.service, port, tls.starttls, names, loopback)
            )
    return endpoints
