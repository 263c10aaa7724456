"""ANSSI's TLS recommendations, judged on what was observed on one endpoint.

Two sources observe a TLS port: the ``tls_endpoints`` probe (:mod:`souverain.audit.tlsprobe`,
run on the host) and sslyze (:mod:`souverain.audit.scanners`, from the controller). Each turns
its report into an :class:`Observed`; :func:`judge_tls` gives the verdict and the evidence
for both, so that both apply the same recommendations (ANSSI SDE-NT-35):

- SSL 2.0, SSL 3.0, TLS 1.0 and TLS 1.1 refused;
- TLS 1.2 accepted, with forward-secret AEAD suites only (TLS 1.3 is shown, not required);
- a certificate that chains to the expected CA and names every name clients ask for; a weak
  key, a weak signature or a close expiry of the presented certificate is shown;
- no known protocol flaw, where the source looks for them.

A scan that could not complete leaves the endpoint "not checked", never passed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from souverain.audit.expect import Judged
from souverain.audit.findings import CheckResult, Evidence, Verdict

LEGACY = ("SSL 2.0", "SSL 3.0", "TLS 1.0", "TLS 1.1")  # must be refused
TLS12 = "TLS 1.2"  # must be accepted, with forward-secret AEAD suites only
TLS13 = "TLS 1.3"

# Forward-secret AEAD suites, by their OpenSSL names.
AEAD_FS = re.compile(
    r"^(TLS_(AES_(128|256)_GCM|CHACHA20_POLY1305|AES_128_CCM)|ECDHE-.*(GCM|CHACHA20|CCM)|DHE-.*(GCM|CHACHA20|CCM))"
)


@dataclass(frozen=True)
class Offer:
    """What came of offering one protocol version alone.

    ``untested``: this client could not offer it; ``failed``: the connection broke before the
    server said yes or no.
    """

    outcome: Literal["accepted", "refused", "untested", "failed"]
    suites: tuple[str, ...] = ()  # accepted suites, OpenSSL names
    detail: str = ""  # why refused, untested or failed


@dataclass(frozen=True)
class Verification:
    """The certificate checked for a chain to a CA, for a name, or for both in one handshake."""

    outcome: Literal["verified", "unverified", "untested"]
    covers: Literal["chain", "name", "both"]
    name: str = ""  # the name a client asks for (name, both)
    against: str = ""  # the CA or trust store (chain, both)
    detail: str = ""  # why not verified or not tested


@dataclass(frozen=True)
class Stop:
    """Why there is no TLS to judge: nothing answers, the preamble failed, no scan result."""

    reason: Literal["unreachable", "no_tls", "unscanned"]
    detail: str


@dataclass(frozen=True)
class Observed:
    """One endpoint as a source saw it; what the source did not look at stays empty."""

    offers: Mapping[str, Offer] = field(default_factory=dict)  # version -> offer; absent: unseen
    verifications: tuple[Verification, ...] = ()
    names_total: int = 0  # names clients ask for; more than those verified is shown
    certificate_received: bool = True
    presented: str | None = None  # the presented certificate, PEM
    flaws_sought: tuple[str, ...] = ()  # known flaws looked for
    flaws: tuple[str, ...] = ()  # found
    incomplete: tuple[tuple[str, str], ...] = ()  # (what, why) that could not be completed
    stop: Stop | None = None


def judge_tls(
    observed: Observed,
    *,
    kind: str,
    what: str,
    where: str,
    host: str,
    min_days: int = 30,
    extra: tuple[Evidence, ...] = (),
) -> CheckResult:
    """The verdict on one endpoint; ``extra`` (the client, the scanner's run) ends the evidence."""
    if observed.stop is not None:
        return _stopped(observed.stop, kind, what, where, host, extra)
    judged: list[Judged] = []
    notes: list[Evidence] = [
        Evidence(f"not checked: {item} ({why})", where) for item, why in observed.incomplete
    ]
    _judge_versions(observed.offers, where, judged, notes)
    _judge_certificate(observed, where, min_days, judged, notes)
    for flaw in observed.flaws:
        judged.append(Judged((Evidence(flaw, where, None, False),), False, flaw))
    if observed.flaws_sought and not observed.flaws:
        text = f"no known flaw ({', '.join(observed.flaws_sought)})"
        judged.append(Judged((Evidence(text, where, None, True),), True, "ok"))
    failed = [j for j in judged if j.ok is False]
    # Failures first, then what passed and what is only shown.
    evidence = (
        *(e for j in failed for e in j.evidence),
        *(e for j in judged if j.ok is not False for e in j.evidence),
        *notes,
        *extra,
    )
    if failed:
        reasons = list(dict.fromkeys(j.reason for j in failed))
        return CheckResult(kind, Verdict.FAIL, f"{what}: {'; '.join(reasons[:3])}", host, evidence)
    if observed.incomplete:
        summary = (
            f"{what}: {len(observed.incomplete)} scan(s) could not complete, "
            "nothing wrong in the rest"
        )
        return CheckResult(kind, Verdict.NOT_CHECKED, summary, host, evidence)
    if any(j.ok for j in judged):
        return CheckResult(kind, Verdict.PASS, f"{what}: as expected", host, evidence)
    return CheckResult(
        kind, Verdict.NOT_CHECKED, f"{what}: nothing could be tested", host, evidence
    )


def _stopped(
    stop: Stop, kind: str, what: str, where: str, host: str, extra: tuple[Evidence, ...]
) -> CheckResult:
    if stop.reason == "unreachable":
        summary = f"{what}: nothing answers ({stop.detail}); is the service running?"
        evidence = (Evidence(f"connect: {stop.detail}", where), *extra)
        return CheckResult(kind, Verdict.NOT_CHECKED, summary, host, evidence)
    if stop.reason == "no_tls":
        text = f"no TLS: {stop.detail}"
        evidence = (Evidence(text, where, None, False), *extra)
        return CheckResult(kind, Verdict.FAIL, f"{what}: {text}", host, evidence)
    return CheckResult(kind, Verdict.NOT_CHECKED, f"{what}: {stop.detail}", host, extra)


def _judge_versions(
    offers: Mapping[str, Offer], where: str, judged: list[Judged], notes: list[Evidence]
) -> None:
    refused = []
    for version in LEGACY:
        offer = offers.get(version)
        if offer is None:
            continue
        if offer.outcome == "accepted":
            text = f"{version} accepted: {', '.join(offer.suites[:4])}"
            judged.append(
                Judged((Evidence(text, where, None, False),), False, f"{version} accepted")
            )
        elif offer.outcome == "refused":
            refused.append(version + (f" ({offer.detail})" if offer.detail else ""))
        else:
            notes.append(Evidence(f"{version} not tested: {offer.detail}", where))
    if refused:
        text = f"refused: {', '.join(refused)}"
        judged.append(Judged((Evidence(text, where, None, True),), True, "refused"))
    tls12 = offers.get(TLS12)
    if tls12 is not None:
        judged.append(_judge_tls12(tls12, where))
    tls13 = offers.get(TLS13)
    if tls13 is not None:
        if tls13.outcome == "accepted":
            notes.append(Evidence(f"{TLS13}: {', '.join(tls13.suites)}", where))
        elif tls13.outcome == "refused":
            notes.append(Evidence(f"{TLS13}: not accepted", where))
        else:
            notes.append(Evidence(f"{TLS13} not tested: {tls13.detail}", where))


def _judge_tls12(offer: Offer, where: str) -> Judged:
    if offer.outcome == "accepted":
        weak = [suite for suite in offer.suites if not AEAD_FS.match(suite)]
        accepted = Evidence(f"{TLS12} accepted: {', '.join(offer.suites)}", where, None, not weak)
        if not weak:
            return Judged((accepted,), True, "ok")
        text = f"{TLS12} suites without forward-secret AEAD: {', '.join(weak)}"
        reason = f"{TLS12} suites without forward-secret AEAD"
        return Judged((Evidence(text, where, None, False), accepted), False, reason)
    if offer.outcome == "untested":
        text = f"{TLS12} not tested: {offer.detail}"
        return Judged((Evidence(text, where, None, None),), None, f"{TLS12} not tested")
    text = f"{TLS12} not accepted" + (f" ({offer.detail})" if offer.detail else "")
    return Judged((Evidence(text, where, None, False),), False, f"{TLS12} not accepted")


def _judge_certificate(
    observed: Observed, where: str, min_days: int, judged: list[Judged], notes: list[Evidence]
) -> None:
    if not observed.certificate_received:
        text = "no certificate received"
        judged.append(Judged((Evidence(text, where, None, False),), False, text))
        return
    if observed.presented:
        text, problems = presented_certificate(observed.presented, min_days)
        ok = not problems
        shown = text + (f"  ({'; '.join(problems)})" if problems else "")
        # Shown against the ANSSI key and signature sizes; the verifications below decide.
        evidence = Evidence(shown, where, None, None if ok else False)
        judged.append(Judged((evidence,), ok or None, "; ".join(problems) or "ok"))
    named = 0
    for check in observed.verifications:
        named += check.covers != "chain"
        if check.outcome == "untested":
            notes.append(
                Evidence(f"certificate for {check.name} not tested: {check.detail}", where)
            )
            continue
        judged.append(_judge_verification(check, where))
    if observed.names_total > named:
        notes.append(Evidence(f"{named} of {observed.names_total} names verified", where))


def _judge_verification(check: Verification, where: str) -> Judged:
    ok = check.outcome == "verified"
    if check.covers == "chain":
        text = f"certificate chains to {check.against}"
        if ok:
            return Judged((Evidence(text, where, None, True),), True, "verified")
        text = f"certificate does not chain to {check.against}: {check.detail}"
        reason = f"certificate does not chain to {check.against}"
    elif check.covers == "name":
        if ok:
            text = f"certificate names {check.name}"
            return Judged((Evidence(text, where, None, True),), True, "verified")
        text = f"certificate does not name {check.name} ({check.detail})"
        reason = f"certificate does not name {check.name}"
    else:
        if ok:
            text = f"certificate for {check.name}: chains to {check.against}, name matches"
            return Judged((Evidence(text, where, None, True),), True, "verified")
        text = f"certificate for {check.name}: {check.detail}"
        reason = f"certificate not valid for {check.name}"
    return Judged((Evidence(text, where, None, False),), False, reason)


# ---- the certificate itself -------------------------------------------------------------


def certificate_problems(der: bytes, min_days: int) -> tuple[str, list[str]]:
    """A certificate's key, signature and days left, and what falls short of ANSSI's sizes."""
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


def presented_certificate(pem: str, min_days: int) -> tuple[str, list[str]]:
    """:func:`certificate_problems` of a PEM certificate, with its names and its issuer."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = x509.load_pem_x509_certificate(pem.encode())
    text, problems = certificate_problems(cert.public_bytes(Encoding.DER), min_days)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = sans.value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    shown = names[:4] + ([f"… {len(names) - 4} more"] if len(names) > 4 else [])
    text += f"; names {', '.join(shown) or 'none'}; issuer {cert.issuer.rfc4514_string()}"
    return text, problems
