"""testinfra checks of the backup role, on the hosts of the inventory group `backup`.

On a host holding data (the agent, /etc/souverain/backup/plan.json): the agent reaches its
repository with its own key and passphrase and lists its archives, the repository is
encrypted, its key may run nothing but `borg serve`, the secrets are root's alone and the
daily timer is on. On the host that keeps the repositories: one forced, append-only command
per accepted key.
"""

from __future__ import annotations

import json

import pytest

GROUP = "backup"
PLAN = "/etc/souverain/backup/plan.json"
KEYS = "/var/lib/souverain-borg/.ssh/authorized_keys"
FORCED = 'restrict,command="borg serve --append-only --restrict-to-repository '
SSH = (
    "ssh -i /etc/souverain/backup/ssh_key -o IdentitiesOnly=yes -o BatchMode=yes "
    "-o UserKnownHostsFile=/etc/souverain/backup/known_hosts -o StrictHostKeyChecking=yes "
    "-o ConnectTimeout=10"
)


@pytest.fixture(autouse=True)
def _only_backup_hosts(host):
    try:
        groups = host.ansible.get_variables().get("group_names", [])
    except Exception:  # not an Ansible backend: run the checks
        return
    if GROUP not in groups:
        pytest.skip(f"{host.backend.get_hostname()} is not in the {GROUP} group")


@pytest.fixture
def plan(host):
    if not host.file(PLAN).exists:
        pytest.skip("this host keeps no data: it runs no backup agent")
    return json.loads(host.file(PLAN).content_string)


@pytest.fixture
def server(host):
    if not host.file(KEYS).exists:
        pytest.skip("this host does not keep the repositories")
    return host


def test_agent_lists_every_tenant_archives(host, plan):
    result = host.run("/usr/local/sbin/souverain-backup list")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.rc == 0 and report["ok"], result.stdout + result.stderr
    assert sorted(report["tenants"]) == sorted(plan["tenants"])


def test_repository_is_encrypted(host, plan):
    tenant = next(iter(plan["tenants"]))
    result = host.run(
        "SOUVERAIN_ARCHIVE_TIME=- borgmatic --no-color --config "
        f"/etc/souverain/backup/borgmatic/{tenant}.yaml repo-info --json"
    )
    assert result.rc == 0, result.stderr
    info = json.loads(result.stdout)
    info = info[0] if isinstance(info, list) else info
    assert info["encryption"]["mode"] == "repokey-blake2"


def test_key_runs_nothing_but_borg_serve(host, plan):
    target = plan["repository"].removeprefix("ssh://").split("/", 1)[0]
    user, _, address = target.partition("@")
    port = "22"
    if address.startswith("["):
        address, _, rest = address[1:].partition("]")
        port = rest.lstrip(":") or port
    elif address.count(":") == 1:
        address, port = address.split(":")
    result = host.run(f"{SSH} -p {port} {user}@{address} id < /dev/null")
    assert "uid=" not in result.stdout, "the repository account ran a shell command"


def test_secrets_are_roots_alone(host, plan):
    for path in ("/etc/souverain/backup/passphrase", "/etc/souverain/backup/ssh_key"):
        secret = host.file(path)
        assert secret.user == "root" and secret.mode == 0o600, path
    for tenant in plan["tenants"]:
        config = host.file(f"/etc/souverain/backup/borgmatic/{tenant}.yaml")
        assert config.mode == 0o600


def test_daily_backup_is_scheduled(host, plan):
    timer = host.service("souverain-backup.timer")
    assert timer.is_enabled and timer.is_running
    assert not host.service("borgmatic.timer").is_enabled  # Debian's own, on the wrong files


def test_every_accepted_key_is_forced_to_append_only_borg_serve(server):
    lines = [
        line
        for line in server.file(KEYS).content_string.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines
    for line in lines:
        assert line.startswith(FORCED), line


def test_repository_account_has_no_password(server):
    shadow = server.run("getent shadow souverain-borg").stdout.split(":")
    assert shadow[1] in ("!", "*", "!*"), "the repository account has a password"
