"""`souverain validate`: check suite.yml and report every problem, located in the file."""

from __future__ import annotations

import click

from souverain.cli.common import current_deployment, json_option, print_json


@click.command()
@json_option
@click.pass_context
def validate(ctx: click.Context, as_json: bool) -> None:
    """Check suite.yml. Exit 0 when valid, 2 with every problem listed when not."""
    from souverain.model.loader import load_suite

    deployment = current_deployment(ctx)
    suite = load_suite(deployment.suite_file)
    enabled = suite.components.enabled_names()
    summary = {
        "ok": True,
        "file": str(deployment.suite_file),
        "suite": suite.name,
        "hosts": len(suite.hosts),
        "tenants": len(suite.tenants),
        "components": enabled,
    }
    if as_json:
        print_json(summary)
        return
    click.echo(
        f"{deployment.suite_file}: valid: suite {suite.name}, {len(suite.hosts)} host(s), "
        f"{len(suite.tenants)} tenant(s), components: {', '.join(enabled)}"
    )
