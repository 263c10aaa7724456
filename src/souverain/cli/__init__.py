"""The `souverain` command line: a thin root group that loads each command on demand."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from souverain import __version__
from souverain.cli.lazy import LazyGroup

COMMANDS: dict[str, tuple[str, str]] = {
    "init": (
        "souverain.cli.cmd_init:init",
        "Create a deployment directory with a commented suite.yml.",
    ),
    "validate": (
        "souverain.cli.cmd_validate:validate",
        "Check suite.yml and report every problem.",
    ),
    "render": ("souverain.cli.cmd_render:render", "Render every configuration file into build/."),
    "plan": ("souverain.cli.cmd_plan:plan", "Show what a render would change, without writing."),
    "info": ("souverain.cli.cmd_info:info", "List each tenant's services, URLs and hosts."),
    "tenant": (
        "souverain.cli.cmd_tenant:tenant",
        "Add a tenant to suite.yml, list the tenants, show one.",
    ),
    "lab": (
        "souverain.cli.cmd_lab:lab",
        "Throwaway Debian hosts on this machine, for trying and testing.",
    ),
    "deploy": ("souverain.cli.cmd_deploy:deploy", "Render, then converge the hosts with Ansible."),
    "verify": ("souverain.cli.cmd_verify:verify", "Check the deployed hosts with testinfra."),
    "up": ("souverain.cli.cmd_up:up", "validate, render, deploy and verify in one go."),
    "dns": ("souverain.cli.cmd_dns:dns", "Print every DNS record each tenant needs."),
    "user": ("souverain.cli.cmd_user:user", "Manage a tenant's people in the directory."),
    "backup": (
        "souverain.cli.cmd_backup:backup",
        "Back up and restore the suite's data (encrypted, per tenant).",
    ),
    "audit": (
        "souverain.cli.cmd_audit:audit",
        "Check the suite against ANSSI/SecNumCloud-aligned rules.",
    ),
}


@click.group(
    cls=LazyGroup,
    lazy_subcommands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default="the current directory",
    help="Run as if started in this deployment directory.",
)
@click.version_option(__version__, prog_name="souverain")
@click.pass_context
def cli(ctx: click.Context, directory: Path) -> None:
    """Deploy a sovereign digital workplace on servers you control, and prove what was deployed.

    Every command works on a deployment directory (suite.yml, encrypted secrets, build/).
    Exit status: 0 ok, 1 verify/audit found a failure, 2 bad input, 3 deployment failed.
    """
    ctx.obj = directory


def main() -> None:
    """Entry point of the console script."""
    from souverain.cli.output import run_cli

    sys.exit(run_cli(cli))
