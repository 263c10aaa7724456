"""`souverain init [DIR]`: a new deployment directory with a commented suite.yml."""

from __future__ import annotations

from pathlib import Path

import click

from souverain.cli.common import current_deployment


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--domain",
    default="example.org",
    show_default=True,
    help="The first organisation's domain.",
)
@click.option("--name", default=None, help="Suite name (default: from the domain).")
@click.option(
    "--layout",
    type=click.Choice(["single", "split"]),
    default="single",
    show_default=True,
    help="single: one host carries everything; split: four hosts, front (proxy, directory, "
    "sso), mail, data (postgresql) and apps (redis, chat, visio, drive).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing suite.yml.")
@click.pass_context
def init(
    ctx: click.Context,
    directory: Path | None,
    domain: str,
    name: str | None,
    layout: str,
    force: bool,
) -> None:
    """Create a deployment directory: suite.yml, .gitignore, README.md and a vault password."""
    from souverain.model.base import _domain, _identifier
    from souverain.scaffold import init_deployment
    from souverain.secrets import ensure_password_file

    target = directory if directory is not None else current_deployment(ctx).root
    try:
        domain = _domain(domain)
        suite_name = _identifier(name or domain.split(".")[0][:32])
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    deployment = init_deployment(target, domain=domain, name=suite_name, force=force, layout=layout)
    password = ensure_password_file(deployment)
    click.echo(f"Created {deployment.suite_file}")
    if password.created:
        click.echo(
            f"Created the vault password {password.path} (mode 0600): back it up outside this "
            "machine; it opens every secret."
        )
    click.echo(f"Next: edit suite.yml, then `souverain -C {target} validate`.")
