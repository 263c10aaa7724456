"""Drive on a lab host: PHP-FPM, pools, database, Redis, timer, the proxy's drive vhost.

Nextcloud's release archive cannot be fetched from this network. Without it the role deploys
everything that comes from Debian and drive.<domain> answers 503 with a page saying why; the
tests that need Nextcloud itself run when SOUVERAIN_NEXTCLOUD_ARCHIVE names the archive
(nextcloud-<version>.tar.bz2), and skip with that reason otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import ssl
import uuid
from http.client import HTTPSConnection
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    RunningLab,
    changed_count,
    known_deployed,
    run_playbooks,
    souverain,
)

pytestmark = pytest.mark.lab

PLAYBOOKS = ("base", "pki", "proxy", "postgresql", "redis", "directory", "sso", "drive")
ARCHIVE = os.environ.get("SOUVERAIN_NEXTCLOUD_ARCHIVE")
NEEDS_ARCHIVE = pytest.mark.skipif(
    not ARCHIVE,
    reason="Nextcloud's release archive is not reachable from this network: set "
    "SOUVERAIN_NEXTCLOUD_ARCHIVE=/path/to/nextcloud-<version>.tar.bz2 to run this test",
)


def render(lab: RunningLab) -> None:
    result = souverain("-C", str(lab.directory), "render")
    assert result.returncode == 0, result.stderr


def drive_service(lab: RunningLab) -> tuple[str, str, str]:
    """(tenant id, drive name, proxy address) of the lab's first tenant."""
    result = souverain("-C", str(lab.directory), "info", "--json")
    assert result.returncode == 0, result.stderr
    tenant = json.loads(result.stdout)["tenants"][0]
    drive = next(s for s in tenant["services"] if s["component"] == "drive")
    return tenant["id"], drive["fqdn"], drive["address"]


def request(
    lab: RunningLab,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTPS request to drive.<domain> at the proxy's address, the name as SNI and Host."""
    _, fqdn, address = drive_service(lab)
    context = ssl.create_default_context(cafile=str(lab.directory / "pki" / "ca.crt"))

    class ToProxy(HTTPSConnection):
        def connect(self) -> None:
            raw = socket.create_connection((address, 443), timeout=30)
            self.sock = context.wrap_socket(raw, server_hostname=fqdn)

    connection = ToProxy(fqdn, 443, timeout=30)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


@pytest.fixture(scope="module")
def drive(lab_session: RunningLab) -> RunningLab:
    """The session lab with drive and what it needs deployed (known when an earlier module
    deployed the whole suite)."""
    if known_deployed(lab_session):
        return lab_session
    render(lab_session)
    first, seconds = run_playbooks(lab_session.directory, *PLAYBOOKS)
    assert first.returncode == 0, first.stdout[-4000:]
    print(f"drive: deploy {seconds:.0f} s")
    return lab_session


def test_redeploy_changes_nothing(drive: RunningLab):
    again, seconds = run_playbooks(drive.directory, "proxy", "drive")
    assert again.returncode == 0, again.stdout[-4000:]
    print(f"drive: re-deploy of proxy and drive {seconds:.0f} s")
    assert changed_count(again.stdout) == 0, again.stdout[-4000:]


def test_php_fpm_pool_database_redis_and_timer(drive: RunningLab):
    tenant, _, _ = drive_service(drive)
    host = drive.hosts[0][0]
    config = f"/var/lib/souverain-drive/{tenant}/config/souverain.config.php"
    checks = {
        "php -l": f"php -l {config}",
        "php-fpm -t": "php-fpm$(php -r 'echo PHP_MAJOR_VERSION, \".\", PHP_MINOR_VERSION;') -t",
        "pool socket": f"test -S /run/php/souverain-drive-{tenant}.sock",
        "timer": f"systemctl is-enabled souverain-drive-cron@{tenant}.timer",
        "database as the tenant": (
            f"runuser -u nc-{tenant} -- php -r 'include \"{config}\"; "
            "$db = new PDO(\"pgsql:host=/var/run/postgresql;dbname=\" . $CONFIG[\"dbname\"], "
            "$CONFIG[\"dbuser\"], $CONFIG[\"dbpassword\"]); "
            "echo $db->query(\"SELECT 1\")->fetchColumn();'"
        ),
        "redis as the tenant": (
            f"runuser -u nc-{tenant} -- php -r 'include \"{config}\"; $c = $CONFIG[\"redis\"]; "
            "$r = new Redis(); $r->connect($c[\"host\"], $c[\"port\"]); "
            "$r->auth($c[\"password\"]); "
            "$r->select($c[\"dbindex\"]); echo $r->ping() ? 1 : 0;'"
        ),
    }  # fmt: skip
    # What the PHP one-liners print matters, not only their status: ping() false prints 0.
    printed = {"database as the tenant": "1", "redis as the tenant": "1"}
    for what, command in checks.items():
        result = drive.ssh(host, command)
        assert result.returncode == 0, f"{what}: {result.stdout}{result.stderr}"
        if what in printed:
            assert result.stdout.strip().splitlines()[-1:] == [printed[what]], result.stdout


def test_drive_vhost_answers_503_with_a_clear_page_without_nextcloud(drive: RunningLab):
    tenant, _, _ = drive_service(drive)
    ready = drive.ssh(drive.hosts[0][0], f"test -f /var/lib/souverain-drive/{tenant}/ready")
    if ready.returncode == 0:
        pytest.skip("Nextcloud is installed on this lab (SOUVERAIN_NEXTCLOUD_ARCHIVE was given)")
    status, headers, body = request(drive, "GET", "/status.php")
    assert status == 503
    assert headers.get("Retry-After") == "3600"
    assert "Strict-Transport-Security" in headers
    assert b"Files are not available yet" in body and b"artifacts.nextcloud" in body
    # The playbook output says why, in words.
    result, _ = run_playbooks(drive.directory, "drive")
    assert "NOTICE drive: Nextcloud" in result.stdout and "is not installed" in result.stdout


@pytest.fixture(scope="module")
def nextcloud(drive: RunningLab) -> RunningLab:
    """The lab's suite.yml pointed at the archive (source local, its sha256), deployed."""
    archive = Path(ARCHIVE or "").resolve()
    assert archive.is_file(), f"SOUVERAIN_NEXTCLOUD_ARCHIVE={ARCHIVE}: no such file"
    version = archive.name.removeprefix("nextcloud-").removesuffix(".tar.bz2")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    suite = drive.directory / "suite.yml"
    text = suite.read_text()
    if "\nartifacts:" not in text:
        suite.write_text(
            text + f'\nartifacts:\n  nextcloud: {{version: "{version}", sha256: "{digest}", '
            f'source: local, path: "{archive}"}}\n'
        )
    render(drive)
    result, seconds = run_playbooks(drive.directory, "proxy", "drive")
    assert result.returncode == 0, result.stdout[-4000:]
    print(f"drive: Nextcloud install {seconds:.0f} s")
    return drive


@NEEDS_ARCHIVE
def test_nextcloud_is_installed_and_answers(nextcloud: RunningLab):
    status, _, body = request(nextcloud, "GET", "/status.php")
    assert status == 200, body[:500]
    assert json.loads(body)["installed"] is True
    again, _ = run_playbooks(nextcloud.directory, "drive")
    assert changed_count(again.stdout) == 0, again.stdout[-4000:]


@NEEDS_ARCHIVE
def test_webdav_upload_and_download(nextcloud: RunningLab):
    from souverain.deployment import Deployment
    from souverain.secrets import SecretStore

    tenant, _, _ = drive_service(nextcloud)
    password = SecretStore.open(Deployment.at(nextcloud.directory)).get(f"drive/{tenant}/admin")
    token = base64.b64encode(f"souverain-admin:{password}".encode()).decode()
    auth = {"Authorization": f"Basic {token}", "OCS-APIRequest": "true"}
    content = f"souverain {uuid.uuid4()}\n".encode()
    path = f"/remote.php/dav/files/souverain-admin/souverain-e2e-{uuid.uuid4().hex[:8]}.txt"
    status, _, body = request(nextcloud, "PUT", path, body=content, headers=auth)
    assert status in (201, 204), body[:500]
    status, _, body = request(nextcloud, "GET", path, headers=auth)
    assert (status, body) == (200, content)
    status, _, _ = request(nextcloud, "DELETE", path, headers=auth)
    assert status == 204
