"""Rich tables more than one command prints (`info`, `tenant show`).

Everything that comes from suite.yml or the file system is escaped: a tenant named
``Acme [/b]`` is printed as written, not read as rich markup.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from souverain.model.services import Service


def where(service: dict[str, Any]) -> str:
    """The host column: the host that receives the service, and the one serving it if another."""
    received = f"{service['host']} ({service['address']})"
    if service["served_by"] == service["host"]:
        return received
    return f"{received} → {service['served_by']}"


def tenant_title(tenant: dict[str, Any]) -> str:
    return escape(f"Tenant {tenant['id']} ({tenant['name']})")


def services_table(
    title: str, payload: list[dict[str, Any]], services: list[Service], *, forwarded: bool
) -> Table:
    """One row per endpoint (then one per link under it): component, service, URL, hosts.

    ``payload`` is the JSON form of ``services`` (tenants.view.service_payload); ``title`` is
    rich markup, escaped by the caller.
    """
    table = Table(title=title, title_justify="left")
    table.add_column("component")
    table.add_column("service")
    # On a narrow terminal a URL folds onto the next line rather than losing its end.
    table.add_column("endpoint", overflow="fold")
    table.add_column("host → served by" if forwarded else "host")
    for service, endpoint in zip(payload, services, strict=True):
        table.add_row(
            escape(service["component"]),
            escape(service["role"]),
            escape(service["url"]),
            escape(where(service)),
        )
        for link in endpoint.links:
            table.add_row("", escape(link.label), escape(service[link.key]), "")
    return table


def hosts_table(title: str, hosts: list[dict[str, Any]]) -> Table:
    """One row per host: name, address, the components it carries."""
    table = Table(title=title, title_justify="left")
    for column in ("host", "address", "components"):
        table.add_column(column)
    for host in hosts:
        table.add_row(
            escape(host["name"]), escape(host["address"]), escape(", ".join(host["components"]))
        )
    return table
