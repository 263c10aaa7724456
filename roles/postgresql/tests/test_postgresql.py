"""testinfra checks of the postgresql role: SCRAM only, TLS, one database per consumer.

Hosts outside the inventory group `postgresql` are skipped.
"""

from __future__ import annotations

import pytest

GROUP = "postgresql"
CONF = "/etc/souverain/postgresql/postgresql.conf"
HBA = "/etc/souverain/postgresql/pg_hba.conf"


@pytest.fixture(autouse=True)
def _only_postgresql_hosts(host):
    try:
        groups = host.ansible.get_variables().get("group_names", [])
    except Exception:  # not an Ansible backend: run the checks
        return
    if GROUP not in groups:
        pytest.skip(f"{host.backend.get_hostname()} is not in the {GROUP} group")


def _databases(host) -> list[str]:
    try:
        return [db["name"] for db in host.ansible.get_variables()["postgresql_databases"]]
    except Exception:
        result = host.run(
            "runuser -u postgres -- psql -XAtc "
            "\"SELECT datname FROM pg_database WHERE datname ~ '^(synapse|nextcloud)_'\""
        )
        return result.stdout.split()


def _server_setting(host, name: str) -> str:
    result = host.run("runuser -u postgres -- psql -XAtc %s", f"SHOW {name}")
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


def test_postgresql_is_running(host):
    assert host.service("postgresql").is_enabled
    assert host.run("pg_lsclusters --no-header").stdout.split()[3] == "online"


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("ssl", "on"),
        ("ssl_min_protocol_version", "TLSv1.2"),
        ("password_encryption", "scram-sha-256"),
        ("hba_file", HBA),
    ],
)
def test_server_settings(host, setting, expected):
    assert _server_setting(host, setting) == expected


def test_no_trust_in_pg_hba(host):
    lines = [
        line.split()
        for line in host.file(HBA).content_string.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    methods = {fields[-1] for fields in lines}
    assert "trust" not in methods
    assert methods <= {"scram-sha-256", "peer", "reject"}
    assert all(fields[0] in ("local", "hostssl") or fields[-1] == "reject" for fields in lines)


def test_listens_on_loopback_at_least(host):
    assert host.socket("tcp://127.0.0.1:5432").is_listening


def test_refuses_a_login_without_password(host):
    for name in _databases(host):
        result = host.run(
            "env -u PGPASSWORD psql -X -w %s -c 'SELECT 1'",
            f"host=127.0.0.1 sslmode=require dbname={name} user={name}",
        )
        assert result.rc != 0
        assert "password" in result.stderr.lower()


def test_refuses_a_connection_without_tls(host):
    for name in _databases(host):
        result = host.run(
            "env PGPASSWORD=wrong psql -X -w %s -c 'SELECT 1'",
            f"host=127.0.0.1 sslmode=disable dbname={name} user={name}",
        )
        assert result.rc != 0
        assert "no encryption" in result.stderr


def test_each_database_is_owned_by_its_role(host):
    for name in _databases(host):
        owner = host.run(
            "runuser -u postgres -- psql -XAtc %s",
            f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{name}'",
        )
        assert owner.stdout.strip() == name


def test_role_passwords_are_scram_verifiers(host):
    # A real SCRAM login needs the password, which must not travel on a command line; the
    # role logs in with it over TLS at every run (task "Check each role's password").
    for name in _databases(host):
        stored = host.run(
            "runuser -u postgres -- psql -XAtc %s",
            f"SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = '{name}'",
        )
        assert stored.stdout.strip() == "t", f"{name} has no SCRAM password"
