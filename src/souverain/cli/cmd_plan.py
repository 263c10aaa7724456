"""`souverain plan`: what a render would change, grouped by host, component and tenant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from souverain.cli.common import console, current_deployment, json_option, print_json

if TYPE_CHECKING:
    from souverain.deployment import Deployment
    from souverain.model.suite import Suite

SYMBOLS = {"added": "+", "changed": "~", "removed": "-"}


@click.command()
@click.option(
    "--hosts",
    "read_hosts",
    is_flag=True,
    help="Also read the hosts' tenant records (one SSH round trip each): the tenants a "
    "deploy would remove, and what belongs to no tenant.",
)
@json_option
@click.pass_context
def plan(ctx: click.Context, read_hosts: bool, as_json: bool) -> None:
    """Show the files a render would add, change or remove; writes nothing.

    With --hosts, also what is on the hosts and no longer in suite.yml: the tenants taken out
    of it (what removing each destroys, as `deploy --remove-tenant` would), and orphans,
    objects named like a tenant's that belong to no tenant the hosts know.
    """
    from souverain.render.pipeline import plan_changes

    deployment = current_deployment(ctx)
    suite, changes = plan_changes(deployment)
    hosts = _on_hosts(deployment, suite) if read_hosts else None
    if as_json:
        payload = {"ok": True, "changes": [change.as_dict() for change in changes]}
        if hosts is not None:
            payload.update(hosts)
        print_json(payload)
        return
    out = console()
    if hosts is not None:
        _show_hosts(hosts)
    if not changes:
        out.print("No changes: build/ is up to date with suite.yml.")
        return
    groups: dict[tuple[str, str, str], list[str]] = {}
    for change in changes:
        key = (change.host or "(inventory)", change.component, change.tenant or "-")
        groups.setdefault(key, []).append(
            f"  {SYMBOLS[change.action]} {change.dest or change.path}"
        )
    for (host, component, tenant), lines in sorted(groups.items()):
        suffix = f" tenant {tenant}" if tenant != "-" else ""
        out.print(f"[bold]{host}[/bold] {component}{suffix}")
        for line in lines:
            out.print(line, markup=False)
    counts = {action: sum(c.action == action for c in changes) for action in SYMBOLS}
    out.print(
        f"Plan: {counts['added']} to add, {counts['changed']} to change, "
        f"{counts['removed']} to remove."
    )


def _on_hosts(deployment: Deployment, suite: Suite) -> dict[str, Any]:
    """What the hosts' records say: departed tenants, orphans, hosts not read."""
    from souverain.builddir import BuildDir
    from souverain.errors import DeployError, UsageError
    from souverain.runner.playbooks import deploy_inventory
    from souverain.tenants.departure import departures, read_inventory_records

    try:
        inventory = deploy_inventory(BuildDir(deployment.build_dir))
    except DeployError:  # no build yet: nothing was deployed from here
        raise UsageError(
            f"{deployment.build_dir} holds no inventory to reach the hosts with",
            hint="run `souverain render` (or deploy) first",
        ) from None
    found = read_inventory_records(inventory)
    return {
        "departed": [departure.as_dict() for departure in departures(suite, found)],
        "orphans": found.orphans,
        "unread": found.unread,
    }


def _show_hosts(hosts: dict[str, Any]) -> None:
    out = console()
    for departure in hosts["departed"]:
        out.print(
            f"[bold]tenant {departure['tenant']}[/bold] is no longer in suite.yml; "
            f"`souverain deploy --remove-tenant {departure['tenant']}` destroys:"
        )
        for host, items in departure["hosts"].items():
            for item in items or ["its record only"]:
                out.print(f"  - {host}: {item}", markup=False)
    for host, orphans in hosts["orphans"].items():
        out.print(f"[bold]{host}[/bold] holds what belongs to no tenant (removed by hand?):")
        for orphan in orphans:
            out.print(f"  ? {orphan['kind']} {orphan['name']}", markup=False)
    for host, why in hosts["unread"].items():
        out.print(f"{host}: its tenants' records could not be read ({why})", markup=False)
    if not hosts["departed"] and not any(hosts["orphans"].values()):
        out.print("The hosts hold no departed tenant and nothing that belongs to no tenant.")
