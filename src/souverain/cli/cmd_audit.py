"""`souverain audit`: ANSSI/SecNumCloud-aligned rules on the model, the build and the hosts."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from souverain.cli.common import current_deployment
from souverain.errors import EXIT_FINDINGS, SouverainError

FORMATS = ("text", "json", "html", "sarif", "junit")


@click.command()
@click.option("--live", is_flag=True, help="Also check the deployed hosts over SSH (testinfra).")
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
    help="Report format.",
)  # fmt: skip
@click.option(
    "--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True,
    help="Language of the report.",
)  # fmt: skip
@click.option(
    "--fail-on", type=click.Choice(["high", "medium", "low"]), default="high",
    show_default=True, help="Exit 1 when a rule of this severity or above fails.",
)  # fmt: skip
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file instead of standard output.",
)  # fmt: skip
@click.option(
    "--no-render", is_flag=True,
    help="Audit build/ exactly as it is (default: render first, which writes only changes).",
)  # fmt: skip
@click.option("--rule", "rules", multiple=True, metavar="ID", help="Only these rules (repeat).")
@click.option(
    "--no-scanner", "no_scanners", multiple=True, metavar="NAME",
    type=click.Choice(["all", "ssh-audit", "sslyze", "openscap"]),
    help="With --live, skip this independent scanner (repeat; 'all' for every one): its "
    "results show as not checked.",
)  # fmt: skip
@click.pass_context
def audit(
    ctx: click.Context,
    live: bool,
    fmt: str,
    lang: str,
    fail_on: str,
    output: Path | None,
    no_render: bool,
    rules: tuple[str, ...],
    no_scanners: tuple[str, ...],
) -> None:
    """Check the suite against ANSSI/SecNumCloud-aligned rules and write a report.

    Static by default: the model (suite.yml) and every rendered file in build/, before
    anything is deployed. With --live, the same rules also run against the deployed hosts.
    Reports say "aligned with": no report attests compliance or qualification.

    Exit status: 0 when no rule at or above --fail-on fails, 1 otherwise, 2 for bad input.
    """
    from souverain.audit.engine import audit_deployment
    from souverain.audit.redact import Redactor
    from souverain.audit.report import render
    from souverain.secrets import SecretStore

    deployment = current_deployment(ctx)
    report = audit_deployment(
        deployment, live=live, lang=lang, render=not no_render, only=list(rules) or None,
        skip_scanners=set(no_scanners),
    )  # fmt: skip
    color = fmt == "text" and output is None and sys.stdout.isatty()
    text = render(report, fmt, fail_on=fail_on, color=color)
    # Last line of defence: no secret value leaves this command, whatever a rule printed.
    text = Redactor(SecretStore.open(deployment).all_secret_values())(text)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"report written: {output}", err=True)
    failing = report.failures_at_or_above(fail_on)
    if failing:
        # Raised, not ctx.exit(): run_cli turns it into exit status 1 with a one-line message.
        raise AuditFailed(
            f"{len(failing)} rule(s) fail at severity {fail_on} or above: "
            + ", ".join(finding.rule.id for finding in failing)
        )


class AuditFailed(SouverainError):
    """The audit ran and found failures at or above --fail-on (exit status 1)."""

    exit_code = EXIT_FINDINGS
