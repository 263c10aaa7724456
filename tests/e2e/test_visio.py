"""Visio on a lab host: Prosody and coturn deployed for real, TURN allocations with coturn's
own client, the firewall openings from the controller, the SSO sign-in that ends in a
Jitsi JWT, an idempotent re-deploy.

Jitsi's packages are not reachable from this network: the role deploys without them and
says why. With SOUVERAIN_JITSI_DEBS=/path/to/debs (a directory of jitsi-videobridge2,
jicofo, jitsi-meet-web, jitsi-meet-prosody and jitsi-meet-tokens .deb files), the module
deploys them from that directory (artifacts.jitsi source local) and checks them too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shlex
import socket
import ssl
import struct
import subprocess
import time
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.conftest import RunningLab, known_deployed, run_playbooks, souverain
from tests.e2e.test_identity import Forms, Portal, add_person
from tests.unit.test_old_tls_checks import self_signed, server_context, tls_server

pytestmark = pytest.mark.lab

PLAYBOOKS = ("base", "pki", "proxy", "directory", "sso", "visio")
JITSI_DEBS = os.environ.get("SOUVERAIN_JITSI_DEBS")
# A guard only. coturn does not answer a TLS 1.1 hello at all: it resets the connection when
# its allocation timeout (max-allocate-timeout, 60 s by default) passes, which is the answer
# the test waits for (seen on a lab: "refused: ConnectionResetError" after 60.0 s).
OLD_TLS_ANSWER_SECONDS = 180
# A guard only: turnutils_uclient ends by itself once its few messages went round (seconds).
UDP_GUARD_SECONDS = 180


def recap(output: str) -> dict[str, int]:
    totals: dict[str, int] = {}
    for line in output.splitlines():
        if "ok=" in line and "changed=" in line:
            for part in line.split()[2:]:
                key, _, value = part.partition("=")
                totals[key] = totals.get(key, 0) + int(value)
    return totals


def use_local_jitsi(directory: Path) -> None:
    """artifacts.jitsi: source local, path SOUVERAIN_JITSI_DEBS (suite.yml, appended)."""
    suite = directory / "suite.yml"
    text = suite.read_text()
    if "\nartifacts:" not in text:
        suite.write_text(
            text + f'\nartifacts:\n  jitsi: {{version: "2.0.10314", source: local, '
            f"path: {json.dumps(JITSI_DEBS)}}}\n"
        )


@pytest.fixture(scope="module")
def visio(lab_session: RunningLab) -> tuple[RunningLab, subprocess.CompletedProcess[str]]:
    if JITSI_DEBS:
        use_local_jitsi(lab_session.directory)
    rendered = souverain("-C", str(lab_session.directory), "render")
    assert rendered.returncode == 0, rendered.stderr
    # On a lab that holds the whole suite as suite.yml is, visio's own playbook is enough (its
    # run still says what it could not install); the others are then the shared deploy's.
    playbooks = ("visio",) if known_deployed(lab_session) else PLAYBOOKS
    first, seconds = run_playbooks(lab_session.directory, *playbooks)
    assert first.returncode == 0, first.stdout[-4000:]
    print(f"visio: deploy {seconds:.0f} s")
    return lab_session, first


def info(lab: RunningLab) -> dict:
    result = souverain("-C", str(lab.directory), "info", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def visio_host(lab: RunningLab) -> tuple[str, str]:
    hosts = json.loads((lab.directory / "build/inventory/hosts.yml").read_text())["all"]
    name = next(iter(hosts["children"]["visio"]["hosts"]))
    return name, hosts["hosts"][name]["ansible_host"]


def secret(lab: RunningLab, name: str) -> str:
    from souverain.deployment import Deployment
    from souverain.secrets import SecretStore

    return SecretStore.open(Deployment.at(lab.directory)).get(name)


def test_jitsi_is_installed_or_its_absence_is_explained(visio):
    lab, first = visio
    host, _ = visio_host(lab)
    missing = lab.ssh(host, "cat /etc/souverain/visio/jitsi-missing")
    if JITSI_DEBS:
        assert missing.returncode != 0, missing.stdout
        running = lab.ssh(host, "systemctl is-active jicofo jitsi-videobridge2")
        assert running.stdout.split() == ["active", "active"], running.stdout
        return
    assert "cannot be reached" in missing.stdout
    assert "NOT INSTALLED: Jitsi Meet" in first.stdout
    pytest.skip("Jitsi's packages are not reachable here; set SOUVERAIN_JITSI_DEBS to test them")


def test_verify_lists_every_skip_and_calls_jitsi_not_installed_expected(visio):
    """`verify --json` names each skipped check with its reason; without the Jitsi artifact
    the Jitsi check is a skip the deployment declared (visio_jitsi_required is false)."""
    lab, _ = visio
    result = souverain("-C", str(lab.directory), "verify", "--json", timeout=900)
    summary = json.loads(result.stdout)
    assert "visio" not in summary["errors"], summary["errors"]
    [entry] = [r for r in summary["results"] if r["component"] == "visio"]
    assert entry["result"] == "passed" and entry["failed"] == 0, entry
    assert len(entry["skips"]) == entry["skipped"]
    assert all(skip["reason"] for r in summary["results"] for skip in r["skips"]), summary
    jitsi = [skip for skip in entry["skips"] if "test_jitsi_services_run" in skip["test"]]
    if JITSI_DEBS:
        assert jitsi == [], jitsi
        return
    [skip] = jitsi
    assert skip["expected"] is True, skip
    assert skip["reason"].startswith("expected: Jitsi Meet is not installed: "), skip
    # The containers' own limits are skips too, listed with why (base: kernel settings).
    base = [skip for r in summary["results"] if r["component"] == "base" for skip in r["skips"]]
    assert any("container" in skip["reason"] for skip in base), base


def test_prosody_configuration_is_clean_on_the_host(visio):
    lab, _ = visio
    host, _ = visio_host(lab)
    result = lab.ssh(host, "prosodyctl check config")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "visio." in result.stdout  # the Jitsi virtual hosts were read too
    assert (
        lab.ssh(host, "systemctl is-active prosody coturn souverain-visio-auth").stdout.split()
        == ["active"] * 3
    )


def uclient(lab: RunningLab, host: str, address: str, shared: str, *extra: str):
    command = ["turnutils_uclient", "-y", "-n", "2", "-m", "1", "-l", "100",
               "-W", shared, "-u", "probe", *extra, address]  # fmt: skip
    return lab.ssh(host, f"timeout {UDP_GUARD_SECONDS} " + shlex.join(command))


@pytest.mark.parametrize("transport", [[], ["-t"], ["-t", "-S", "-p", "5349"]],
                         ids=["udp", "tcp", "tls"])  # fmt: skip
def test_turn_allocation_with_the_shared_secret(visio, transport):
    lab, _ = visio
    host, address = visio_host(lab)
    result = uclient(lab, host, address, secret(lab, "visio/turn"), *transport)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Total lost packets 0" in result.stdout + result.stderr


def test_turn_allocation_fails_with_a_wrong_secret(visio):
    lab, _ = visio
    host, address = visio_host(lab)
    result = uclient(lab, host, address, "not-the-secret")
    assert result.returncode != 0
    assert "Cannot complete Allocation" in result.stdout + result.stderr


def stun_binding(address: str, port: int) -> bytes:
    """One STUN Binding request over UDP (RFC 5389); the answer's message type."""
    transaction = os.urandom(12)
    request = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + transaction
    deadline = time.monotonic() + UDP_GUARD_SECONDS
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1)
        # UDP may lose a datagram: ask again each second until coturn answers (RFC 5389 lets
        # a client retransmit with the same transaction id).
        while True:
            sock.sendto(request, (address, port))
            try:
                data, _ = sock.recvfrom(2048)
            except TimeoutError:
                assert time.monotonic() < deadline, f"no STUN answer from {address}:{port}"
                continue
            if data[8:20] == transaction:
                return data[:2]


def test_firewall_openings_reach_coturn_from_the_controller(visio, tmp_path):
    lab, _ = visio
    _, address = visio_host(lab)
    started = time.monotonic()
    assert stun_binding(address, 3478) == b"\x01\x01"  # Binding success
    print(f"visio: STUN binding answered in {time.monotonic() - started:.1f} s")
    with socket.create_connection((address, 3478), timeout=5):
        pass
    context = ssl.create_default_context(cafile=str(lab.directory / "pki" / "ca.crt"))
    context.check_hostname = False
    raw = socket.create_connection((address, 5349), timeout=5)
    with context.wrap_socket(raw) as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    old = old_tls_client()
    # This client can offer TLS 1.1: a loopback server that accepts it negotiates it...
    with tls_server(server_context(self_signed(tmp_path / "old.pem"), old=True),
                    starttls=False) as (port, _):  # fmt: skip
        assert old_tls_outcome(old, "127.0.0.1", port) == "accepted TLSv1.1"
    # ...so coturn's answer is coturn's: an alert, a close or a reset, never a session, and
    # never endless silence (a stalled server is not a refusing one).
    started = time.monotonic()
    outcome = old_tls_outcome(old, address, 5349)
    print(f"visio: TLS 1.1 to coturn: {outcome} ({time.monotonic() - started:.1f} s)")
    assert outcome.startswith("refused"), outcome


def old_tls_client() -> ssl.SSLContext:
    """A client that offers TLS 1.1 only, at the security level that lets OpenSSL offer it."""
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("ALL:@SECLEVEL=0")
    return old


def old_tls_outcome(context: ssl.SSLContext, address: str, port: int) -> str:
    """'accepted <protocol>', 'refused: <how>' when the server turned the hello down, or
    'no answer' / 'client: <why>' when the outcome says nothing about the server."""
    with socket.create_connection((address, port), timeout=10) as raw:
        raw.settimeout(OLD_TLS_ANSWER_SECONDS)
        try:
            with context.wrap_socket(raw) as tls:
                return f"accepted {tls.version()}"
        except TimeoutError:
            return "no answer"
        except ssl.SSLError as error:
            reason = error.reason or ""
            if reason.startswith(("TLSV1_ALERT", "SSLV3_ALERT")) or isinstance(
                error, ssl.SSLEOFError | ssl.SSLZeroReturnError
            ):
                return f"refused: {reason or type(error).__name__}"
            return f"client: {error}"
        except (ConnectionResetError, BrokenPipeError) as error:
            return f"refused: {type(error).__name__}"


@pytest.mark.parametrize(
    "rule",
    ["udp dport 10000", "udp dport 3478", "tcp dport 3478", "tcp dport 5349"],
)
def test_firewall_opens_the_declared_visio_ports(visio, rule):
    lab, _ = visio
    host, _ = visio_host(lab)
    ruleset = lab.ssh(host, "nft list ruleset").stdout
    assert f'{rule} accept comment "visio"' in ruleset


def b64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def test_sso_sign_in_ends_in_a_jitsi_token_for_the_tenant(visio):
    lab, _ = visio
    tenant = info(lab)["tenants"][0]
    services = {s["component"] + "/" + s["role"]: s for s in tenant["services"]}
    meet, portal = services["visio/meet"], services["sso/portal"]
    uid = "grace"
    souverain("-C", str(lab.directory), "user", "remove", "--tenant", tenant["id"], uid)
    password = add_person(lab, tenant["id"], uid, [])
    ca = lab.directory / "pki" / "ca.crt"
    visio_client = Portal(meet["fqdn"], meet["address"], ca)
    start = visio_client.client.get(visio_client.url("/_souverain/login?room=weekly"))
    assert start.status_code == 302, start.text
    authorize = start.headers["location"]
    assert authorize.startswith(f"https://{portal['fqdn']}/oauth2/authorize?")
    assert parse_qs(urlparse(authorize).query)["client_id"] == ["visio"]

    sso = Portal(portal["fqdn"], portal["address"], ca)
    page = sso.client.get(authorize)
    parser = Forms()
    parser.feed(page.text)
    form = next(f for f in parser.forms if "password" in f["fields"])
    response = sso.client.post(sso.url("/"), data=dict(form["fields"], user=uid, password=password))
    callback = f"https://{meet['fqdn']}/static/oidc-adapter.html"
    for _ in range(5):
        location = response.headers.get("location") or ""
        if not location or location.startswith(callback):
            break
        response = sso.client.get(location)
    assert location.startswith(callback), response.text[:500]

    done = visio_client.client.get(location)
    assert done.status_code == 302, done.text
    target = urlparse(done.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"https://{meet['fqdn']}/weekly"
    token = parse_qs(target.query)["jwt"][0]
    header, payload, signature = token.split(".")
    expected = hmac.new(
        secret(lab, "visio/jwt").encode(), f"{header}.{payload}".encode(), hashlib.sha256
    ).digest()
    assert hmac.compare_digest(b64(signature), expected)
    claims = json.loads(b64(payload))
    assert claims["sub"] == tenant["id"]
    assert claims["exp"] > time.time()
    assert claims["context"]["user"]["id"] == uid

    forged = visio_client.client.get(
        visio_client.url("/static/oidc-adapter.html?code=x&state=forged.state")
    )
    assert forged.status_code == 400


def test_visio_page_says_unavailable_until_jitsi_is_installed(visio):
    lab, _ = visio
    tenant = info(lab)["tenants"][0]
    meet = next(s for s in tenant["services"] if s["component"] == "visio")
    client = Portal(meet["fqdn"], meet["address"], lab.directory / "pki" / "ca.crt")
    page = client.client.get(client.url("/weekly"))
    assert page.status_code == (200 if JITSI_DEBS else 503)
    config = client.client.get(client.url("/config.js"))
    assert config.status_code == (200 if JITSI_DEBS else 404)


def test_redeploy_changes_nothing(visio):
    lab, _ = visio
    again, seconds = run_playbooks(lab.directory, "visio")
    assert again.returncode == 0, again.stdout[-4000:]
    print(f"visio: re-deploy {seconds:.0f} s")
    assert recap(again.stdout).get("changed") == 0, again.stdout[-6000:]
