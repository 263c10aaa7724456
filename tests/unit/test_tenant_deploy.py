"""`souverain deploy --tenant ID`: the hosts' variables narrowed to one tenant (render/narrow.py),
the components it runs, what the command refuses, and the roles' pruning steps, which must not
run on narrowed variables (they would take the other tenants' files away)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from souverain.cli import cli
from souverain.cli.output import run_cli
from souverain.deployment import Deployment
from souverain.paths import ROLES_DIR
from souverain.render import pipeline
from souverain.render.engine import VarsParts
from souverain.render.narrow import (
    ONLY_TENANT_VAR,
    narrowed_host_vars,
    tenant_components,
    write_narrowed_inventory,
)
from tests.unit.layouts import FOUR_HOSTS
from tests.unit.test_role_directory_render import edited

ORDER = (
    "base", "pki", "proxy", "web", "postgresql", "redis", "directory", "sso", "drive", "mail",
    "visio", "chat", "backup",
)  # fmt: skip
TENANTS = [
    {"id": "beta", "name": "Beta", "domain": "beta.example.net", "components": ["mail", "chat"]},
    {"id": "gamma", "name": "Gamma", "domain": "gamma.example.net"},
]


def deployment_of(directory: Path, hosts: list | None = None) -> Deployment:
    def change(data) -> None:
        data["tenants"].extend(TENANTS)
        if hosts is not None:
            data["hosts"] = hosts
            data["components"]["backup"]["enabled"] = False

    return edited(directory, change)


@pytest.fixture(scope="module", params=["one host", "four hosts"])
def rendered(request, tmp_path_factory: pytest.TempPathFactory) -> pipeline.RenderOutcome:
    hosts = FOUR_HOSTS if request.param == "four hosts" else None
    deployment = deployment_of(tmp_path_factory.mktemp("narrow"), hosts)
    return pipeline.render_deployment(deployment)


def narrowed(outcome: pipeline.RenderOutcome, host: str, tenant: str) -> dict:
    build = outcome.build
    listing = build.listing_files.get(host, frozenset())
    return narrowed_host_vars(build.host_vars[host], build.vars_parts[host], tenant, listing)


def test_narrowed_files_are_the_tenants_and_the_host_wide_ones_listing_tenants(rendered):
    listing = rendered.build.listing_files
    for host, host_vars in rendered.build.host_vars.items():
        for component in host_vars["souverain_components"]:
            whole = host_vars.get(f"{component}_files", [])
            files = narrowed(rendered, host, "beta").get(f"{component}_files", [])
            assert files == [
                entry for entry in whole
                if entry["tenant"] == "beta"
                or (entry["tenant"] is None and entry["dest"] in listing.get(host, ()))
            ]  # fmt: skip
    dests = {
        entry["dest"]
        for host in rendered.build.host_vars
        for key, value in narrowed(rendered, host, "beta").items()
        if key.endswith("_files")
        for entry in value
    }
    # A map listing every tenant's domains is given; the unit every homeserver runs, or the
    # SSH daemon's settings, wait for a whole deploy.
    assert "/etc/postfix/souverain/sni" in dests, sorted(dests)
    assert not any("souverain-synapse@" in dest for dest in dests)
    assert not any(dest.startswith("/etc/ssh/") for dest in dests)
    assert any("beta" in dest for dest in dests)


def test_narrowed_tenant_lists_hold_that_tenant_alone(rendered):
    build = rendered.build
    chat_host = next(h for h, v in build.host_vars.items() if v.get("chat_tenants"))
    assert sorted(build.host_vars[chat_host]["chat_tenants"]) == ["acme", "beta", "gamma"]
    assert narrowed(rendered, chat_host, "beta")["chat_tenants"] == ["beta"]
    assert list(narrowed(rendered, chat_host, "beta")["chat_databases"]) == ["beta"]
    db_host = next(h for h, v in build.host_vars.items() if v.get("postgresql_databases"))
    databases = narrowed(rendered, db_host, "gamma")["postgresql_databases"]
    assert databases and {db["tenant"] for db in databases} == {"gamma"}
    drive_host = next(h for h, v in build.host_vars.items() if v.get("drive_tenants"))
    # beta has no drive: the list is empty, not the whole one.
    assert narrowed(rendered, drive_host, "beta")["drive_tenants"] == []
    assert [t["id"] for t in narrowed(rendered, drive_host, "gamma")["drive_tenants"]] == ["gamma"]


def test_narrowed_variables_keep_the_host_wide_ones_and_say_which_tenant(rendered):
    for host, host_vars in rendered.build.host_vars.items():
        mine = narrowed(rendered, host, "gamma")
        assert mine[ONLY_TENANT_VAR] == "gamma"
        assert set(host_vars) | {ONLY_TENANT_VAR} == set(mine)
        assert ONLY_TENANT_VAR not in host_vars
        for key in ("souverain_components", "chat_synapse_version", "base_admin_networks"):
            if key in host_vars:
                assert mine[key] == host_vars[key]


def test_the_whole_variables_are_left_as_rendered(rendered):
    host, host_vars = next(iter(rendered.build.host_vars.items()))
    before = json.dumps(host_vars, sort_keys=True)
    narrowed(rendered, host, "beta")
    assert json.dumps(host_vars, sort_keys=True) == before


def test_the_tenants_components_are_those_holding_something_of_it(rendered):
    beta = tenant_components(rendered.build, "beta", ORDER)
    assert {"mail", "chat", "base"} <= set(beta)
    assert "drive" not in beta
    assert beta == [name for name in ORDER if name in beta]
    assert {"drive", "sso", "visio"} <= set(tenant_components(rendered.build, "gamma", ORDER))
    # Those with a host-wide file listing every tenant too: the mail maps, the database's
    # access rules, what the backup keeps.
    listing = {name for names in rendered.build.listing_tenants.values() for name in names}
    assert {"mail", "postgresql", "proxy"} <= listing
    assert listing <= set(beta)


def test_a_render_that_reuses_the_previous_build_knows_the_same_listing(tmp_path):
    deployment = deployment_of(tmp_path)
    first = pipeline.render_deployment(deployment)
    again = pipeline.render_deployment(deployment)
    assert again.build.reused > 0
    assert again.build.listing_tenants == first.build.listing_tenants
    assert tenant_components(again.build, "beta", ORDER) == tenant_components(
        first.build, "beta", ORDER
    )


def test_narrowed_inventory_on_disk(tmp_path):
    deployment = deployment_of(tmp_path)
    outcome = pipeline.render_deployment(deployment)
    source = deployment.build_dir / "inventory"
    made = write_narrowed_inventory(outcome.build, source, "beta", tmp_path / "run")
    for path in source.rglob("*"):
        twin = made / path.relative_to(source)
        assert twin.exists(), twin
        if path.is_file() and path.name != "souverain.json":
            assert twin.is_symlink() and twin.resolve() == path.resolve()
    for host in outcome.build.host_vars:
        data = json.loads((made / "host_vars" / host / "souverain.json").read_text())
        assert data[ONLY_TENANT_VAR] == "beta"
    # The build's own inventory is untouched.
    for host in outcome.build.host_vars:
        data = json.loads((source / "host_vars" / host / "souverain.json").read_text())
        assert ONLY_TENANT_VAR not in data


def test_parts_merge_like_the_render_does():
    parts = {
        "chat": VarsParts(
            host={"chat_tenants": [], "chat_version": "1"},
            tenants={"a": {"chat_tenants": ["a"]}, "b": {"chat_tenants": ["b"], "extra": {"b": 1}}},
        )
    }
    whole = {"souverain_components": ["chat"], "chat_tenants": ["a", "b"], "extra": {"b": 1},
             "chat_version": "1",
             "chat_files": [{"dest": "/x", "tenant": None}, {"dest": "/a", "tenant": "a"},
                            {"dest": "/b", "tenant": "b"}]}  # fmt: skip
    mine = narrowed_host_vars(whole, parts, "a", {"/x"})
    assert mine["chat_tenants"] == ["a"]
    assert mine["extra"] == {}
    assert mine["chat_version"] == "1"
    assert [entry["dest"] for entry in mine["chat_files"]] == ["/x", "/a"]
    assert parts["chat"].host == {"chat_tenants": [], "chat_version": "1"}


# ---- the roles ----------------------------------------------------------------------------

PRUNING = re.compile(r"reject\('in', \w+_files|\"prune\.yml\"")


def tasks_of(path: Path) -> list[dict]:
    loaded = YAML(typ="safe").load(path.read_text()) or []
    found = []
    for task in loaded:
        found.append(task)
        for key in ("block", "rescue", "always"):
            found.extend(task.get(key, []))
    return found


def test_every_pruning_step_is_left_out_of_a_narrowed_deploy():
    """A task that removes what its rendered files (or sites) do not list would, given one
    tenant's variables, remove every other tenant's: each must not run then."""
    checked = 0
    for path in sorted(ROLES_DIR.glob("*/tasks/*.yml")):
        if path.name == "prune.yml":  # its include is checked
            continue
        for task in tasks_of(path):
            text = json.dumps(task)
            if not PRUNING.search(text) or ("_files" not in text and "prune.yml" not in text):
                continue
            if "venv" in text:  # the homeservers' old virtualenvs: no tenant's
                continue
            conditions = task.get("when", [])
            conditions = conditions if isinstance(conditions, list) else [conditions]
            assert any(f"{ONLY_TENANT_VAR} is not defined" in c for c in conditions), (
                f"{path.relative_to(ROLES_DIR)}: {task.get('name')}"
            )
            checked += 1
    assert checked >= 4


# ---- the command --------------------------------------------------------------------------


def test_deploy_of_an_unknown_tenant_is_refused(tmp_path, capsys):
    deployment = deployment_of(tmp_path)
    code = run_cli(cli, ["-C", str(deployment.root), "deploy", "--tenant", "zeta"])
    said = capsys.readouterr()
    assert code == 2, said
    assert "no tenant zeta in suite.yml" in said.err + said.out
    assert "beta" in said.err + said.out


def test_deploy_of_a_tenant_with_tags_is_refused(tmp_path, capsys):
    deployment = deployment_of(tmp_path)
    argv = ["-C", str(deployment.root), "deploy", "--tenant", "beta", "--tags", "mail"]
    code = run_cli(cli, argv)
    said = capsys.readouterr()
    assert code == 2, said
    assert "cannot be given together" in said.err + said.out
