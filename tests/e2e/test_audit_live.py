"""`souverain audit --live` against a deployed lab: clean at high severity after deploy, and a
setting weakened by hand on a host shows as a failure with its evidence.

Uses the session lab of conftest.py; deploys it (a no-op when test_deploy.py already did).
"""

from __future__ import annotations

import json
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
def deployed(lab_session: RunningLab) -> RunningLab:
    result = souverain("-C", str(lab_session.directory), "deploy", "--json", timeout=1800)
    assert result.returncode == 0, f"deploy failed:\n{result.stdout}\n{result.stderr}"
    return lab_session


def test_live_audit_finds_no_high_failure(deployed: RunningLab) -> None:
    status, report, output = audit(deployed, "--fail-on", "high")
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
        status, report, output = audit(deployed, "--rule", "SSH-02")
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
