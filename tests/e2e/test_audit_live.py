"""`souverain audit --live` against a deployed lab: clean at high severity after deploy, and a
setting weakened by hand on a host shows as a failure with its evidence.

Uses the session lab of conftest.py; deploys it (a no-op when test_deploy.py already did).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from tests.e2e.conftest import RunningLab, souverain

pytestmark = pytest.mark.lab

WEAKENING = "/etc/ssh/sshd_config.d/00-audit-test.conf"


def audit(lab: RunningLab, *args: str) -> tuple[int, dict[str, Any], str]:
    result = souverain("-C", str(lab.directory), "audit", "--live", "--format", "json",
                       "--lang", "en", *args, timeout=900)  # fmt: skip
    try:
        report = json.loads(result.stdout)
    except ValueError:
        report = {}
    return result.returncode, report, result.stdout + result.stderr


@pytest.fixture(scope="module")
def deployed(suite_deployed: RunningLab) -> RunningLab:
    return suite_deployed


def test_live_audit_finds_no_high_failure(deployed: RunningLab) -> None:
    # sslyze on every TLS port takes about 5 minutes on a lab host (Postfix and coturn are
    # slow to scan): test_sslyze_on_https runs it on port 443 only.
    status, report, output = audit(deployed, "--fail-on", "high", "--no-scanner", "sslyze")
    assert report, output
    high = [f["id"] for f in report["findings"]
            if f["severity"] == "high" and f["verdict"] == "fail"]  # fmt: skip
    assert not high, output
    assert status == 0, output
    # Live evidence was really read from the hosts: `sshd -T` on every host.
    ssh = next(f for f in report["findings"] if f["id"] == "SSH-02")
    live = [r for r in ssh["results"] if r["kind"] == "live"]
    assert {r["host"] for r in live} == {name for name, _ in deployed.hosts}
    assert all(r["verdict"] == "pass" for r in live), live


def test_x11_forwarding_enabled_by_hand_fails_ssh02(deployed: RunningLab) -> None:
    host = deployed.hosts[0][0]
    # sshd keeps the first value it reads: a drop-in sorted before souverain's wins.
    made = deployed.ssh(host, f"echo 'X11Forwarding yes' > {WEAKENING}")
    assert made.returncode == 0, made.stderr
    try:
        # SSH-02 is medium (forwarding matters once someone holds an admin key).
        status, report, output = audit(deployed, "--rule", "SSH-02", "--fail-on", "medium")
        assert status == 1, output
        [finding] = report["findings"]
        assert finding["verdict"] == "fail"
        evidence = [e for r in finding["results"] if r["host"] == host and r["kind"] == "live"
                    for e in r["evidence"] if e["ok"] is False]  # fmt: skip
        assert any("x11forwarding yes" in e["text"] for e in evidence), finding
        assert any(e["where"] == f"{host}$ sshd -T" for e in evidence), finding
        # The other hosts were not touched and still pass.
        others = [r for r in finding["results"] if r["kind"] == "live" and r["host"] != host]
        assert all(r["verdict"] == "pass" for r in others), others
    finally:
        deployed.ssh(host, f"rm -f {WEAKENING}")


TLS_RULES = ("TLS-05", "MAIL-06", "DB-02", "IAM-03", "TURN-02")
TLS_PORTS = {443, 25, 465, 587, 993, 636, 389, 5432, 5349}  # the lab's suite, one host
PSQL = "runuser -u postgres -- psql -AtX -c"


def _port(summary: str) -> int:
    match = re.search(r" (\d+) \(", summary)
    assert match, summary
    return int(match.group(1))


def test_tls_on_every_port_of_the_suite(deployed: RunningLab) -> None:
    """Every TLS port the model places is probed from its host (STARTTLS included), and
    passes: TLS 1.0/1.1 refused, 1.2 accepted, the suite's certificate for each name."""
    args = [arg for rule in TLS_RULES for arg in ("--rule", rule)]
    started = time.monotonic()
    status, report, output = audit(deployed, *args, "--no-scanner", "sslyze")
    took = time.monotonic() - started
    assert report, output
    findings = {f["id"]: f for f in report["findings"]}
    assert set(findings) == set(TLS_RULES)
    probed = set()
    for finding in findings.values():
        live = [r for r in finding["results"] if r["kind"] == "live"]
        assert live and all(r["verdict"] == "pass" for r in live), finding
        probed |= {_port(r["summary"]) for r in live}
    assert probed == TLS_PORTS
    assert status == 0, output
    print(f"live TLS probes of {len(TLS_PORTS)} ports: {took:.0f} s")


def test_sslyze_on_https(deployed: RunningLab) -> None:
    """sslyze's evidence next to TLS-05 (port 443 only: see test_live_audit_finds_no_high_failure).
    sslyze is a test dependency (the dev extra): this test scans, it never accepts "not
    installed" (the unit tests cover how a missing scanner is reported)."""
    status, report, output = audit(deployed, "--rule", "TLS-05")
    assert report, output
    assert not report["scanners"]["sslyze"].startswith("not installed"), report["scanners"]
    [finding] = report["findings"]
    scanned = [r for r in finding["results"] if r["kind"] == "scanner"]
    assert scanned, finding
    assert all(r["verdict"] == "pass" for r in scanned), scanned
    texts = [e["text"] for r in scanned for e in r["evidence"]]
    assert "certificate chains to the suite's CA" in texts, texts
    assert status == 0, output


def test_postgresql_tls_turned_off_by_hand_fails_db02(deployed: RunningLab) -> None:
    host = deployed.hosts[0][0]
    # ALTER SYSTEM writes postgresql.auto.conf, read after every other file: it wins.
    off = deployed.ssh(
        host, f"{PSQL} 'ALTER SYSTEM SET ssl = off' && {PSQL} 'SELECT pg_reload_conf()'"
    )
    assert off.returncode == 0, off.stderr
    try:
        status, report, output = audit(deployed, "--rule", "DB-02", "--no-scanner", "all")
        assert status == 1, output
        [finding] = report["findings"]
        assert finding["verdict"] == "fail"
        evidence = [e for r in finding["results"] if r["kind"] == "live" and r["host"] == host
                    for e in r["evidence"] if e["ok"] is False]  # fmt: skip
        assert any("SSLRequest answered b'N'" in e["text"] for e in evidence), finding
        assert any(":5432 postgresql 5432 (STARTTLS postgres)" in e["where"] for e in evidence)
    finally:
        deployed.ssh(host, f"{PSQL} 'ALTER SYSTEM RESET ssl' && {PSQL} 'SELECT pg_reload_conf()'")


def test_openscap_on_debian13_says_why_it_is_not_checked(deployed: RunningLab) -> None:
    """What components.base.openscap.enabled installs, installed by hand (the session lab
    does not enable it); Debian 13's ssg-debian has no Debian 13 datastream, so OS-01 must
    be "not checked" with that reason, never a pass."""
    host = deployed.hosts[0][0]
    install = deployed.ssh(host, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
                           "openscap-scanner ssg-debian", timeout=600)  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    release = deployed.ssh(host, ". /etc/os-release; echo $VERSION_ID").stdout.strip()
    shipped = deployed.ssh(host, f"ls /usr/share/xml/scap/ssg/content/ssg-debian{release}-ds.xml")
    _, report, output = audit(deployed, "--rule", "OS-01")
    assert report, output
    [finding] = report["findings"]
    [result] = [r for r in finding["results"] if r["host"] == host]
    if shipped.returncode != 0:
        assert result["verdict"] == "not_checked", result
        assert f"has no datastream for Debian {release}" in result["summary"], result
    else:  # a later ssg-debian carries it: the evaluation ran and scored the profile
        assert result["verdict"] in ("pass", "fail"), result
        assert any(e["text"].startswith("score ") for e in result["evidence"]), result
