"""`souverain tenant`: add, suspend, resume, export or remove a tenant; list them, show one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from souverain.cli.common import console, current_deployment, json_option, print_json


def next_step(tenant_id: str) -> str:
    """What to run after an add: a deploy of that tenant alone (design §6b: tenants are data)."""
    return (
        f"Next: `souverain deploy --tenant {tenant_id}` puts it on the hosts without visiting "
        "the other tenants (a whole `souverain deploy` does too)."
    )


@click.group()
def tenant() -> None:
    """Add, suspend, resume, export or remove a tenant; list the tenants, show one.

    A tenant is one organisation: its domains, mailboxes, chat server, drive and SSO portal.
    `tenant add`, `suspend`, `resume` and `remove` edit suite.yml in place and keep everything
    else in it as it was (comments, order, quoting); the hosts change at the next
    `souverain deploy`.
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
    click.echo(next_step(added.tenant.id))
    click.echo(
        f"Then: `souverain dns --tenant {added.tenant.id}` for the records to publish, "
        f"`souverain user add --tenant {added.tenant.id} ...` for its people."
    )


# The components whose configuration follows a tenant's suspension: the deploy that applies
# a suspension or a resumption (the rest of the suite does not change with it).
SUSPENSION_TAGS = "proxy,web,directory,mail,chat"


def _set_state(
    ctx: click.Context, tenant_id: str, suspended: bool, dry_run: bool, as_json: bool
) -> None:
    from souverain.tenants.suspend import set_suspended

    state = "suspended" if suspended else "active"
    result = set_suspended(
        current_deployment(ctx).suite_file, tenant_id, suspended, dry_run=dry_run
    )
    if as_json:
        print_json(
            {
                "ok": True,
                "tenant": tenant_id,
                "state": state,
                "changed": result.changed,
                "written": result.changed and not dry_run,
                "file": str(result.file),
            }
        )
        return
    if not result.changed:
        click.echo(f"Tenant {tenant_id} is {state} already in {result.file}; nothing to write.")
        return
    verb = "suspend" if suspended else "resume"
    if dry_run:
        click.echo(
            f"Would {verb} tenant {tenant_id} in {result.file}; nothing was written (--dry-run)."
        )
        return
    click.echo(f"Tenant {tenant_id} is {state} in {result.file}.")
    click.echo(
        f"Next: `souverain deploy --tags {SUSPENSION_TAGS}` applies it on the hosts "
        "(a whole `souverain deploy` does too)."
    )


@tenant.command()
@click.argument("tenant_id", metavar="ID")
@click.option("--dry-run", is_flag=True, help="Check the change; write nothing.")
@json_option
@click.pass_context
def suspend(ctx: click.Context, tenant_id: str, dry_run: bool, as_json: bool) -> None:
    """Suspend the tenant ID in suite.yml: once deployed, its people cannot sign in.

    Directory binds, the SSO portal, IMAP and SMTP logins and Matrix are refused (its
    homeserver is stopped) and its web services show a page saying the organisation is
    suspended. Mail sent to it is still received and kept; nothing of its data is touched.
    `tenant resume` puts everything back as it was.
    """
    _set_state(ctx, tenant_id, True, dry_run, as_json)


@tenant.command()
@click.argument("tenant_id", metavar="ID")
@click.option("--dry-run", is_flag=True, help="Check the change; write nothing.")
@json_option
@click.pass_context
def resume(ctx: click.Context, tenant_id: str, dry_run: bool, as_json: bool) -> None:
    """Resume the suspended tenant ID: suite.yml as it was before `tenant suspend`."""
    _set_state(ctx, tenant_id, False, dry_run, as_json)


@tenant.command()
@click.argument("tenant_id", metavar="ID")
@click.option("--dry-run", is_flag=True, help="Show the entry and check; write nothing.")
@json_option
@click.pass_context
def remove(ctx: click.Context, tenant_id: str, dry_run: bool, as_json: bool) -> None:
    """Take the tenant ID out of suite.yml; its data stays on the hosts until a deploy.

    Only its entry goes (every other line kept), after the suite without it was validated.
    The hosts still hold the tenant until `souverain deploy --remove-tenant ID`, which shows
    what it destroys, exports the tenant's data (as `tenant export`) and removes it from every
    host. The first tenant can be removed once the directory's suffix is set in suite.yml.
    """
    from souverain.tenants.remove import remove_tenant

    removed = remove_tenant(current_deployment(ctx).suite_file, tenant_id, dry_run=dry_run)
    if as_json:
        print_json(
            {
                "ok": True,
                "written": not dry_run,
                "file": str(removed.file),
                "lines": [removed.first_line, removed.last_line],
                "entry": removed.entry_text,
                "tenant": tenant_id,
            }
        )
        return
    done = "Would take" if dry_run else "Took"
    click.echo(
        f"{done} tenant {tenant_id} out of {removed.file}, lines "
        f"{removed.first_line}-{removed.last_line}:"
    )
    click.echo(removed.entry_text, nl=False)
    if dry_run:
        click.echo("Nothing was written (--dry-run).")
        return
    click.echo(
        f"Its data is still on the hosts. Next: `souverain deploy --remove-tenant {tenant_id}` "
        "shows what goes, exports its data into exports/, then removes it from the hosts."
    )


@tenant.command()
@click.argument("tenant_id", metavar="ID")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Where to write the export directory (default: exports/ in the deployment).",
)
@json_option
@click.pass_context
def export(ctx: click.Context, tenant_id: str, out: Path | None, as_json: bool) -> None:
    """Export the tenant ID's data, encrypted, to hand back to the organisation.

    Every host that keeps its data sends it (mailboxes, chat media, drive files, its
    directory entries as LDIF, each database as SQL): one OpenPGP-encrypted archive per host
    in a new directory, with the passphrase in a file readable only by you (never printed)
    and a README telling the organisation how to open them. Needs the backup component
    deployed (its agent on each host does the reading). Nothing on the hosts changes.
    """
    from souverain.backup.agents import open_agents
    from souverain.model.loader import load_suite
    from souverain.tenants import find_tenant
    from souverain.tenants.export import export_tenant

    deployment = current_deployment(ctx)
    find_tenant(load_suite(deployment.suite_file), tenant_id)
    destination = out or deployment.root / "exports"
    say = (lambda _: None) if as_json else (lambda line: click.echo(line, err=True))
    with open_agents(deployment) as agents:
        done = export_tenant(agents, tenant_id, destination, say=say)
    if as_json:
        print_json({"ok": True, **done.as_dict()})
        return
    click.echo(f"Exported tenant {tenant_id} to {done.directory}:")
    for host in done.hosts:
        click.echo(f"  {host.file}: {len(host.exported)} item(s), {host.bytes} bytes")
    click.echo(
        f"The passphrase is in {done.passphrase_file} (readable by you only): hand it to "
        "the organisation apart from the archives. README.txt there says how to open them."
    )


@tenant.command(name="list")
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """One line per tenant: id, name, domains, components its users have, and whether it is
    suspended."""
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
    for row, cells in zip(rows, table, strict=True):
        padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=False)]
        state = ["(suspended)"] if row["suspended"] else []
        click.echo("  ".join([*padded, cells[3], *state]).rstrip())


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
        ("state", "suspended" if payload["suspended"] else "active"),
    ]
    out.print(tenant_title(payload))
    for label, value in fields:
        out.print(f"  {label}: {escape(value)}")
    out.print(hosts_table("Hosts that serve it", payload["hosts"]))
    forwarded = any(service.forwarded for service in services)
    out.print(services_table("Services", payload["services"], services, forwarded=forwarded))
