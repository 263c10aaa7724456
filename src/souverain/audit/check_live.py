"""Live checks: on each deployed host carrying the component, a command or a named probe.

This module decides where a check runs (reachable hosts, `when`, `requires`); what a
command printed is judged in :mod:`souverain.audit.command_output`, a probe in
:mod:`souverain.audit.probes`.
"""

from __future__ import annotations

from souverain.audit.command_output import judge_output
from souverain.audit.context import AuditContext
from souverain.audit.expressions import evaluate
from souverain.audit.findings import CheckResult, Verdict
from souverain.audit.probes import run_probe
from souverain.audit.rules import LiveCheck, Rule


def run_live_check(ctx: AuditContext, rule: Rule, check: LiveCheck) -> list[CheckResult]:
    results = []
    for host in ctx.hosts_of(rule.component):
        if host in ctx.unreachable:
            results.append(CheckResult("live", Verdict.NOT_CHECKED, ctx.unreachable[host], host))
            continue
        if check.when is not None and not evaluate(check.when, ctx.expressions(host)):
            results.append(
                CheckResult("live", Verdict.NOT_APPLICABLE, f"applies when {check.when}", host)
            )
            continue
        runner = ctx.hosts[host]
        if check.requires is not None:
            probe = runner.run(f"ls -d {check.requires} >/dev/null 2>&1")
            if probe.exit_status != 0:
                results.append(
                    CheckResult(
                        "live", Verdict.NOT_APPLICABLE, f"no {check.requires} on {host}", host
                    )
                )
                continue
        if check.kernel:
            found = runner.run("systemd-detect-virt --container")
            kind = found.stdout.strip() if found.exit_status == 0 else ""
            if kind and kind != "none":
                results.append(
                    CheckResult(
                        "live",
                        Verdict.NOT_APPLICABLE,
                        f"{host} is a {kind} container: the kernel, and this measure, are "
                        "its host's",
                        host,
                    )
                )
                continue
        if check.probe is not None:
            results += run_probe(ctx, rule, check, host, runner)
            continue
        assert check.command is not None
        results.append(judge_output(ctx, check, host, check.command, runner.run(check.command)))
    return results
