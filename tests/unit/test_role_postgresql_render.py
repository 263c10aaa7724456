"""What the postgresql role's templates render: SCRAM and TLS only, databases from the model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from souverain import vault
from tests.unit.role_render import render_role

FILES = "hosts/srv1/files"


def render(tmp_path: Path, edit=None):
    """Render only the postgresql role for a fresh suite; (build, host vars, secret vars)."""
    build, materials, suite = render_role(tmp_path, "postgresql", edit)
    host = suite.hosts[0].name
    host_vars = json.loads(build.files[f"inventory/host_vars/{host}/souverain.json"].content)
    secrets = json.loads(
        vault.decrypt(
            build.files[f"inventory/host_vars/{host}/secrets.yml"].content, materials.password
        )
    )
    return build, host_vars, secrets


def three_tenants(data) -> None:
    data["tenants"].append(
        {"id": "mairie", "name": "Mairie", "domain": "mairie.example", "components": ["mail"]}
    )
    data["tenants"].append(
        {"id": "agglo-2", "name": "Agglo", "domain": "agglo.example", "components": ["drive"]}
    )


def split_hosts(data) -> None:
    data["hosts"] = [
        {"name": "db", "address": "192.0.2.10", "components": ["postgresql", "proxy"]},
        {
            "name": "apps",
            "address": "192.0.2.11",
            "components": ["directory", "sso", "mail", "redis", "chat", "visio", "drive"],
        },
    ]
    # `init` turns backups on for its one host; these hosts keep no repositories.
    data["components"]["backup"]["enabled"] = False


def test_databases_from_the_model(tmp_path):
    _, host_vars, secrets = render(tmp_path, three_tenants)
    databases = {db["name"]: db for db in host_vars["postgresql_databases"]}
    assert set(databases) == {
        "synapse_example",
        "nextcloud_example",
        "nextcloud_agglo_2",
    }
    synapse = databases["synapse_example"]
    assert (synapse["owner"], synapse["encoding"], synapse["lc_collate"], synapse["lc_ctype"]) == (
        "synapse_example",
        "UTF8",
        "C",
        "C",
    )
    assert set(secrets["postgresql_role_passwords"]) == set(databases)
    assert all(len(value) >= 32 for value in secrets["postgresql_role_passwords"].values())


def test_passwords_are_not_in_plain_files(tmp_path):
    build, _, secrets = render(tmp_path)
    passwords = list(secrets["postgresql_role_passwords"].values())
    for item in build.files.values():
        for password in passwords:
            assert password.encode() not in item.content, item.path


def test_pg_hba_is_scram_and_tls_only(tmp_path):
    build, _, _ = render(tmp_path)
    hba = build.files[f"{FILES}/etc/souverain/postgresql/pg_hba.conf"].content.decode()
    rules = [line.split() for line in hba.splitlines() if line and not line.startswith("#")]
    assert rules
    assert "trust" not in {rule[-1] for rule in rules}
    for rule in rules:
        assert rule[0] in ("local", "hostssl") or rule[-1] == "reject", rule
        assert rule[-1] in ("scram-sha-256", "peer", "reject"), rule
    assert ["local", "all", "postgres", "peer"] in rules
    assert rules[-1][-1] == "reject"


@pytest.mark.parametrize(
    "line",
    [
        "password_encryption = 'scram-sha-256'",
        "ssl = on",
        "ssl_min_protocol_version = 'TLSv1.2'",
        "hba_file = '/etc/souverain/postgresql/pg_hba.conf'",
    ],
)
def test_postgresql_conf(tmp_path, line):
    build, _, _ = render(tmp_path)
    conf = build.files[f"{FILES}/etc/souverain/postgresql/postgresql.conf"].content.decode()
    assert line in conf.splitlines()


def test_listens_on_loopback_only_when_consumers_are_local(tmp_path):
    build, _, _ = render(tmp_path)
    conf = build.files[f"{FILES}/etc/souverain/postgresql/postgresql.conf"].content.decode()
    assert "listen_addresses = 'localhost'" in conf.splitlines()


def test_listens_on_the_host_address_for_remote_consumers(tmp_path):
    build, _, _ = render(tmp_path, split_hosts)
    conf = build.files["hosts/db/files/etc/souverain/postgresql/postgresql.conf"].content.decode()
    assert "listen_addresses = 'localhost, 192.0.2.10'" in conf.splitlines()
    hba = build.files["hosts/db/files/etc/souverain/postgresql/pg_hba.conf"].content.decode()
    assert any(
        line.split()[:4] == ["hostssl", "synapse_example", "synapse_example", "192.0.2.11/32"]
        for line in hba.splitlines()
        if line.startswith("hostssl")
    )
    assert "hosts/apps/files/etc/souverain/postgresql/pg_hba.conf" not in build.files
