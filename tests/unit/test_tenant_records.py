"""The tenants' records (/etc/souverain/tenants/<id>.json, rendered by base from each
component's _tenant_footprint.j2): every file the render makes for a tenant on a host is
covered by that tenant's record on that host, so that taking a tenant away from a host
forgets none of them; and a record names only its own tenant."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest

from souverain.deployment import Deployment
from tests.unit.layouts import FOUR_HOSTS
from tests.unit.test_role_directory_render import render

ROLES = (
    "base", "pki", "proxy", "web", "postgresql", "redis", "directory", "sso", "drive", "mail",
    "visio", "chat", "backup",
)  # fmt: skip


def second_tenant(data) -> None:
    data["tenants"].append(
        {"id": "beta", "name": "Beta", "domain": "beta.example.net",
         "components": ["mail", "chat"]}
    )  # fmt: skip


@pytest.fixture(scope="module", params=["one host", "four hosts"])
def deployment(request, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    def change(data) -> None:
        second_tenant(data)
        if request.param == "four hosts":
            data["hosts"] = FOUR_HOSTS
            data["components"]["backup"]["enabled"] = False

    return render(tmp_path_factory.mktemp("records"), change, roles=ROLES)


def manifest(deployment: Deployment) -> list[dict]:
    return json.loads((deployment.build_dir / "manifest.json").read_text())["files"]


def record(deployment: Deployment, host: str, tenant: str) -> dict:
    path = deployment.build_dir / f"hosts/{host}/files/etc/souverain/tenants/{tenant}.json"
    return json.loads(path.read_text())


def covered(dest: str, paths: list[str]) -> bool:
    return any(
        dest == path or dest.startswith(path.rstrip("/") + "/") or fnmatch.fnmatch(dest, path)
        for path in paths
    )


def test_every_file_rendered_for_a_tenant_is_in_its_record_on_that_host(deployment):
    missing = []
    for entry in manifest(deployment):
        if entry["tenant"] is None or entry["host"] is None:
            continue
        found = record(deployment, entry["host"], entry["tenant"])
        paths = [p for part in found["components"].values() for p in part.get("paths", [])]
        if not covered(entry["dest"], paths):
            missing.append(f"{entry['host']}: {entry['component']} {entry['dest']}")
    assert not missing, "not in the tenant's record:\n" + "\n".join(missing)


def test_each_host_has_a_record_of_every_tenant_naming_only_that_tenant(deployment):
    hosts = {entry["host"] for entry in manifest(deployment) if entry["host"]}
    for host in hosts:
        for tenant, other in (("acme", "beta"), ("beta", "acme")):
            found = record(deployment, host, tenant)
            assert (found["tenant"], found["host"]) == (tenant, host)
            text = json.dumps(found["components"])
            assert f"/{other}" not in text and f"{other}." not in text, (host, tenant, text)


def test_the_record_names_what_is_not_a_file(deployment):
    """Units, system users, databases and the directory subtree, where each lives."""
    placement = {entry["component"]: entry["host"] for entry in manifest(deployment)}
    chat = record(deployment, placement["chat"], "beta")["components"]["chat"]
    assert chat["units"] == ["souverain-synapse@beta.service"] and chat["users"] == ["mx-beta"]
    databases = record(deployment, placement["postgresql"], "acme")["components"]["postgresql"]
    assert {d["name"] for d in databases["databases"]} == {"synapse_acme", "nextcloud_acme"}
    assert "drive" not in record(deployment, placement["drive"], "beta")["components"]
    directory = record(deployment, placement["directory"], "beta")["components"]["directory"]
    assert directory["subtrees"] == ["ou=beta,dc=acme,dc=example,dc=org"]


def test_a_record_is_readable_by_root_only(deployment):
    entries = [
        e for e in manifest(deployment) if (e["dest"] or "").startswith("/etc/souverain/tenants/")
    ]
    assert entries and {(e["mode"], e["owner"], e["service"]) for e in entries} == {
        ("0600", "root", "tenants")
    }
    assert all(Path(e["dest"]).name == f"{e['tenant']}.json" for e in entries)
