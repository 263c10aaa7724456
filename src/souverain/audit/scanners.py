"""Independent scanners as evidence, next to the rules they support.

A scanner runs from the controller against a deployed host, only with --live. When it is not
installed its result is "not checked" with how to install it: never a pass. Each scanner is
an optional extra, never a dependency of souverain:

- ssh-audit (`pip install ssh-audit`, or Debian's ssh-audit): SSH algorithms; an algorithm
  ssh-audit marks as failing fails the rule, warnings are shown.
- sslyze (`pip install 'souverain[scan]'`, or sslyze on the PATH): every TLS port the model
  says the host serves (souverain.model.services.host_tls_endpoints), with STARTTLS where the
  protocol has it, from the controller. Judged by ANSSI's TLS recommendations, not by
  Mozilla's profiles, in souverain.audit.tlsjudge as the tls_endpoints probe is: SSL 2/3 and
  TLS 1.0/1.1 refused, TLS 1.2 with forward-secret AEAD suites only, the certificate chaining
  to the suite's CA for the name clients ask, no known protocol flaw. About 3 s per port here,
  where testssl.sh 3.0.8 took 79 s for one HTTPS port: why sslyze was chosen. Ports out of the
  controller's reach (loopback, suite-only firewall openings) are "not checked" with that
  reason; the tls_endpoints probe covers them from the host itself.
- OpenSCAP and Lynis run on the hosts themselves, from Debian's packages the base role installs
  when asked (souverain.audit.openscap, souverain.audit.lynis).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from souverain.audit.context import AuditContext, HostRunner
from souverain.audit.findings import CheckResult, Evidence, Verdict
from souverain.audit.suiteca import suite_ca
from souverain.audit.tlsjudge import Observed, Offer, Stop, Verification, judge_tls
from souverain.model.services import TlsEndpoint

TIMEOUT = 300
SSLYZE_TIMEOUT = 120  # seconds per sslyze run (one per protocol and host)


@dataclass(frozen=True)
class Scanner:
    name: str
    install: str  # how to get it, shown when it is missing
    find: Callable[[], list[str] | None]  # argv prefix, or None when not installed
    # One result for the host, or one per port (TLS scanners).
    run: Callable[
        [list[str], AuditContext, str, HostRunner, dict[str, Any]],
        CheckResult | list[CheckResult],
    ]


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


def _sslyze_argv() -> list[str] | None:
    found = shutil.which("sslyze")
    if found:
        return [found]
    beside = Path(sys.executable).with_name("sslyze")
    if beside.exists():
        return [str(beside)]
    return [sys.executable, "-m", "sslyze"] if importlib.util.find_spec("sslyze") else None


# What sslyze scans: versions and suites, the certificate, and the known protocol flaws.
SSLYZE_COMMANDS = ["--certinfo", "--sslv2", "--sslv3", "--tlsv1", "--tlsv1_1", "--tlsv1_2",
                   "--tlsv1_3", "--heartbleed", "--openssl_ccs", "--robot", "--reneg",
                   "--compression", "--fallback"]  # fmt: skip
CONNECT_TIMEOUT = 3.0


def _reachable(address: str, port: int) -> str | None:
    """None when a TCP connection opens, else why not."""
    try:
        with socket.create_connection((address, port), timeout=CONNECT_TIMEOUT):
            return None
    except OSError as error:
        return str(error) or type(error).__name__


def _sslyze(
    argv: list[str], ctx: AuditContext, host: str, runner: HostRunner, args: dict[str, Any]
) -> list[CheckResult]:
    from souverain.model.services import host_tls_endpoints

    endpoints = host_tls_endpoints(ctx.suite, host, args.get("component"))
    results: dict[int, CheckResult] = {}
    groups: dict[str | None, list[TlsEndpoint]] = {}
    for endpoint in endpoints:
        where = f"sslyze {runner.address}:{endpoint.port}"
        if endpoint.loopback:
            why = f"{endpoint.label}: on {host}'s loopback only, out of the controller's reach"
            results[endpoint.port] = CheckResult("scanner", Verdict.NOT_CHECKED, why, host)
            continue
        refused = _reachable(runner.address, endpoint.port)
        if refused:
            why = (f"{endpoint.label}: not reachable from this controller ({refused}); "
                   "the firewall may open it to the suite's hosts only")  # fmt: skip
            results[endpoint.port] = CheckResult(
                "scanner", Verdict.NOT_CHECKED, why, host, (Evidence(refused, where),)
            )
            continue
        groups.setdefault(endpoint.starttls, []).append(endpoint)
    ca_pem, ca_name = suite_ca(ctx, host)
    with tempfile.TemporaryDirectory(prefix="souverain-sslyze-") as tmp:
        ca_file = Path(tmp) / "ca.crt"
        if ca_pem:
            ca_file.write_text(ca_pem)
        for starttls, members in groups.items():
            out = Path(tmp) / f"result-{starttls or 'tls'}.json"
            command = [*argv, "--quiet", "--json_out", str(out), *SSLYZE_COMMANDS]
            if ca_pem:
                command += ["--certinfo_ca_file", str(ca_file)]
            if starttls:
                command += ["--starttls", starttls]
            command += [f"{e.names[0]}:{e.port}{{{runner.address}}}" for e in members]
            started = time.perf_counter()
            try:
                subprocess.run(command, capture_output=True, timeout=SSLYZE_TIMEOUT, check=False)
                report = json.loads(out.read_text())
            except (OSError, subprocess.TimeoutExpired, ValueError) as error:
                for e in members:
                    results[e.port] = CheckResult(
                        "scanner", Verdict.NOT_CHECKED, f"sslyze did not run: {error}", host
                    )
                continue
            took = time.perf_counter() - started
            by_port = {
                int(server["server_location"]["port"]): server
                for server in report.get("server_scan_results", [])
            }
            version = report.get("sslyze_version", "?")
            for e in members:
                found = by_port.get(e.port)
                results[e.port] = judge_sslyze(e, found, host, runner.address, ca_name,
                                               f"sslyze {version}, {took:.1f} s")  # fmt: skip
    return [results[e.port] for e in endpoints]


# sslyze's scan commands and what the TLS judge calls them.
SSLYZE_VERSIONS = {
    "ssl_2_0_cipher_suites": "SSL 2.0", "ssl_3_0_cipher_suites": "SSL 3.0",
    "tls_1_0_cipher_suites": "TLS 1.0", "tls_1_1_cipher_suites": "TLS 1.1",
    "tls_1_2_cipher_suites": "TLS 1.2", "tls_1_3_cipher_suites": "TLS 1.3",
}  # fmt: skip
SSLYZE_FLAWS = {
    "heartbleed": "Heartbleed", "openssl_ccs_injection": "CCS", "robot": "ROBOT",
    "tls_compression": "compression", "session_renegotiation": "renegotiation",
}  # fmt: skip
# (scan, result field, value that means vulnerable, what to call it)
SSLYZE_FLAW_FIELDS = (
    ("heartbleed", "is_vulnerable_to_heartbleed", True, "Heartbleed"),
    ("openssl_ccs_injection", "is_vulnerable_to_ccs_injection", True, "CCS injection"),
    ("tls_compression", "supports_compression", True, "TLS compression (CRIME)"),
    ("session_renegotiation", "is_vulnerable_to_client_renegotiation_dos", True,
     "client-initiated renegotiation"),
    ("session_renegotiation", "supports_secure_renegotiation", False, "no secure renegotiation"),
)  # fmt: skip


def judge_sslyze(
    endpoint: TlsEndpoint,
    server: dict[str, Any] | None,
    host: str,
    address: str,
    ca_name: str,
    run: str,
) -> CheckResult:
    """One sslyze server result, judged by ANSSI's TLS recommendations (audit.tlsjudge)."""
    where = f"sslyze {address}:{endpoint.port} {endpoint.label}"
    return judge_tls(observed_by_sslyze(endpoint, server), kind="scanner",
                     what=f"{endpoint.label} (sslyze)", where=where, host=host,
                     extra=(Evidence(run, where),))  # fmt: skip


def observed_by_sslyze(endpoint: TlsEndpoint, server: dict[str, Any] | None) -> Observed:
    """One sslyze server result, in the TLS judge's terms."""
    if server is None or server.get("scan_status") != "COMPLETED":
        why = (server or {}).get("connectivity_error_trace") or "no result for this port"
        return Observed(stop=Stop("unscanned", str(why)[-300:]))
    scan = server.get("scan_result") or {}
    # A scan command sslyze could not complete (the server stalled its connections: Postfix
    # with a milter under sslyze's parallel connections) says nothing about the server.
    errored = {
        key: str(attempt.get("error_reason") or attempt.get("status"))
        for key, attempt in scan.items()
        if isinstance(attempt, dict) and attempt.get("status") not in ("COMPLETED", "NOT_SCHEDULED")
    }
    offers = {}
    for key, version in SSLYZE_VERSIONS.items():
        if key in errored:
            continue
        result = (scan.get(key) or {}).get("result") or {}
        suites = tuple(s["cipher_suite"]["openssl_name"]
                       for s in result.get("accepted_cipher_suites", []))  # fmt: skip
        offers[version] = Offer("accepted", suites) if suites else Offer("refused")
    deployments = []
    if "certificate_info" not in errored:
        info = (scan.get("certificate_info") or {}).get("result") or {}
        deployments = info.get("certificate_deployments") or []
    flaws = []
    for key, field, vulnerable, label in SSLYZE_FLAW_FIELDS:
        result = (scan.get(key) or {}).get("result") or {}
        if field in result and bool(result[field]) == vulnerable:
            flaws.append(label)
    robot = ((scan.get("robot") or {}).get("result") or {}).get("robot_result", "")
    if str(robot).startswith("VULNERABLE"):
        flaws.append(f"ROBOT: {robot}")
    sought = [label for key, label in SSLYZE_FLAWS.items()
              if (scan.get(key) or {}).get("status") == "COMPLETED"]  # fmt: skip
    return Observed(
        offers=offers,
        verifications=_verifications(deployments[0], endpoint) if deployments else (),
        certificate_received="certificate_info" in errored or bool(deployments),
        flaws_sought=tuple(dict.fromkeys(sought)),
        flaws=tuple(flaws),
        incomplete=tuple(
            (key, f"{why}: sslyze could not complete it") for key, why in errored.items()
        ),
    )


def _verifications(deployment: dict[str, Any], endpoint: TlsEndpoint) -> tuple[Verification, ...]:
    """The chain, against the suite's CA when sslyze was given it, and the name clients ask."""
    validations = deployment.get("path_validation_results") or []
    supplied = [v for v in validations if "supplied" in v["trust_store"]["name"].lower()]
    chosen = supplied or validations
    store = "the suite's CA" if supplied else "public trust stores"
    if any(v.get("was_validation_successful") for v in chosen):
        chain = Verification("verified", "chain", against=store)
    else:
        errors = "; ".join({str(v.get("validation_error")) for v in chosen})
        chain = Verification("unverified", "chain", against=store, detail=errors)
    leaf = (deployment.get("received_certificate_chain") or [{}])[0]
    alternative = leaf.get("subject_alternative_name") or {}
    sans = alternative.get("dns", []) or alternative.get("dns_names", [])
    name = endpoint.names[0]
    if name in sans or any(s.startswith("*.") and name.split(".", 1)[-1] == s[2:] for s in sans):
        named = Verification("verified", "name", name)
    else:
        named = Verification("unverified", "name", name, detail=", ".join(sans[:4]))
    return chain, named


def _openscap_argv() -> list[str] | None:
    return ["oscap"]  # runs on each host; whether it is there is the host's business


def _openscap(
    argv: list[str], ctx: AuditContext, host: str, runner: HostRunner, args: dict[str, Any]
) -> CheckResult:
    from souverain.audit.openscap import judge

    return judge(ctx, host, runner, args)


def _lynis_argv() -> list[str] | None:
    return ["lynis"]  # runs on each host; whether it is there is the host's business


def _lynis(
    argv: list[str], ctx: AuditContext, host: str, runner: HostRunner, args: dict[str, Any]
) -> CheckResult:
    from souverain.audit.lynis import judge

    return judge(ctx, host, runner, args)


SCANNERS: dict[str, Scanner] = {
    "ssh-audit": Scanner(
        "ssh-audit",
        "pip install ssh-audit (or apt-get install ssh-audit)",
        _ssh_audit_argv,
        _ssh_audit,
    ),
    "sslyze": Scanner(
        "sslyze", "pip install 'souverain[scan]' (or pipx install sslyze)", _sslyze_argv, _sslyze
    ),
    "openscap": Scanner(
        "openscap",
        "components.base.openscap.enabled: true, then deploy",
        _openscap_argv,
        _openscap,
    ),
    "lynis": Scanner(
        "lynis",
        "components.base.lynis.enabled: true, then deploy",
        _lynis_argv,
        _lynis,
    ),
}


def availability() -> dict[str, str]:
    """Scanner name -> where it was found, or why it is absent."""
    result = {}
    for name, scanner in SCANNERS.items():
        argv = scanner.find()
        if name in ("openscap", "lynis"):
            result[name] = f"on each host, when installed there (components.base.{name})"
            continue
        result[name] = argv[0] if argv else f"not installed ({scanner.install})"
    return result


def run_scanner(
    ctx: AuditContext, name: str, host: str, runner: HostRunner | None, args: dict[str, Any]
) -> list[CheckResult]:
    scanner = SCANNERS.get(name)
    if scanner is None:
        return [CheckResult("scanner", Verdict.NOT_CHECKED, f"unknown scanner {name!r}", host)]
    if runner is None:
        why = f"{name}: runs against deployed hosts (--live)"
        return [CheckResult("scanner", Verdict.NOT_CHECKED, why, host)]
    argv = scanner.find()
    if argv is None:
        why = f"{name} is not installed ({scanner.install})"
        return [CheckResult("scanner", Verdict.NOT_CHECKED, why, host)]
    result = scanner.run(argv, ctx, host, runner, args)
    return result if isinstance(result, list) else [result]
