"""A command's output on a host, judged by a live check's expectations.

Used by the live checks that run a command and by the probes whose own command failed: both
show the same evidence for a missing program, a lost SSH connection or a bad exit status.
"""

from __future__ import annotations

from souverain.audit.check_build import fold
from souverain.audit.context import SSH_FAILED, AuditContext, RunResult
from souverain.audit.expect import Judged, judge_lines, judge_setting
from souverain.audit.findings import CheckResult, Evidence, Verdict
from souverain.audit.parsers import PARSERS
from souverain.audit.rules import LiveCheck

MAX_OUTPUT = 1200  # characters of a command's output kept as evidence
NOT_FOUND = 127


def trim(text: str, limit: int = MAX_OUTPUT) -> str:
    text = text.strip()
    return (
        text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more characters)"
    )


def judge_output(
    ctx: AuditContext, check: LiveCheck, host: str, command: str, result: RunResult
) -> CheckResult:
    where = f"{host}$ {command}"
    output = ctx.redact(result.stdout)
    if result.exit_status == SSH_FAILED:
        return CheckResult("live", Verdict.NOT_CHECKED, trim(result.stderr, 300), host)
    if result.exit_status == NOT_FOUND:
        return CheckResult(
            "live",
            Verdict.NOT_CHECKED,
            f"`{command.split()[0]}` is not installed on {host}",
            host,
            (Evidence(trim(ctx.redact(result.stderr)) or "command not found", where),),
        )
    judged: list[Judged] = []
    if result.exit_status not in check.ok_exit:
        text = trim(output or ctx.redact(result.stderr)) or "(no output)"
        judged.append(
            Judged(
                (Evidence(f"exit {result.exit_status}: {text}", where, None, False),),
                False,
                f"exit status {result.exit_status}",
            )
        )
    entries = PARSERS[check.format](output)
    judged += [judge_setting(s, entries, check.format, where, ctx.redact) for s in check.settings]
    judged += [judge_lines(p, output, where, ctx.redact) for p in check.lines]
    if not check.settings and not check.lines and result.exit_status in check.ok_exit:
        judged.append(
            Judged((Evidence(trim(output) or "(no output)", where, None, True),), True, "ok")
        )
    return fold("live", host, judged, f"`{command}`")
