"""`souverain up`: validate, render, deploy and verify in one go."""

from __future__ import annotations

from pathlib import Path

import click

from souverain.cli.cmd_deploy import deploy_options, exit_with, run_deploy
from souverain.cli.cmd_verify import run_verification
from souverain.cli.common import console, current_deployment, json_option, print_json


@click.command()
@deploy_options
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the verification results as JUnit XML to this file.",
)
@json_option
@click.pass_context
def up(
    ctx: click.Context,
    limit: str | None,
    tags: tuple[str, ...],
    check: bool,
    diff: bool,
    mitogen: bool | None,
    junit: Path | None,
    as_json: bool,
) -> None:
    """Validate suite.yml, render, deploy, then verify; stops at the first step that fails.

    Exit status: 2 invalid suite, 3 deployment failed, 1 verification found a failure.
    """
    from souverain.model.loader import load_suite

    deployment = current_deployment(ctx)
    suite = load_suite(deployment.suite_file)  # ConfigError (exit 2) before anything else
    if not as_json:
        console().print(f"suite {suite.name} is valid: {len(suite.hosts)} host(s)", markup=False)
    deployed, status = run_deploy(
        deployment,
        limit=limit,
        tags=tags,
        check=check,
        diff=diff,
        mitogen=mitogen,
        as_json=as_json,
    )
    payload: dict[str, object] = {"ok": False, "deploy": deployed, "verify": None}
    if status == 0 and not check:
        verified, status = run_verification(deployment, junit=junit, as_json=as_json)
        payload["verify"] = verified
    payload["ok"] = status == 0
    if as_json:
        print_json(payload)
    exit_with(status)
