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
    from souverain.tenants.view import services_payload

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
            services_payload(suite, tenant, services_of[tenant.id]) for tenant in suite.tenants
        ],
    }
    if as_json:
        print_json(payload)
        return
    from rich.markup import escape

    from souverain.cli.tables import hosts_table, services_table, tenant_title

    out = console()
    out.print(hosts_table(f"Suite {suite.name}: hosts", payload["hosts"]))
    forwarded = [
        service for services in services_of.values() for service in services if service.forwarded
    ]
    for tenant in payload["tenants"]:
        out.print(
            services_table(
                tenant_title(tenant),
                tenant["services"],
                services_of[tenant["id"]],
                forwarded=bool(forwarded),
            )
        )
    if forwarded:
        front = forwarded[0].host
        out.print(
            f"{front} → another host: the proxy on {front} receives these requests (their "
            f"names resolve to {front}) and passes them on to the host that serves them."
        )
    if payload["ca_certificate"]:
        out.print(
            f"Users and browsers must trust the suite's CA: {escape(payload['ca_certificate'])}"
        )
    out.print(
        "Names resolve once the records of `souverain dns` are in your zone "
        "(or in /etc/hosts for a lab)."
    )
