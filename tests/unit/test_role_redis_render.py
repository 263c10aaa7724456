"""What the redis role's templates render: local only, a password, no admin commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from souverain import vault
from souverain.model.loader import load_suite
from souverain.paths import ROLES_DIR
from souverain.render.engine import Renderer
from souverain.render.materials import Materials
from souverain.scaffold import init_deployment

FILES = "hosts/srv1/files"


def render(tmp_path: Path, edit=None):
    roles = tmp_path / "roles"
    roles.mkdir(parents=True)
    (roles / "redis").symlink_to(ROLES_DIR / "redis")
    deployment = init_deployment(tmp_path / "deploy", domain="example.org", name="example")
    if edit:
        yaml = YAML()
        yaml.preserve_quotes = True
        data = yaml.load(deployment.suite_file.read_text())
        edit(data)
        with deployment.suite_file.open("w") as handle:
            yaml.dump(data, handle)
    suite = load_suite(deployment.suite_file)
    materials = Materials.open(deployment, suite.components.pki.organisation, dry_run=False)
    build = Renderer(
        suite=suite,
        materials=materials,
        roles_dir=roles,
        build_root=deployment.build_dir,
        suite_root=deployment.root,
    ).render()
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
