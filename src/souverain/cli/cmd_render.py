"""`souverain render`: every configuration file, byte for byte, into build/."""

from __future__ import annotations

import click

from souverain.cli.common import current_deployment, json_option, print_json


@click.command()
@json_option
@click.pass_context
def render(ctx: click.Context, as_json: bool) -> None:
    """Render every file that will be deployed into build/ (atomically; deterministic)."""
    from souverain.render.pipeline import render_deployment

    deployment = current_deployment(ctx)
    outcome = render_deployment(deployment)
    files = [item for item in outcome.build.files.values() if item.host]
    hosts = sorted({item.host for item in files if item.host})
    if as_json:
        print_json(
            {
                "ok": True,
                "build": str(deployment.build_dir),
                "changed": outcome.written.changed,
                "files": len(files),
                "hosts": hosts,
            }
        )
        return
    state = "written" if outcome.written.changed else "unchanged"
    click.echo(
        f"build {state}: {len(files)} file(s) for {len(hosts)} host(s) in {deployment.build_dir}"
    )
