"""Named live probes, for what a command and a parser cannot judge alone.

A rule names a probe (`live: [{probe: tls_handshake, args: {...}}]`); adding a rule that uses
an existing probe needs no code. Probes:

- ``tls_handshake``: Python's ssl from the controller to each host's TLS port, one handshake
  per protocol version, then the negotiated suite and the certificate (args: port, checks
  among protocols|cipher|certificate, allow, min_days_left).
- ``listening_sockets``: `ss` on the host; every socket listening beyond loopback must belong
  to a component the host carries (constants.component_ports) or to SSH.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import socket
import ssl
from collections.abc import Callable
from typing import Any

from souverain.audit.check_build import fold
from souverain.audit.check_live import judge_output
from souverain.audit.context import AuditContext, HostRunner
from souverain.audit.expect import Judged
from souverain.audit.findings import CheckResult, Evidence, Verdict
from souverain.audit.rules import LiveCheck

Probe = Callable[[AuditContext, LiveCheck, str, HostRunner], list[CheckResult]]
TIMEOUT = 5.0
VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
AEAD_FS = re.compile(
    r"^(TLS_(AES_(128|256)_GCM|CHACHA20_POLY1305|AES_128_CCM)|ECDHE-.*(GCM|CHACHA20|CCM)|DHE-.*(GCM|CHACHA20|CCM))"
)


def run_probe(
    ctx: AuditContext, check: LiveCheck, host: str, runner: HostRunner
) -> list[CheckResult]:
    probe = PROBES.get(check.probe or "")
    if probe is None:
        return [CheckResult("live", Verdict.NOT_CHECKED, f"unknown probe {check.probe!r}", host)]
    return probe(ctx, check, host, runner)


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


def _certificate_problems(der: bytes, min_days: int) -> tuple[str, list[str]]:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    cert = x509.load_der_x509_certificate(der)
    key = cert.public_key()
    problems = []
    if isinstance(key, rsa.RSAPublicKey):
        kind = f"RSA {key.key_size}"
        if key.key_size < 2048:
            problems.append("RSA key under 2048 bits")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        kind = f"ECDSA {key.curve.name}"
        if key.curve.key_size < 256:
            problems.append("EC key under 256 bits")
    else:
        kind = type(key).__name__
    left = (cert.not_valid_after_utc - dt.datetime.now(dt.UTC)).days
    if left < min_days:
        problems.append(f"expires in {left} days (< {min_days})")
    algorithm = cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else "?"
    if algorithm in ("md5", "sha1"):
        problems.append(f"signed with {algorithm}")
    text = f"certificate {cert.subject.rfc4514_string()}: {kind}, {algorithm}, {left} days left"
    return text, problems


def tls_handshake(
    ctx: AuditContext, check: LiveCheck, host: str, runner: HostRunner
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
                text, problems = _certificate_problems(der, int(args.get("min_days_left", 30)))
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


# ---- listening sockets -------------------------------------------------------------------

_SS_LINE = re.compile(r"^(\S+)\s+\S+\s+\d+\s+\d+\s+(\S+):(\d+|\*)\s")


def _loopback(address: str) -> bool:
    address = address.strip("[]").split("%")[0]
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def listening_sockets(
    ctx: AuditContext, check: LiveCheck, host: str, runner: HostRunner
) -> list[CheckResult]:
    command = "ss -H -tuln"
    result = runner.run(command)
    if result.exit_status != 0:
        return [judge_output(ctx, check, host, command, result)]
    ports_of: dict[str, list[int]] = ctx.rules.constants.get("component_ports", {})
    host_model = ctx.suite.host(host)
    allowed = {host_model.ssh_port or ctx.suite.components.base.ssh_port}
    for component in ctx.suite.components_of_host(host):
        allowed.update(int(port) for port in ports_of.get(component, []))
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


PROBES: dict[str, Probe] = {
    "tls_handshake": tls_handshake,
    "listening_sockets": listening_sockets,
}
