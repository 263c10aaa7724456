"""The build directory reader: what render writes reads back; unreadable files name themselves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from souverain.builddir import HOSTS_FILE, BuildDir, HostConnection, host_vars_file
from souverain.deployment import Deployment
from souverain.errors import EXIT_BAD_INPUT, BuildReadError
from souverain.render import pipeline
from souverain.render.spec import load_spec

FIXTURE_ROLES = Path(__file__).parent / "fixtures" / "roles"


@pytest.fixture
def rendered(deployment_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BuildDir]:
    load_spec.cache_clear()
    monkeypatch.setattr(pipeline, "ROLES_DIR", FIXTURE_ROLES)
    deployment = Deployment.at(deployment_dir)
    pipeline.render_deployment(deployment)
    yield BuildDir(deployment.build_dir)
    load_spec.cache_clear()


def write_inventory(root: Path, document: object) -> BuildDir:
    (root / "inventory").mkdir(parents=True, exist_ok=True)
    (root / "inventory" / "hosts.yml").write_text(json.dumps(document))
    return BuildDir(root)


def test_what_render_writes_reads_back(rendered: BuildDir):
    paths = [entry["path"] for entry in rendered.manifest()]
    assert paths == sorted(paths) and "inventory/hosts.yml" in paths
    inventory = rendered.inventory()
    assert "srv1" in inventory.host_names
    assert all(set(hosts) <= set(inventory.hosts) for hosts in inventory.groups.values())
    assert "srv1" in inventory.groups["proxy"]
    assert rendered.host_vars("srv1")["proxy_tenant_ids"] == ["acme"]
    assert rendered.group_vars()["souverain_build_dir"] == str(rendered.root)


def test_role_tests_find_the_build_from_the_inventory(rendered: BuildDir):
    build = BuildDir.of_inventory(rendered.inventory_dir)
    assert build == rendered and build.has(HOSTS_FILE) and build.has(host_vars_file("srv1"))
    assert not build.has(host_vars_file("elsewhere"))


def test_connection_variables_and_their_defaults(tmp_path: Path):
    build = write_inventory(
        tmp_path,
        {
            "all": {
                "hosts": {
                    "web-1": {
                        "ansible_host": "10.0.0.11",
                        "ansible_port": 2222,
                        "ansible_user": "admin",
                        "ansible_ssh_private_key_file": "/keys/id_ed25519",
                        "ansible_ssh_common_args": "-o StrictHostKeyChecking=yes",
                    },
                    "web-2": None,
                },
                "children": {"base": {"hosts": {"web-1": None, "gone": None}}, "mail": None},
            }
        },
    )
    inventory = build.inventory()
    assert inventory.host_names == ["web-1", "web-2"]
    assert inventory.hosts["web-1"] == HostConnection(
        "web-1", "10.0.0.11", 2222, "admin", "/keys/id_ed25519", "-o StrictHostKeyChecking=yes"
    )
    assert inventory.hosts["web-2"] == HostConnection("web-2", "web-2")
    assert inventory.groups == {"base": ["web-1"], "mail": []}


@pytest.mark.parametrize(
    ("document", "reason"),
    [({"hosts": {}}, "'all'"), (["all"], "not a JSON object")],
)
def test_a_malformed_inventory_is_named(tmp_path: Path, document: object, reason: str):
    build = write_inventory(tmp_path, document)
    with pytest.raises(BuildReadError) as raised:
        build.inventory()
    path = tmp_path / "inventory" / "hosts.yml"
    assert raised.value.message == f"cannot read the inventory {path}: {reason}"
    assert raised.value.exit_code == EXIT_BAD_INPUT


def test_a_missing_build_is_named(tmp_path: Path):
    with pytest.raises(BuildReadError, match=r"cannot read the manifest .*manifest\.json: "):
        BuildDir(tmp_path / "build").manifest()
    with pytest.raises(BuildReadError, match="cannot read the variables of srv1 "):
        BuildDir(tmp_path / "build").host_vars("srv1")
