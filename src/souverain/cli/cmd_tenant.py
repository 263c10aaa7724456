"""`souverain tenant`: add a tenant to suite.yml, list the tenants, show one."""

from __future__ import annotations

from typing import Any

import click

from souverain.cli.common import console, current_deployment, json_option, print_json

# Said after an add until `deploy --tenant` exists (design §6b: tenants are data).
NEXT_STEP = (
    "Next: `souverain deploy` converges the hosts with it (every tenant's configuration is "
    "checked; a deploy of one tenant alone, `deploy --tenant`, is not available yet)."
)


@click.group()
def tenant() -> None:
    """Add a tenant to suite.yml, list the tenants, show what the suite gives one.

    A tenant is one organisation: its domains, mailboxes, chat server, drive and SSO portal.
    `tenant add` edits suite.yml in place and keeps everything else in it as it was
    (comments, order, quoting); the hosts change at the next `souverain deploy`.
    """


@tenant.command()
@click.argument("tenant_id", metavar="ID")
@click.option("--domain", required=True, metavar="D", help="Its main domain (mail, web names).")
@click.option("--name", metavar="TEXT", help="Display name (default: the id).")
@click.option(
    "--extra-domain",
    "extra_domains",
    multiple=True,
    metavar="D",
    help="Another mail domain of the tenant (repeat).",
)
@click.option(
    "--component",
    "components",
    multiple=True,
    metavar="C",
    help="Only these components for its users (repeat; default: all enabled suite-wide).",
)
@click.option(
    "--quota",
    "quotas",
    multiple=True,
    metavar="KEY=VALUE",
    help="A quota: mail_mb=N or drive_gb=N (repeat; default: the model's).",
)
@click.option("--dry-run", is_flag=True, help="Show the entry and check it; write nothing.")
@json_option
@click.pass_context
def add(
    ctx: click.Context,
    tenant_id: str,
    domain: str,
    name: str | None,
    extra_domains: tuple[str, ...],
    components: tuple[str, ...],
    quotas: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
) -> None:
    """Add the tenant ID to suite.yml, after its last tenant.

    The whole suite is validated with the new entry before anything is written; an id or a
    domain already taken is refused, naming the line of the entry that has it.
    """
    from souverain.tenants.add import add_tenant
    from souverain.tenants.request import parse_request
    from souverain.tenants.view import summary

    request = parse_request(
        tenant_id,
        domain=domain,
        name=name,
        extra_domains=extra_domains,
        components=components,
        quotas=quotas,
    )
    added = add_tenant(current_deployment(ctx).suite_file, request, dry_run=dry_run)
    if as_json:
        print_json(
            {
                "ok": True,
                "written": not dry_run,
                "file": str(added.file),
                "lines": [added.first_line, added.last_line],
                "entry": added.entry_text,
                "tenant": summary(added.suite, added.tenant),
            }
        )
        return
    done = "Would add" if dry_run else "Added"
    click.echo(
        f"{done} tenant {added.tenant.id} ({added.tenant.name}) to {added.file}, "
        f"lines {added.first_line}-{added.last_line}:"
    )
    click.echo(added.entry_text, nl=False)
    components_on = ", ".join(added.suite.tenant_components(added.tenant)) or "none"
    click.echo(f"Its users get: {components_on}.")
    if dry_run:
        click.echo("Nothing was written (--dry-run).")
        return
    click.echo(NEXT_STEP)
    click.echo(
        f"Then: `souverain dns --tenant {added.tenant.id}` for the records to publish, "
        f"`souverain user add --tenant {added.tenant.id} ...` for its people."
    )


@tenant.command(name="list")
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """One line per tenant: id, name, domains, components its users have."""
    from souverain.model.loader import load_suite
    from souverain.tenants.view import summary

    suite = load_suite(current_deployment(ctx).suite_file)
    rows = [summary(suite, each) for each in suite.tenants]
    if as_json:
        print_json({"suite": suite.name, "tenants": rows})
        return
    table = [
        (row["id"], row["name"], ", ".join(row["domains"]), ", ".join(row["components"]))
        for row in rows
    ]
    widths = [max(len(cells[column]) for cells in table) for column in range(3)]
    for cells in table:
        padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=False)]
        click.echo("  ".join([*padded, cells[3]]).rstrip())


@tenant.command()
@click.argument("tenant_id", metavar="ID")
@json_option
@click.pass_context
def show(ctx: click.Context, tenant_id: str, as_json: bool) -> None:
    """The tenant's settings, its components, the hosts that serve it and its URLs."""
    from souverain.model.loader import load_suite
    from souverain.model.services import tenant_services
    from souverain.tenants import find_tenant
    from souverain.tenants.view import detail

    suite = load_suite(current_deployment(ctx).suite_file)
    found = find_tenant(suite, tenant_id)
    services = tenant_services(suite, found)
    payload: dict[str, Any] = {"suite": suite.name, **detail(suite, found, services)}
    if as_json:
        print_json(payload)
        return
    from rich.markup import escape

    from souverain.cli.tables import hosts_table, services_table, tenant_title

    out = console()
    listed = payload["components_listed"]
    fields = [
        ("domain", payload["domain"]),
        ("extra domains", ", ".join(payload["extra_domains"]) or "none"),
        (
            "components",
            ", ".join(payload["components"])
            + ("" if listed is not None else " (all enabled suite-wide)"),
        ),
        ("quotas", ", ".join(f"{key} {value}" for key, value in payload["quotas"].items())),
    ]
    out.print(tenant_title(payload))
    for label, value in fields:
        out.print(f"  {label}: {escape(value)}")
    out.print(hosts_table("Hosts that serve it", payload["hosts"]))
    forwarded = any(service.forwarded for service in services)
    out.print(services_table("Services", payload["services"], services, forwarded=forwarded))
