"""Deploy the lab suite for real: converge, verify, converge again with nothing to change,
TLS policy on 443, only the declared ports open, and `souverain info` shows the landing page.

Molecule's sequence on `souverain lab` hosts (the lab fixtures are in conftest.py).
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import RunningLab, souverain, whole_suite_deployed

pytestmark = pytest.mark.lab

# A short, bounded list of ports probed from the second host (lab addresses only).
PROBED_PORTS = (21, 22, 23, 25, 80, 111, 389, 443, 465, 587, 636, 993, 3306, 5432, 6379, 8080)
PROBE_SECONDS = 3
PROTOCOL_NAMES = {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}


def run_json(*args: str, timeout: float = 1800) -> tuple[int, dict[str, Any], str]:
    result = souverain(*args, "--json", timeout=timeout)
    try:
        payload = json.loads(result.stdout)
    except ValueError:
        payload = {}
    return result.returncode, payload, result.stdout + result.stderr


@pytest.fixture(scope="module")
def lab(lab_session: RunningLab) -> RunningLab:
    assert len(lab_session.hosts) >= 2, "these tests need SOUVERAIN_LAB_HOSTS >= 2"
    return lab_session


@pytest.fixture(scope="module")
def first_deploy(lab: RunningLab) -> dict[str, Any]:
    """The summary of the whole deploy the lab holds (this module's, or an earlier module's of
    the same suite.yml: the session deploys it once)."""
    return whole_suite_deployed(lab)


def proxy_host(lab: RunningLab) -> tuple[str, str]:
    inventory = json.loads((lab.directory / "build/inventory/hosts.yml").read_text())
    name = next(iter(inventory["all"]["children"]["proxy"]["hosts"]))
    return name, lab.address(name)


def landing_name(lab: RunningLab) -> str:
    status, info, output = run_json("-C", str(lab.directory), "info")
    assert status == 0, output
    for tenant in info["tenants"]:
        for service in tenant["services"]:
            if service["role"] == "landing":
                return str(service["fqdn"])
    raise AssertionError(f"no landing page in `souverain info`: {output}")


def test_first_deploy_converges_every_host(first_deploy: dict[str, Any], lab: RunningLab):
    assert first_deploy["ok"] is True
    assert sorted(first_deploy["hosts"]) == sorted(name for name, _ in lab.hosts)
    for host, counts in first_deploy["hosts"].items():
        assert counts["failed"] == 0 and counts["unreachable"] == 0, host
        assert counts["ok"] > 0, host
    log = Path(first_deploy["log"])
    assert log.parent == lab.directory / "runs"
    assert log.exists()


def test_deploy_names_each_artifact_left_out(first_deploy: dict[str, Any], lab: RunningLab):
    """Jitsi, Element and Nextcloud come from archives this network cannot reach: the end of
    the deploy says, for each one left out, what is missing and how to supply it."""
    from souverain.model.loader import load_suite

    artifacts = load_suite(lab.directory / "suite.yml").artifacts
    named = {"jitsi": "NOT INSTALLED: Jitsi Meet", "element": "NOT INSTALLED: Element web",
             "nextcloud": "NOTICE drive: Nextcloud"}  # fmt: skip
    notices = first_deploy["notices"]
    for artifact, start in named.items():
        if getattr(artifacts, artifact).source != "local":
            assert any(notice.startswith(start) for notice in notices), (artifact, notices)


def test_log_holds_no_secret(first_deploy: dict[str, Any], lab: RunningLab):
    from souverain.deployment import Deployment
    from souverain.secrets import SecretStore

    secrets = SecretStore.open(Deployment.at(lab.directory)).all_secret_values()
    content = Path(first_deploy["log"]).read_text()
    leaked = [len(secret) for secret in secrets if secret and secret in content]
    assert not leaked, f"{len(leaked)} secret value(s) in the run log"


def test_verify_is_green(first_deploy: dict[str, Any], lab: RunningLab, tmp_path: Path):
    junit = tmp_path / "verify.xml"
    status, summary, output = run_json("-C", str(lab.directory), "verify", "--junit", str(junit))
    assert status == 0, f"verify failed:\n{output}"
    assert summary["ok"] is True
    assert summary["results"], "verify ran no test at all"
    assert junit.exists()


def test_second_deploy_changes_nothing(first_deploy: dict[str, Any], lab: RunningLab):
    status, summary, output = run_json("-C", str(lab.directory), "deploy")
    assert status == 0, output
    changed = {host: counts["changed"] for host, counts in summary["hosts"].items()}
    assert changed == dict.fromkeys(changed, 0), f"not idempotent: {changed}\n{output}"


def handshake(address: str, server_name: str, version: ssl.TLSVersion, ca: Path) -> str:
    """The negotiated protocol, or the reason the handshake failed."""
    import socket

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(ca))
    context.minimum_version = context.maximum_version = version
    if version < ssl.TLSVersion.TLSv1_2:
        context.set_ciphers("ALL:@SECLEVEL=0")  # let this client offer the old protocols
    try:
        with (
            socket.create_connection((address, 443), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=server_name) as tls,
        ):
            return str(tls.version())
    except ssl.SSLError as error:
        return f"refused: {error.reason or error}"


@pytest.mark.parametrize(
    ("version", "accepted"),
    [
        (ssl.TLSVersion.TLSv1, False),
        (ssl.TLSVersion.TLSv1_1, False),
        (ssl.TLSVersion.TLSv1_2, True),
        (ssl.TLSVersion.TLSv1_3, True),
    ],
    ids=["TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"],
)
def test_tls_policy_on_443(first_deploy, lab: RunningLab, version, accepted):
    _, address = proxy_host(lab)
    ca = lab.directory / "pki" / "ca.crt"
    outcome = handshake(address, landing_name(lab), version, ca)
    if "NO_PROTOCOLS_AVAILABLE" in outcome or "NO_CIPHERS_AVAILABLE" in outcome:
        pytest.skip(f"this machine's OpenSSL cannot offer {version.name}: {outcome}")
    if accepted:
        assert outcome == PROTOCOL_NAMES[version], outcome
    else:
        assert outcome.startswith("refused"), f"{version.name} was accepted: {outcome}"


def declared_tcp_ports(lab: RunningLab, host: str) -> set[int]:
    path = lab.directory / "build/inventory/host_vars" / host / "souverain.json"
    openings = json.loads(path.read_text()).get("base_firewall_openings") or []
    return {int(item["port"]) for item in openings if item["proto"] == "tcp"}


def test_only_declared_ports_are_open(first_deploy, lab: RunningLab):
    (target, address), (scanner, _) = lab.hosts[0], lab.hosts[1]
    probes = " ".join(
        f"(timeout {PROBE_SECONDS} bash -c '</dev/tcp/{address}/{port}' 2>/dev/null "
        f"&& echo {port}) &"
        for port in PROBED_PORTS
    )
    result = lab.ssh(scanner, f"{probes} wait", timeout=60)
    assert result.returncode == 0, result.stderr
    open_ports = {int(word) for word in result.stdout.split()}
    declared = declared_tcp_ports(lab, target)
    assert open_ports <= declared, f"open but not declared on {target}: {open_ports - declared}"
    assert 22 in open_ports  # the lab hosts are in the admin networks
    if target == proxy_host(lab)[0]:
        assert 443 in open_ports


def test_info_lists_the_landing_page(first_deploy, lab: RunningLab):
    result = souverain("-C", str(lab.directory), "info")
    assert result.returncode == 0, result.stderr
    fqdn = landing_name(lab)
    assert f"https://{fqdn}/" in result.stdout


def test_plain_ansible_playbook_converges_too(first_deploy, lab: RunningLab):
    """AWX users run site.yml with nothing but the rendered inventory and the password file.
    Limited to base and the closing integrity play: the whole suite's changed=0 is the second
    deploy's test, and a whole run again costs minutes."""
    from souverain.paths import PLAYBOOKS_DIR, PROJECT_ROOT

    playbook = Path(sys.executable).parent / "ansible-playbook"
    argv = [
        str(playbook), "-i", str(lab.directory / "build/inventory"),
        str(PLAYBOOKS_DIR / "site.yml"), "--tags", "base",
        "--vault-password-file", str(lab.directory / ".vault-password"),
    ]  # fmt: skip
    result = subprocess.run(
        argv, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=1800, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    recap = result.stdout.split("PLAY RECAP", 1)[-1]
    for name, _ in lab.hosts:
        line = next(line for line in recap.splitlines() if line.startswith(name))
        assert "changed=0" in line and "failed=0" in line, line
