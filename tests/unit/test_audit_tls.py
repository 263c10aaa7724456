"""TLS evidence of the live audit: the ports the model says each host serves, the probe that
runs on the hosts (against a real TLS server on loopback here), sslyze's judged output, and
OpenSCAP's not-checked reasons and tailoring."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from souverain.audit import tlsprobe
from souverain.audit.findings import Verdict
from souverain.audit.scanners import judge_sslyze
from souverain.model.services import TlsEndpoint, host_tls_endpoints
from tests.unit.test_audit_support import FIXTURES, HOST, Rendered, render_init

# ---- which ports ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render_init(tmp_path_factory.mktemp("tls") / "suite")


def _suite(rendered: Rendered):  # type: ignore[no-untyped-def]
    from souverain.model.suite import Suite

    return Suite.model_validate(rendered.data)


def test_endpoints_follow_the_components_a_host_carries(rendered: Rendered) -> None:
    suite = _suite(rendered)
    found = {(e.component, e.port, e.starttls) for e in host_tls_endpoints(suite, HOST)}
    assert found == {
        ("proxy", 443, None),
        ("mail", 25, "smtp"), ("mail", 465, None), ("mail", 587, "smtp"), ("mail", 993, None),
        ("directory", 636, None), ("directory", 389, "ldap"),
        ("postgresql", 5432, "postgres"),
        ("visio", suite.components.visio.turns_port, None),
    }  # fmt: skip
    mail = host_tls_endpoints(suite, HOST, "mail")
    assert all(e.names == ("mail.example.org",) for e in mail)
    # One host: no database user elsewhere, PostgreSQL listens on loopback only.
    [postgres] = host_tls_endpoints(suite, HOST, "postgresql")
    assert postgres.loopback and postgres.names == (f"{HOST}.example.internal",)


def test_turns_port_comes_from_the_model(rendered: Rendered) -> None:
    from souverain.model.suite import Suite
    from tests.unit.test_audit_support import merge

    data = merge(rendered.data, {"components": {"visio": {"turns_port": 5350}}})
    [turns] = host_tls_endpoints(Suite.model_validate(data), HOST, "visio")
    assert turns.port == 5350


def test_every_network_endpoint_is_opened_by_the_hosts_firewall(rendered: Rendered) -> None:
    nftables = (rendered.deployment.build_dir / f"hosts/{HOST}/files/etc/nftables.conf").read_text()
    opened = {int(port) for port in re.findall(r"tcp dport (\d+) accept", nftables)}
    # slapd's ldap:/// (StartTLS) serves the host itself, and PostgreSQL listens on loopback
    # when its clients share its host: the firewall keeps them closed.
    host_local = {389}
    for endpoint in host_tls_endpoints(_suite(rendered), HOST):
        if endpoint.port in host_local or endpoint.loopback:
            assert endpoint.port not in opened
            continue
        assert endpoint.port in opened, f"{endpoint.label} is probed but not opened"


# ---- the probe, against a real TLS server on loopback -----------------------------------


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _certificate(subject: str, key, issuer: str, issuer_key, ca: bool, names=()):  # type: ignore[no-untyped-def]
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str, str]]:
    """A TLS 1.2+ server on loopback with a certificate for srv.test: (port, CA, other CA)."""
    tmp = tmp_path_factory.mktemp("tls-server")
    ca_key, other_key, leaf_key = _key(), _key(), _key()
    ca = _certificate("test CA", ca_key, "test CA", ca_key, True)
    other = _certificate("other CA", other_key, "other CA", other_key, True)
    leaf = _certificate("srv.test", leaf_key, "test CA", ca_key, False, ["srv.test"])
    (tmp / "chain.pem").write_text(_pem(leaf) + _pem(ca))
    (tmp / "key.pem").write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(tmp / "chain.pem", tmp / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            try:
                conn.settimeout(5)
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except OSError:
                pass
            finally:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port, _pem(ca), _pem(other)
    stop.set()
    thread.join(5)
    listener.close()


def test_probe_reads_versions_and_verifies_the_certificate(tls_server) -> None:
    port, ca, _ = tls_server
    endpoint = {"port": port, "starttls": None, "names": ["srv.test", "wrong.test"]}
    found = tlsprobe.probe_endpoint("127.0.0.1", endpoint, ca, 3.0)
    versions = found["versions"]
    assert versions["TLSv1.2"]["outcome"] == "accepted"
    assert versions["TLSv1.2"]["certificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert versions["TLSv1"]["outcome"] in ("refused", "untested")
    assert found["certificates"]["srv.test"]["outcome"] == "accepted"
    assert found["certificates"]["wrong.test"]["outcome"] == "unverified"
    assert "mismatch" in found["certificates"]["wrong.test"]["detail"].lower()


def test_probe_refuses_a_certificate_from_another_ca(tls_server) -> None:
    port, _, other = tls_server
    endpoint = {"port": port, "starttls": None, "names": ["srv.test"]}
    found = tlsprobe.probe_endpoint("127.0.0.1", endpoint, other, 3.0)
    assert found["certificates"]["srv.test"]["outcome"] == "unverified"


def test_probe_says_when_nothing_listens() -> None:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    found = tlsprobe.probe_endpoint("127.0.0.1", {"port": port, "names": ["x.test"]}, None, 1.0)
    assert found["error"]["outcome"] == "unreachable"


def test_probe_source_runs_standalone(tls_server) -> None:
    """The audit ships the module's source to the hosts: it must need nothing of souverain."""
    import subprocess
    import sys

    port, ca, _ = tls_server
    job = {"address": "127.0.0.1", "ca": ca, "timeout": 3,
           "endpoints": [{"port": port, "starttls": None, "names": ["srv.test"]}]}  # fmt: skip
    source = Path(tlsprobe.__file__).read_text()
    assert "souverain" not in re.sub(r'""".*?"""', "", source, flags=re.S).replace(
        "souverain-audit.invalid", ""
    )
    done = subprocess.run([sys.executable, "-I", "-c", source, json.dumps(job)],
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    [found] = json.loads(done.stdout)["endpoints"]
    assert found["certificates"]["srv.test"]["outcome"] == "accepted"


# ---- sslyze's output, judged ------------------------------------------------------------

HTTPS = TlsEndpoint("proxy", "https", 443, None, ("scan.lab.test",))


def _sslyze_server() -> dict:
    report = json.loads((FIXTURES / "sslyze" / "https-443.json").read_text())
    return report["server_scan_results"][0]


def test_sslyze_result_of_the_lab_passes() -> None:
    result = judge_sslyze(HTTPS, _sslyze_server(), "host1", "10.0.0.1", "the suite's CA", "run")
    assert result.verdict == Verdict.PASS, result.evidence
    texts = [e.text for e in result.evidence]
    assert any(t.startswith("refused: SSL 2.0, SSL 3.0, TLS 1.0, TLS 1.1") for t in texts)
    assert "certificate chains to the suite's CA" in texts


def test_sslyze_flags_tls10_weak_suites_and_a_wrong_name() -> None:
    server = copy.deepcopy(_sslyze_server())
    scan = server["scan_result"]
    weak = {"cipher_suite": {"name": "TLS_RSA_WITH_AES_128_CBC_SHA", "openssl_name": "AES128-SHA"}}
    scan["tls_1_0_cipher_suites"]["result"]["accepted_cipher_suites"] = [weak]
    scan["tls_1_2_cipher_suites"]["result"]["accepted_cipher_suites"].append(weak)
    endpoint = TlsEndpoint("mail", "imaps", 993, None, ("mail.other.test",))
    result = judge_sslyze(endpoint, server, "host1", "10.0.0.1", "the suite's CA", "run")
    assert result.verdict == Verdict.FAIL
    failing = [e.text for e in result.evidence if e.ok is False]
    assert any(t.startswith("TLS 1.0 accepted: AES128-SHA") for t in failing)
    assert any("without forward-secret AEAD: AES128-SHA" in t for t in failing)
    assert any("does not name mail.other.test" in t for t in failing)


def test_sslyze_scan_that_could_not_complete_is_not_checked() -> None:
    server = copy.deepcopy(_sslyze_server())
    attempt = server["scan_result"]["tls_1_2_cipher_suites"]
    attempt.update({"status": "ERROR", "error_reason": "CONNECTIVITY_ISSUE", "result": None})
    result = judge_sslyze(HTTPS, server, "host1", "10.0.0.1", "the suite's CA", "run")
    assert result.verdict == Verdict.NOT_CHECKED
    assert any("tls_1_2_cipher_suites" in e.text for e in result.evidence)


def test_the_probe_and_sslyze_are_judged_alike() -> None:
    """One judge (audit.tlsjudge): TLS 1.0 accepted fails both sources with the same reason."""
    from souverain.audit.probes import observed_by_probe
    from souverain.audit.tlsjudge import judge_tls

    server = copy.deepcopy(_sslyze_server())
    weak = {"cipher_suite": {"name": "TLS_RSA_WITH_AES_128_CBC_SHA", "openssl_name": "AES128-SHA"}}
    server["scan_result"]["tls_1_0_cipher_suites"]["result"]["accepted_cipher_suites"] = [weak]
    scanned = judge_sslyze(HTTPS, server, "host1", "10.0.0.1", "the suite's CA", "run")
    refused = {"outcome": "refused", "detail": "TLSV1_ALERT_PROTOCOL_VERSION"}
    found = {
        "versions": {
            "TLSv1": {"outcome": "accepted", "cipher": "AES128-SHA"},
            "TLSv1.1": refused,
            "TLSv1.2": {"outcome": "accepted", "cipher": "ECDHE-ECDSA-AES256-GCM-SHA384"},
            "TLSv1.3": refused,
        },
        "certificates": {"scan.lab.test": {"outcome": "accepted"}},
    }
    probed = judge_tls(observed_by_probe(found, "the suite's CA"), kind="live", what="https",
                       where="host1", host="host1")  # fmt: skip
    for result in (scanned, probed):
        assert result.verdict == Verdict.FAIL
        assert result.summary.endswith(": TLS 1.0 accepted"), result.summary
        assert result.evidence[0].text == "TLS 1.0 accepted: AES128-SHA"


# ---- OpenSCAP ---------------------------------------------------------------------------


def test_tailoring_deselects_rules_for_the_components_of_the_host() -> None:
    from souverain.audit.openscap import tailoring_xml

    xml = tailoring_xml("/ds.xml", "intermediary", "host1", ["postfix_network_listening_disabled"])
    assert 'extends="xccdf_org.ssgproject.content_profile_anssi_bp28_intermediary"' in xml
    assert (
        'idref="xccdf_org.ssgproject.content_rule_postfix_network_listening_disabled" '
        'selected="false"'
    ) in xml
    import xml.etree.ElementTree as ET

    ET.fromstring(xml)  # well-formed


def test_openscap_says_which_datastream_is_missing(rendered: Rendered, tmp_path: Path) -> None:
    from tests.unit.test_audit_support import audit_case, load_cases

    case = load_cases()["OS-01"]["no_datastream"]
    [finding] = audit_case(rendered, case, tmp_path, only=["OS-01"]).findings
    [result] = finding.results
    assert result.verdict == Verdict.NOT_CHECKED
    assert result.summary == (
        "OpenSCAP: ssg-debian 0.1.76-1 has no datastream for Debian 13 (it ships debian11, "
        "debian12); BP-028 cannot be evaluated on srv1"
    )


def test_openscap_lists_failures_and_the_mail_hosts_tailoring(
    rendered: Rendered, tmp_path: Path
) -> None:
    from tests.unit.test_audit_support import audit_case, load_cases

    case = load_cases()["OS-01"]["fail"]
    [finding] = audit_case(rendered, case, tmp_path, only=["OS-01"]).findings
    [result] = finding.results
    texts = [e.text for e in result.evidence]
    assert "fail: partition_for_tmp" in texts
    assert any(t.startswith("score 50 %") for t in texts)
    assert any(
        t.startswith("tailoring: postfix_network_listening_disabled deselected") for t in texts
    )


def test_a_missing_sslyze_is_not_checked_with_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The live e2e test always has sslyze (a test dependency): the missing case is here."""
    import dataclasses

    from souverain.audit import scanners

    absent = dataclasses.replace(scanners.SCANNERS["sslyze"], find=lambda: None)
    monkeypatch.setitem(scanners.SCANNERS, "sslyze", absent)
    assert scanners.availability()["sslyze"].startswith("not installed (")
    assert "pip install 'souverain[scan]'" in scanners.availability()["sslyze"]
    on_host = object()  # never used: the scanner is looked for before the host is reached
    [result] = scanners.run_scanner(None, "sslyze", "host1", on_host, {})  # type: ignore[arg-type]
    assert result.verdict == Verdict.NOT_CHECKED
    assert "pip install 'souverain[scan]'" in result.summary
