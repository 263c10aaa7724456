"""Lynis (CISOfy, packaged by Debian) run on a host, as evidence next to the rules it supports.

Chosen over a copy run from the controller: the Debian package on the host is the one its
release ships and its security team maintains, nothing is copied to the host and run as root
from the controller's files, and the audit needs nothing installed on the controller. Hence
`components.base.lynis.enabled` installs it; absent, the result is "not checked" with how to
get it. One run per host and audit (`lynis audit system --quick`, a minute or two), read from
its report file: the hardening index, the warnings (each one fails the rule that shows them)
and the suggestions. A rule selects the Lynis tests that concern it with ``select``, a regex
on test ids; the rule that shows the whole run sets ``min_index``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from souverain.audit.context import AuditContext, HostRunner
from souverain.audit.findings import CheckResult, Evidence, Verdict

RUN_TIMEOUT = 900  # seconds, on the host (`timeout`)
MAX_LISTED = 30

SCRIPT = f"""
command -v lynis >/dev/null 2>&1 || {{ echo 'absent'; exit 0; }}
d=$(mktemp -d) && trap 'rm -rf "$d"' EXIT
cd "$d" && timeout {RUN_TIMEOUT} lynis audit system --quick --no-colors --no-log \\
  --report-file "$d/report.dat" >/dev/null 2>"$d/err"; echo "rc=$?"
grep -E '^(lynis_version|hardening_index|lynis_tests_done|warning\\[\\]|suggestion\\[\\])=' \\
  "$d/report.dat" 2>/dev/null
tail -c 300 "$d/err"
"""


@dataclass
class Run:
    not_checked: str = ""
    version: str = ""
    index: int | None = None
    tests: str = ""
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (test id, text)
    suggestions: list[tuple[str, str]] = field(default_factory=list)


def parse_report(text: str) -> Run:
    run = Run()
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "lynis_version":
            run.version = value
        elif key == "hardening_index" and value.isdigit():
            run.index = int(value)
        elif key == "lynis_tests_done":
            run.tests = value
        elif key in ("warning[]", "suggestion[]"):
            parts = value.split("|")
            item = (parts[0], parts[1] if len(parts) > 1 else "")
            (run.warnings if key == "warning[]" else run.suggestions).append(item)
    return run


def run_host(ctx: AuditContext, host: str, runner: HostRunner) -> Run:
    key = ("lynis", host)
    if key not in ctx.scanner_results:
        done = runner.run(SCRIPT)
        if done.stdout.strip() == "absent":
            run = Run(
                not_checked=f"lynis is not installed on {host} "
                "(components.base.lynis.enabled: true, then deploy)"
            )
        else:
            run = parse_report(done.stdout)
            if run.index is None:
                tail = ctx.redact(done.stdout + done.stderr).strip()[-300:]
                run.not_checked = f"lynis gave no report on {host}: {tail}"
        ctx.scanner_results[key] = run
    return ctx.scanner_results[key]


def judge(ctx: AuditContext, host: str, runner: HostRunner, args: dict[str, Any]) -> CheckResult:
    run = run_host(ctx, host, runner)
    where = f"{host}$ lynis audit system --quick"
    if run.not_checked:
        return CheckResult("scanner", Verdict.NOT_CHECKED, f"Lynis: {run.not_checked}", host)
    select = re.compile(str(args.get("select", ".")))
    warnings = [item for item in run.warnings if select.search(item[0])]
    suggestions = [item for item in run.suggestions if select.search(item[0])]
    evidence = [
        Evidence(f"Lynis {run.version}: hardening index {run.index}, {run.tests} tests", where)
    ]
    evidence += [Evidence(f"warning {test}: {text}", where, None, False)
                 for test, text in warnings[:MAX_LISTED]]  # fmt: skip
    evidence += [Evidence(f"suggestion {test}: {text}", where)
                 for test, text in suggestions[:MAX_LISTED]]  # fmt: skip
    low = "min_index" in args and (run.index or 0) < int(args["min_index"])
    if low:
        evidence.append(Evidence(f"index below {args['min_index']}", where, None, False))
    if warnings or low:
        summary = f"Lynis: index {run.index}, {len(warnings)} warning(s)"
        return CheckResult("scanner", Verdict.FAIL, summary, host, tuple(evidence))
    summary = f"Lynis: index {run.index}, no warning, {len(suggestions)} suggestion(s)"
    return CheckResult("scanner", Verdict.PASS, summary, host, tuple(evidence))
