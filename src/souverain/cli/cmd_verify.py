"""`souverain verify`: run each deployed role's testinfra checks against its hosts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from souverain.cli.cmd_deploy import exit_with
from souverain.cli.common import console, current_deployment, json_option, print_json
from souverain.deployment import Deployment
from souverain.errors import EXIT_FINDINGS

VERDICT_STYLE = {"passed": "green", "failed": "bold red", "skipped": "yellow"}


def run_verification(
    deployment: Deployment, *, junit: Path | None, as_json: bool
) -> tuple[dict[str, Any], int]:
    """Verify and show the result unless as_json. Returns (summary, exit status)."""
    from rich.markup import escape
    from rich.table import Table

    from souverain.verify.run import RoleSuite, run_verify

    out = console()

    def announce(suite: RoleSuite) -> None:
        if not as_json:
            out.print(f"verifying {suite.component} on {', '.join(suite.hosts)}")

    outcome = run_verify(deployment, junit=junit, on_suite=announce)
    summary = outcome.summary()
    status = 0 if outcome.ok else EXIT_FINDINGS
    if as_json:
        return summary, status
    table = Table(title="verify", title_justify="left")
    for column in ("host", "component", "result", "passed", "failed", "skipped"):
        table.add_column(
            column, justify="right" if column in {"passed", "failed", "skipped"} else "left"
        )
    for result in sorted(outcome.results, key=lambda r: r.host):
        table.add_row(
            result.host,
            result.component,
            f"[{VERDICT_STYLE[result.verdict]}]{result.verdict}[/]",
            str(result.passed),
            str(result.failed),
            str(result.skipped),
        )
    out.print(table)
    for result in outcome.results:
        for failure in result.failures:
            out.print(
                f"[bold red]FAILED[/] {result.host} | {result.component} | {escape(failure.test)}"
            )
            out.print(f"    {failure.message}", markup=False)
    for component, why in outcome.not_verified.items():
        out.print(f"[yellow]{component}: {why}[/]")
    for component, why in outcome.errors.items():
        out.print(f"[bold red]{component}: tests did not run[/]: {why}")
    if junit is not None:
        out.print(f"JUnit XML: {junit}")
    verdict = "[green]all checks passed[/]" if outcome.ok else "[bold red]verification failed[/]"
    out.print(f"{verdict} ({outcome.seconds:.1f} s)")
    return summary, status


@click.command()
@json_option
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the results as JUnit XML to this file.",
)
@click.pass_context
def verify(ctx: click.Context, as_json: bool, junit: Path | None) -> None:
    """Check the deployed hosts: each role's testinfra suite, on the hosts carrying it.

    Connects over SSH exactly as Ansible does (the rendered inventory); needs no secret.
    Exit status 1 when a check fails.
    """
    deployment = current_deployment(ctx)
    summary, status = run_verification(deployment, junit=junit, as_json=as_json)
    if as_json:
        print_json(summary)
    exit_with(status)
