"""What the suite gives a tenant, as data: its fields, components, hosts, services and URLs.

`souverain info` and `souverain tenant list/show` print these; their JSON is these mappings.
"""

from __future__ import annotations

from typing import Any

from souverain.model.components import CATALOG
from souverain.model.services import Service, serves_tenant, tenant_services
from souverain.model.suite import Suite, Tenant


def service_payload(suite: Suite, service: Service) -> dict[str, Any]:
    """One endpoint: its URL, the host that receives it and the one that serves it."""
    return {
        "component": service.component,
        "role": service.role,
        "url": service.url,
        "fqdn": service.fqdn,
        "port": service.port,
        "host": service.host,
        "address": suite.host(service.host).address,
        "served_by": service.served_by,
        "served_by_address": suite.host(service.served_by).address,
        **{link.key: f"{service.url}{link.path}" for link in service.links},
    }


def services_payload(suite: Suite, tenant: Tenant, services: list[Service]) -> dict[str, Any]:
    """The tenant as `souverain info` shows it: id, name, domain and every endpoint."""
    return {
        "id": tenant.id,
        "name": tenant.name,
        "domain": tenant.domain,
        "services": [service_payload(suite, service) for service in services],
    }


def summary(suite: Suite, tenant: Tenant) -> dict[str, Any]:
    """One line of `tenant list`: id, name, domains and the components its users have."""
    return {
        "id": tenant.id,
        "name": tenant.name,
        "domains": tenant.domains,
        "components": suite.tenant_components(tenant),
        "suspended": tenant.suspended,
    }


def tenant_hosts(suite: Suite, tenant: Tenant) -> list[dict[str, Any]]:
    """The hosts that carry a component serving the tenant (base and pki, on every host, left
    out), in suite.yml's order, each with those components."""
    carried: dict[str, list[str]] = {}
    for component in CATALOG:
        if component.everywhere or not serves_tenant(suite, component, tenant):
            continue
        for host in suite.placement.get(component.name, []):
            carried.setdefault(host, []).append(component.name)
    return [
        {"name": host.name, "address": host.address, "components": carried[host.name]}
        for host in suite.hosts
        if host.name in carried
    ]


def detail(suite: Suite, tenant: Tenant, services: list[Service] | None = None) -> dict[str, Any]:
    """Everything `tenant show` tells about one tenant."""
    if services is None:
        services = tenant_services(suite, tenant)
    return {
        "id": tenant.id,
        "name": tenant.name,
        "domain": tenant.domain,
        "extra_domains": list(tenant.extra_domains),
        "components_listed": list(tenant.components) if tenant.components is not None else None,
        "components": suite.tenant_components(tenant),
        "quotas": tenant.quotas.model_dump(),
        "suspended": tenant.suspended,
        "hosts": tenant_hosts(suite, tenant),
        "services": services_payload(suite, tenant, services)["services"],
    }
