"""`souverain verify`: run each deployed role's testinfra checks against its hosts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from souverain.cli.cmd_deploy import exit_with
from souverain.cli.common import console, current_deployment, json_option, print_json
from souverain.deployment import Deployment
from souverain.errors import EXIT_FINDINGS

if TYPE_CHECKING:
    from souverain.verify.junit import HostResult
    from souverain.verify.run import VerifyOutcome

VERDICT_STYLE = {"passed": "green", "failed": "bold red", "not_checked": "bold yellow"}


def _verdict(result: HostResult) -> str:
    if result.expected:
        return "[yellow]not checked (expected)[/]"
    label = result.verdict.replace("_", " ")
    return f"[{VERDICT_STYLE[result.verdict]}]{label}[/]"


def _skip_lines(result: HostResult) -> list[str]:
    """One line per reason a check of this host was skipped, with the tests it skipped."""
    tests: dict[tuple[str, bool], list[str]] = {}
    for skip in result.skips:
        tests.setdefault((skip.reason, skip.expected), []).append(skip.test)
    lines = []
    for (reason, expected), names in tests.items():
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        kind = "SKIPPED (expected)" if expected else "SKIPPED"
        lines.append(f"{kind} {result.host} | {result.component} | {reason} [{shown}]")
    return lines


def _closing_line(outcome: VerifyOutcome) -> str:
    def hosts(results: list[HostResult]) -> str:
        return ", ".join(f"{r.component} on {r.host}" for r in results)

    declared = outcome.expected_not_checked
    skipped = sum(result.skipped for result in outcome.results)
    if outcome.ok:
        line = "[green]all checks that ran passed[/]"
        if skipped:
            line += f" ({skipped} skipped, each listed above with its reason)"
        if declared:
            line += f"; not checked, as the deployment declares: {hosts(declared)}"
        return line
    line = "[bold red]verification failed[/]"
    if outcome.not_checked:
        line += f"; nothing was checked for {hosts(outcome.not_checked)}"
    if outcome.untested:
        line += f"; no tests for {', '.join(outcome.untested)}"
    return line


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
    ordered = sorted(outcome.results, key=lambda r: r.host)
    for result in ordered:
        table.add_row(
            result.host,
            result.component,
            _verdict(result),
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
    for result in ordered:
        for line in _skip_lines(result):
            out.print(line, style="yellow", markup=False, highlight=False)
    for component, why in outcome.not_deployed.items():
        out.print(f"{component}: {why}", style="yellow", markup=False)
    for component, why in outcome.untested.items():
        out.print(f"{component}: {why}", style="bold red", markup=False)
    for component, why in outcome.errors.items():
        out.print(f"[bold red]{component}: tests did not run[/]: {escape(why)}")
    if junit is not None:
        out.print(f"JUnit XML: {junit}", markup=False)
    out.print(f"{_closing_line(outcome)} ({outcome.seconds:.1f} s)")
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
    Every check that skipped is listed with its reason. Exit status 1 when a check fails, or
    when a deployed component was not checked at all on a host (every check skipped), unless
    the deployment declared those skips (they then show as "not checked (expected)").
    """
    deployment = current_deployment(ctx)
    summary, status = run_verification(deployment, junit=junit, as_json=as_json)
    if as_json:
        print_json(summary)
    exit_with(status)
