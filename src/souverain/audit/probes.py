"""Named live probes, for what a command and a parser cannot judge alone.

A rule names a probe (`live: [{probe: tls_handshake, args: {...}}]`); adding a rule that uses
an existing probe needs no code. Probes:

- ``tls_handshake``: Python's ssl from the controller to each host's TLS port, one handshake
  per protocol version, then the negotiated suite and the certificate (args: port, checks
  among protocols|cipher|certificate, allow, min_days_left).
- ``listening_sockets``: `ss` on the host; every socket listening beyond loopback must belong
  to a component the host carries (the ports its manifest opens or serves TLS on, and
  constants.component_ports) or to SSH.
- ``tls_endpoints``: every TLS port the host serves for the rule's component, as the model
  places it (souverain.model.services.host_tls_endpoints), with its STARTTLS preamble where
  there is one. :mod:`souverain.audit.tlsprobe` runs on the host itself (so suite-only and
  loopback listeners are probed too); each port is judged by :mod:`souverain.audit.tlsjudge`,
  as sslyze's results are: TLS 1.0 and 1.1 refused, TLS 1.2 accepted with a forward-secret
  AEAD suite, the certificate verified against the suite's CA for every name clients ask for
  (args: min_days_left).
- ``time_sources``: `chronyc -n sources` on the host; every source chrony really uses (by
  address, so servers pushed by DHCP or read from a sources directory count too) must stay
  inside the suite (:func:`souverain.audit.reach.is_internal`).
- ``admin_networks``: the host firewall's administration sets (`nft -j list set inet souverain
  admin_v4`, `admin_v6`), judged as the model's networks are: the public space all elements
  cover together must stay within constants.admin_public_max_prefix
  (:func:`souverain.audit.reach.exposure`).
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
import socket
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

from souverain.audit.check_build import fold
from souverain.audit.command_output import judge_output
from souverain.audit.context import AuditContext, HostRunner
from souverain.audit.expect import Judged
from souverain.audit.findings import CheckResult, Evidence, Verdict
from souverain.audit.reach import exposure, is_internal
from souverain.audit.rules import LiveCheck, Rule
from souverain.audit.suiteca import suite_ca
from souverain.audit.tlsjudge import (
    AEAD_FS,
    Observed,
    Offer,
    Stop,
    Verification,
    certificate_problems,
    judge_tls,
)

Probe = Callable[[AuditContext, Rule, LiveCheck, str, HostRunner], list[CheckResult]]
TIMEOUT = 5.0
VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


def run_probe(
    ctx: AuditContext, rule: Rule, check: LiveCheck, host: str, runner: HostRunner
) -> list[CheckResult]:
    probe = PROBES.get(check.probe or "")
    if probe is None:
        return [CheckResult("live", Verdict.NOT_CHECKED, f"unknown probe {check.probe!r}", host)]
    return probe(ctx, rule, check, host, runner)


# ---- TLS ---------------------------------------------------------------------------------


def _client(version: ssl.TLSVersion | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if version is not None:
        context.minimum_version = version
        context.maximum_version = version
        if version < ssl.TLSVersion.TLSv1_2:
            # Let this client offer what the server must refuse.
            context.set_ciphers("ALL:@SECLEVEL=0")
    return context


def handshake(
    address: str, port: int, server_name: str | None, version: ssl.TLSVersion | None
) -> tuple[str, Any]:
    """('accepted', (protocol, cipher, der)) | ('refused', reason) | ('untested', reason)."""
    try:
        context = _client(version)
    except (ssl.SSLError, ValueError) as error:
        return "untested", f"this controller's OpenSSL cannot offer it ({error})"
    try:
        with (
            socket.create_connection((address, port), timeout=TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname=server_name) as tls,
        ):
            cipher = tls.cipher()
            return "accepted", (tls.version(), cipher[0] if cipher else "", tls.getpeercert(True))
    except ssl.SSLError as error:
        if "NO_PROTOCOLS_AVAILABLE" in str(error) or "NO_CIPHERS_AVAILABLE" in str(error):
            return "untested", f"this controller's OpenSSL cannot offer it ({error.reason})"
        return "refused", error.reason or str(error)
    except OSError as error:
        return "unreachable", str(error)


def tls_handshake(
    ctx: AuditContext, rule: Rule, check: LiveCheck, host: str, runner: HostRunner
) -> list[CheckResult]:
    args = check.args
    port = int(args.get("port", 443))
    checks = args.get("checks", ["protocols", "cipher", "certificate"])
    allowed = set(args.get("allow", ["TLSv1.2", "TLSv1.3"]))
    server_name = ctx.suite.tenants[0].domain if args.get("sni", "tenant") == "tenant" else None
    where = f"tls://{runner.address}:{port} (SNI {server_name})"
    judged: list[Judged] = []
    untested = []
    if "protocols" in checks:
        for name, version in VERSIONS.items():
            outcome, detail = handshake(runner.address, port, server_name, version)
            if outcome == "unreachable":
                return [CheckResult("live", Verdict.NOT_CHECKED, f"{where}: {detail}", host)]
            if outcome == "untested":
                untested.append(f"{name}: {detail}")
                continue
            accepted = outcome == "accepted"
            # Refusing an allowed version is not this rule's concern; accepting another is.
            ok = not accepted or name in allowed
            text = f"{name}: {'accepted' if accepted else 'refused (' + str(detail) + ')'}"
            judged.append(Judged((Evidence(text, where, None, ok),), ok, f"{name} accepted"))
    if "cipher" in checks or "certificate" in checks:
        outcome, detail = handshake(runner.address, port, server_name, ssl.TLSVersion.TLSv1_2)
        if outcome == "accepted":
            protocol, cipher, der = detail
            if "cipher" in checks:
                ok = bool(AEAD_FS.match(cipher))
                text = f"{protocol} negotiated {cipher}"
                judged.append(Judged((Evidence(text, where, None, ok),), ok, f"suite {cipher}"))
            if "certificate" in checks and der:
                text, problems = certificate_problems(der, int(args.get("min_days_left", 30)))
                ok = not problems
                shown = text + (f"  ({'; '.join(problems)})" if problems else "")
                judged.append(
                    Judged((Evidence(shown, where, None, ok),), ok, "; ".join(problems) or "ok")
                )
        else:
            untested.append(f"TLSv1.2 handshake {outcome}: {detail}")
    result = fold("live", host, judged, where)
    if untested:
        note = tuple(Evidence(f"not tested: {item}", where) for item in untested)
        result = CheckResult(
            result.kind, result.verdict, result.summary, host, result.evidence + note
        )
    return [result]


# ---- TLS on every port of a component, from the host ------------------------------------

PROBE_TIMEOUT = 4.0
# tlsprobe's version names (Python's ssl), as the TLS judge names them.
PROBED_VERSIONS = {"TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1", "TLSv1.2": "TLS 1.2",
                   "TLSv1.3": "TLS 1.3"}  # fmt: skip


def observed_by_probe(found: dict[str, Any], ca_name: str) -> Observed:
    """One endpoint of tlsprobe's report, in the TLS judge's terms."""
    error = found.get("error")
    if error:
        reason = "unreachable" if error["outcome"] == "unreachable" else "no_tls"
        return Observed(stop=Stop(reason, str(error["detail"])))
    versions = found.get("versions", {})
    offers = {name: _offer(versions.get(key)) for key, name in PROBED_VERSIONS.items()}
    certificates: dict[str, dict[str, Any]] = found.get("certificates", {})
    return Observed(
        offers=offers,
        verifications=tuple(
            _verification(name, seen, ca_name) for name, seen in certificates.items()
        ),
        names_total=int(found.get("names_total", len(certificates))),
        presented=versions.get("TLSv1.2", {}).get("certificate") or None,
    )


def _offer(seen: dict[str, Any] | None) -> Offer:
    if seen is None:
        return Offer("failed", detail="not tried")
    outcome, detail = seen.get("outcome"), str(seen.get("detail", ""))
    if outcome == "accepted":
        return Offer("accepted", (str(seen.get("cipher", "")),))
    if outcome in ("refused", "untested"):
        return Offer(outcome, detail=detail)
    return Offer("failed", detail=f"{outcome}: {detail}")


def _verification(name: str, seen: dict[str, Any], ca_name: str) -> Verification:
    # One handshake per name verifies the chain to the CA and the name at once.
    outcome = seen.get("outcome")
    if outcome == "accepted":
        return Verification("verified", "both", name, ca_name)
    if outcome == "untested":
        return Verification("untested", "both", name, ca_name, str(seen.get("detail")))
    return Verification("unverified", "both", name, ca_name, f"{outcome} ({seen.get('detail')})")


def tls_endpoints(
    ctx: AuditContext, rule: Rule, check: LiveCheck, host: str, runner: HostRunner
) -> list[CheckResult]:
    from souverain.audit import tlsprobe
    from souverain.model.services import host_tls_endpoints

    endpoints = host_tls_endpoints(ctx.suite, host, rule.component)
    if not endpoints:
        return [
            CheckResult(
                "live",
                Verdict.NOT_APPLICABLE,
                f"{host} serves no TLS port for {rule.component}",
                host,
            )
        ]
    ca_pem, ca_name = suite_ca(ctx, host)
    if ctx.suite.components.pki.mode == "internal" and ca_pem is None:
        return [
            CheckResult(
                "live",
                Verdict.NOT_CHECKED,
                "the suite's CA certificate is not in the build (run render)",
                host,
            )
        ]
    job = {
        "address": runner.address,
        "timeout": PROBE_TIMEOUT,
        "ca": ca_pem,
        "endpoints": [
            {"port": e.port, "starttls": e.starttls, "names": list(e.names), "loopback": e.loopback}
            for e in endpoints
        ],
    }
    source = Path(tlsprobe.__file__).read_text()
    command = f"python3 -c {shlex.quote(source)} {shlex.quote(json.dumps(job))}"
    shown = f"{host}$ python3 (souverain.audit.tlsprobe, {len(endpoints)} port(s))"
    result = runner.run(command)
    if result.exit_status != 0:
        return [judge_output(ctx, check, host, shown, result)]
    try:
        report = json.loads(result.stdout)
    except ValueError:
        text = ctx.redact(result.stdout.strip()[:300]) or "(no output)"
        return [CheckResult("live", Verdict.NOT_CHECKED, f"unreadable probe output: {text}", host)]
    client = Evidence(f"client: Python {report.get('python')}, {report.get('openssl')}", shown)
    min_days = int(check.args.get("min_days_left", 30))
    results = []
    by_port = {int(found.get("port", 0)): found for found in report.get("endpoints", [])}
    for endpoint in endpoints:
        found = by_port.get(endpoint.port)
        if found is None:
            why = f"{endpoint.label}: the probe returned nothing for this port"
            results.append(CheckResult("live", Verdict.NOT_CHECKED, why, host, (client,)))
            continue
        where = f"{host}: {found.get('address')}:{endpoint.port} {endpoint.label}"
        results.append(
            judge_tls(observed_by_probe(found, ca_name), kind="live", what=endpoint.label,
                      where=where, host=host, min_days=min_days, extra=(client,))
        )  # fmt: skip
    return results


# ---- listening sockets -------------------------------------------------------------------

_SS_LINE = re.compile(r"^(\S+)\s+\S+\s+\d+\s+\d+\s+(\S+):(\d+|\*)\s")


def _loopback(address: str) -> bool:
    address = address.strip("[]").split("%")[0]
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def listening_sockets(
    ctx: AuditContext, rule: Rule, check: LiveCheck, host: str, runner: HostRunner
) -> list[CheckResult]:
    command = "ss -H -tuln"
    result = runner.run(command)
    if result.exit_status != 0:
        return [judge_output(ctx, check, host, command, result)]
    from souverain.model.services import host_openings, host_tls_endpoints

    ports_of: dict[str, list[int]] = ctx.rules.constants.get("component_ports", {})
    host_model = ctx.suite.host(host)
    allowed = {host_model.ssh_port or ctx.suite.components.base.ssh_port}
    for component in ctx.suite.components_of_host(host):
        allowed.update(int(port) for port in ports_of.get(component, []))
    # And every port the components' manifests open or serve TLS on for this host.
    allowed.update(opening.port for opening in host_openings(ctx.suite, host))
    allowed.update(endpoint.port for endpoint in host_tls_endpoints(ctx.suite, host))
    judged = []
    where = f"{host}$ {command}"
    for line in result.stdout.splitlines():
        match = _SS_LINE.match(line.strip())
        if not match or match.group(3) == "*":
            continue
        proto, address, port = match.group(1), match.group(2), int(match.group(3))
        if _loopback(address):
            continue
        ok = port in allowed
        text = f"{proto} {address}:{port}" + ("" if ok else "  (no component of this host uses it)")
        judged.append(Judged((Evidence(text, where, None, ok),), ok, f"unexpected {proto}/{port}"))
    if not judged:
        judged.append(
            Judged((Evidence("nothing listens beyond loopback", where, None, True),), True, "ok")
        )
    return [fold("live", host, judged, f"sockets listening on {host}")]


# chronyc -n sources: "^* 10.0.0.1   2   6   377    12   +15us[ +20us] +/-  1ms"
_CHRONY_SOURCE = re.compile(r"^([\^=#])([*+\-?x~ ])\s*(\S+)")


def time_sources(
    ctx: AuditContext, rule: Rule, check: LiveCheck, host: str, runner: HostRunner
) -> list[CheckResult]:
    command = "chronyc -n sources"
    result = runner.run(command)
    if result.exit_status != 0:
        return [judge_output(ctx, check, host, command, result)]
    judged = []
    where = f"{host}$ {command}"
    for line in result.stdout.splitlines():
        match = _CHRONY_SOURCE.match(line.strip())
        if not match or match.group(1) == "#":  # a reference clock on the host itself
            continue
        source = match.group(3)
        ok = is_internal(source, ctx.suite)
        text = source + ("" if ok else "  (outside the suite: calls out)")
        judged.append(Judged((Evidence(text, where, None, ok),), ok, f"{source} calls out"))
    if not judged:
        judged.append(Judged((Evidence("no time source", where, None, False),), False, "none"))
    return [fold("live", host, judged, f"time sources of {host}")]


def _set_elements(payload: str) -> list[str]:
    """The networks of an nftables set, from `nft -j list set` (prefixes, addresses, ranges)."""
    networks: list[str] = []
    for item in json.loads(payload).get("nftables", []):
        for element in (item.get("set") or {}).get("elem", []) or []:
            if isinstance(element, dict) and "elem" in element:  # with a timeout or comment
                element = element["elem"]["val"]
            if isinstance(element, str):
                networks.append(element)
            elif "prefix" in element:
                networks.append(f"{element['prefix']['addr']}/{element['prefix']['len']}")
            elif "range" in element:
                first, last = (ipaddress.ip_address(a) for a in element["range"])
                networks += [str(n) for n in ipaddress.summarize_address_range(first, last)]
    return networks


def admin_networks(
    ctx: AuditContext, rule: Rule, check: LiveCheck, host: str, runner: HostRunner
) -> list[CheckResult]:
    limits = ctx.rules.constants.get("admin_public_max_prefix", {"ipv4": 32, "ipv6": 128})
    networks: list[str] = []
    where = ""
    for name in ("admin_v4", "admin_v6"):
        command = f"nft -j list set inet souverain {name}"
        result = runner.run(command)
        if result.exit_status != 0:
            return [judge_output(ctx, check, host, command, result)]
        try:
            networks += _set_elements(result.stdout)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            reason = f"{command}: unreadable output ({error})"
            return [CheckResult("live", Verdict.NOT_CHECKED, reason, host)]
        where = f"{host}$ nft -j list set inet souverain admin_v4|admin_v6"
    problems = exposure(networks, limits)
    shown = Evidence(f"admin sets: {', '.join(networks) or 'empty'}", where, None, not problems)
    judged = [Judged((shown,), not problems, "; ".join(problems) or "restricted")]
    judged += [Judged((Evidence(p, where, None, False),), False, p) for p in problems]
    return [fold("live", host, judged, f"administration sets of {host}")]


PROBES: dict[str, Probe] = {
    "tls_handshake": tls_handshake,
    "listening_sockets": listening_sockets,
    "tls_endpoints": tls_endpoints,
    "time_sources": time_sources,
    "admin_networks": admin_networks,
}
