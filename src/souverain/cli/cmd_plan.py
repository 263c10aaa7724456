"""`souverain plan`: what a render would change, grouped by host, component and tenant."""

from __future__ import annotations

import click

from souverain.cli.common import console, current_deployment, json_option, print_json

SYMBOLS = {"added": "+", "changed": "~", "removed": "-"}


@click.command()
@json_option
@click.pass_context
def plan(ctx: click.Context, as_json: bool) -> None:
    """Show the files a render would add, change or remove; writes nothing."""
    from souverain.render.pipeline import plan_changes

    deployment = current_deployment(ctx)
    _, changes = plan_changes(deployment)
    if as_json:
        print_json({"ok": True, "changes": [change.as_dict() for change in changes]})
        return
    out = console()
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
