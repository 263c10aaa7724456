"""What the redis role's templates render: local only, a password, no admin commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from souverain import vault
from tests.unit.role_render import render_role

FILES = "hosts/srv1/files"


def render(tmp_path: Path, edit=None):
    build, materials, _ = render_role(tmp_path, "redis", edit)
    return build, materials


def three_tenants(data) -> None:
    data["tenants"].append(
        {"id": "mairie", "name": "Mairie", "domain": "mairie.example", "components": ["mail"]}
    )
    data["tenants"].append({"id": "agglo", "name": "Agglo", "domain": "agglo.example"})


@pytest.mark.parametrize(
    "line",
    [
        "bind 127.0.0.1 -::1",
        "protected-mode yes",
        "unixsocket /run/redis/redis-server.sock",
        "unixsocketperm 770",
        "aclfile /etc/redis/souverain-users.acl",
        "enable-debug-command no",
        "enable-module-command no",
        "databases 16",
    ],
)
def test_redis_conf(tmp_path, line):
    build, _ = render(tmp_path)
    conf = build.files[f"{FILES}/etc/redis/redis.conf"].content.decode()
    assert line in conf.splitlines()


def test_acl_file_is_secret_and_refuses_admin_commands(tmp_path):
    build, materials = render(tmp_path)
    item = build.files[f"{FILES}/etc/redis/souverain-users.acl"]
    assert item.secret
    assert vault.is_encrypted(item.content)
    acl = vault.decrypt(item.content, materials.password).decode()
    [rule] = acl.splitlines()  # Redis ACL files accept no comment line
    fields = rule.split()
    assert fields[:3] == ["user", "default", "on"]
    assert fields[3].startswith(">") and len(fields[3]) > 30
    assert "-@admin" in fields and "-flushall" in fields
    assert "nopass" not in fields


def test_one_database_per_drive_tenant(tmp_path):
    build, _ = render(tmp_path, three_tenants)
    host_vars = json.loads(build.files["inventory/host_vars/srv1/souverain.json"].content)
    assert host_vars["redis_tenant_databases"] == {"example": 1, "agglo": 3}
    assert host_vars["redis_socket"] == "/run/redis/redis-server.sock"
