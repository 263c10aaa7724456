"""Independent scanners as evidence, next to the rules they support.

A scanner runs from the controller against a deployed host, only with --live. When it is not
installed its result is "not checked" with how to install it: never a pass. Each scanner is
an optional extra, never a dependency of souverain:

- ssh-audit (`pip install ssh-audit`, or Debian's ssh-audit): SSH algorithms; an algorithm
  ssh-audit marks as failing fails the rule, warnings are shown.
- testssl.sh (Debian's testssl.sh): TLS on a port; findings of severity HIGH or CRITICAL fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from souverain.audit.context import AuditContext, HostRunner
from souverain.audit.findings import CheckResult, Evidence, Verdict

TIMEOUT = 300


@dataclass(frozen=True)
class Scanner:
    name: str
    install: str  # how to get it, shown when it is missing
    find: Callable[[], list[str] | None]  # argv prefix, or None when not installed
    run: Callable[[list[str], AuditContext, str, HostRunner, dict[str, Any]], CheckResult]


def _ssh_audit_argv() -> list[str] | None:
    found = shutil.which("ssh-audit")
    if found:
        return [found]
    beside = Path(sys.executable).with_name("ssh-audit")
    return [str(beside)] if beside.exists() else None


def _ssh_audit(
    argv: list[str], ctx: AuditContext, host: str, runner: HostRunner, args: dict[str, Any]
) -> CheckResult:
    where = f"ssh-audit {runner.address}:{runner.port}"
    command = [*argv, "-j", "-p", str(runner.port), runner.address]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
        report = json.loads(done.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError) as error:
        return CheckResult("scanner", Verdict.NOT_CHECKED, f"ssh-audit did not run: {error}", host)
    evidence = []
    failed = 0
    for kind in ("kex", "key", "enc", "mac"):
        for entry in report.get(kind, []):
            notes = entry.get("notes", {})
            if notes.get("fail") and entry["algorithm"] in args.get("accept", ()):
                text = f"{kind} {entry['algorithm']}: {'; '.join(notes['fail'])}"
                evidence.append(Evidence(f"{text} (accepted: {args['accept_why']})", where))
            elif notes.get("fail"):
                failed += 1
                text = f"{kind} {entry['algorithm']}: {'; '.join(notes['fail'])}"
                evidence.append(Evidence(text, where, None, False))
            elif notes.get("warn"):
                text = f"{kind} {entry['algorithm']} (warning): {'; '.join(notes['warn'])}"
                evidence.append(Evidence(text, where, None, None))
    banner = report.get("banner", {}).get("software") or report.get("banner", {}).get("raw", "")
    if failed:
        return CheckResult(
            "scanner", Verdict.FAIL, f"ssh-audit: {failed} algorithm(s) fail", host, tuple(evidence)
        )
    evidence.insert(0, Evidence(f"{banner}: no failing algorithm", where, None, True))
    return CheckResult(
        "scanner", Verdict.PASS, "ssh-audit: no failing algorithm", host, tuple(evidence)
    )


def _testssl_argv() -> list[str] | None:
    for name in ("testssl", "testssl.sh"):
        found = shutil.which(name)
        if found:
            return [found]
    return None


def _testssl(
    argv: list[str], ctx: AuditContext, host: str, runner: HostRunner, args: dict[str, Any]
) -> CheckResult:
    port = int(args.get("port", 443))
    where = f"testssl {runner.address}:{port}"
    with tempfile.TemporaryDirectory(prefix="souverain-testssl-") as tmp:
        out = Path(tmp) / "result.json"
        command = [*argv, "--quiet", "--warnings", "off", "-p", "-E", "-f", "-S", "-h",
                   "--jsonfile", str(out), f"{runner.address}:{port}"]  # fmt: skip
        try:
            subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False,
                           env={**os.environ, "TERM": "dumb"})  # fmt: skip
            findings = json.loads(out.read_text())
        except (OSError, subprocess.TimeoutExpired, ValueError) as error:
            return CheckResult(
                "scanner", Verdict.NOT_CHECKED, f"testssl.sh did not run: {error}", host
            )
    bad = [f for f in findings if str(f.get("severity", "")).upper() in ("HIGH", "CRITICAL")]
    evidence = tuple(
        Evidence(f"{f.get('id')}: {f.get('finding')} ({f.get('severity')})", where, None, False)
        for f in bad[:20]
    )
    if bad:
        return CheckResult(
            "scanner", Verdict.FAIL, f"testssl.sh: {len(bad)} high finding(s)", host, evidence
        )
    return CheckResult(
        "scanner", Verdict.PASS, "testssl.sh: no high or critical finding", host,
        (Evidence(f"{len(findings)} findings, none high or critical", where, None, True),),
    )  # fmt: skip


SCANNERS: dict[str, Scanner] = {
    "ssh-audit": Scanner(
        "ssh-audit",
        "pip install ssh-audit (or apt-get install ssh-audit)",
        _ssh_audit_argv,
        _ssh_audit,
    ),
    "testssl": Scanner("testssl", "apt-get install testssl.sh", _testssl_argv, _testssl),
}


def availability() -> dict[str, str]:
    """Scanner name -> where it was found, or why it is absent."""
    result = {}
    for name, scanner in SCANNERS.items():
        argv = scanner.find()
        result[name] = argv[0] if argv else f"not installed ({scanner.install})"
    return result


def run_scanner(
    ctx: AuditContext, name: str, host: str, runner: HostRunner | None, args: dict[str, Any]
) -> CheckResult:
    scanner = SCANNERS.get(name)
    if scanner is None:
        return CheckResult("scanner", Verdict.NOT_CHECKED, f"unknown scanner {name!r}", host)
    if runner is None:
        return CheckResult(
            "scanner", Verdict.NOT_CHECKED, f"{name}: runs against deployed hosts (--live)", host
        )
    argv = scanner.find()
    if argv is None:
        return CheckResult(
            "scanner", Verdict.NOT_CHECKED, f"{name} is not installed ({scanner.install})", host
        )
    return scanner.run(argv, ctx, host, runner, args)
