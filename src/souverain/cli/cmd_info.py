"""`souverain info`: per tenant, every service with its URL, host and port.

A service behind the proxy has two hosts when its component is placed elsewhere: the front
receives it (the name resolves there) and passes it on to the component's host, which
serves it. The table shows that as ``front (192.0.2.10) → apps``, one host when they are
the same; the JSON gives both, ``host``/``address`` and ``served_by``/``served_by_address``.
"""

from __future__ import annotations

from typing import Any

import click

from souverain.cli.common import console, current_deployment, json_option, print_json


@click.command()
@json_option
@click.pass_context
def info(ctx: click.Context, as_json: bool) -> None:
    """List each tenant's services (URL, host, port), the hosts and the CA to trust.

    For a service behind the proxy whose component runs on another host, the host column
    reads "front (address) → apps": the proxy on front receives it, apps serves it.
    """
    from souverain.model.loader import load_suite
    from souverain.model.services import tenant_services

    deployment = current_deployment(ctx)
    suite = load_suite(deployment.suite_file)
    services_of = {tenant.id: tenant_services(suite, tenant) for tenant in suite.tenants}
    payload: dict[str, Any] = {
        "suite": suite.name,
        "ca_certificate": str(deployment.ca_certificate)
        if suite.components.pki.mode == "internal"
        else None,
        "hosts": [
            {
                "name": host.name,
                "address": host.address,
                "components": suite.components_of_host(host.name),
            }
            for host in suite.hosts
        ],
        "tenants": [
            {
                "id": tenant.id,
                "name": tenant.name,
                "domain": tenant.domain,
                "services": [
                    {
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
                    for service in services_of[tenant.id]
                ],
            }
            for tenant in suite.tenants
        ],
    }
    if as_json:
        print_json(payload)
        return
    from rich.table import Table

    out = console()
    hosts = Table(title=f"Suite {suite.name}: hosts", title_justify="left")
    for column in ("host", "address", "components"):
        hosts.add_column(column)
    for host in payload["hosts"]:
        hosts.add_row(host["name"], host["address"], ", ".join(host["components"]))
    out.print(hosts)
    forwarded = [
        service for services in services_of.values() for service in services if service.forwarded
    ]
    for tenant in payload["tenants"]:
        table = Table(title=f"Tenant {tenant['id']} ({tenant['name']})", title_justify="left")
        table.add_column("component")
        table.add_column("service")
        # On a narrow terminal a URL folds onto the next line rather than losing its end.
        table.add_column("endpoint", overflow="fold")
        table.add_column("host → served by" if forwarded else "host")
        for service, endpoint in zip(tenant["services"], services_of[tenant["id"]], strict=True):
            table.add_row(
                service["component"],
                service["role"],
                service["url"],
                where(service),
            )
            for link in endpoint.links:
                table.add_row("", link.label, service[link.key], "")
        out.print(table)
    if forwarded:
        front = forwarded[0].host
        out.print(
            f"{front} → another host: the proxy on {front} receives these requests (their "
            f"names resolve to {front}) and passes them on to the host that serves them."
        )
    if payload["ca_certificate"]:
        out.print(f"Users and browsers must trust the suite's CA: {payload['ca_certificate']}")
    out.print(
        "Names resolve once the records of `souverain dns` are in your zone "
        "(or in /etc/hosts for a lab)."
    )


def where(service: dict[str, Any]) -> str:
    """The host column: the host that receives the service, and the one serving it if another."""
    received = f"{service['host']} ({service['address']})"
    if service["served_by"] == service["host"]:
        return received
    return f"{received} → {service['served_by']}"
