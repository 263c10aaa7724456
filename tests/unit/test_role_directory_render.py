"""The directory role's rendered files: cn=config, the tree, and the accounts' passwords."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from souverain import vault
from souverain.deployment import Deployment
from souverain.paths import ROLES_DIR
from souverain.render import pipeline
from souverain.render.spec import load_spec
from souverain.secrets import SecretStore, read_password

ROLES = ("base", "pki", "directory")


def edited(directory: Path, change=None) -> Deployment:
    """`souverain init` in ``directory``/suite, then an optional edit of suite.yml (comments
    and quoting kept)."""
    from souverain.scaffold import init_deployment
    from souverain.secrets import ensure_password_file

    target = directory / "suite"
    init_deployment(target, domain="acme.example.org", name="acme")
    deployment = Deployment.at(target)
    ensure_password_file(deployment)
    if change is not None:
        yaml = YAML()
        yaml.preserve_quotes = True
        data = yaml.load(deployment.suite_file.read_text())
        change(data)
        with deployment.suite_file.open("w") as stream:
            yaml.dump(data, stream)
    return deployment


def render(directory: Path, change=None, roles=ROLES) -> Deployment:
    """`edited`, then a render with only `roles`."""
    deployment = edited(directory, change)
    linked = directory / "roles"
    linked.mkdir()
    for name in roles:
        (linked / name).symlink_to(ROLES_DIR / name)
    load_spec.cache_clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "ROLES_DIR", linked)
        pipeline.render_deployment(deployment)
    load_spec.cache_clear()
    return deployment


def two_tenants(data) -> None:
    data["tenants"].append(
        {"id": "beta", "name": "Beta", "domain": "beta.example.net", "components": ["mail"]}
    )
    data["components"]["directory"]["password_min_length"] = 14
    data["components"]["directory"]["lockout_failures"] = 4


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return render(tmp_path_factory.mktemp("directory"), two_tenants)


def host_vars(deployment: Deployment) -> dict:
    path = deployment.build_dir / "inventory/host_vars"
    host = next(path.iterdir())
    return json.loads((host / "souverain.json").read_text())


def config_ldif(deployment: Deployment) -> str:
    found = list(deployment.build_dir.glob("hosts/*/files/etc/ldap/souverain/config.ldif"))
    assert len(found) == 1
    return found[0].read_text()


def test_config_enforces_tls_argon2_and_policy(deployment):
    ldif = config_ldif(deployment)
    assert "olcTLSProtocolMin: 3.3" in ldif
    assert "olcSecurity: ssf=71" in ldif
    assert "olcPasswordHash: {ARGON2}" in ldif
    assert re.search(r"olcModuleLoad: \{\d\}argon2", ldif)
    assert "olcPPolicyHashCleartext: TRUE" in ldif
    assert "olcSuffix: dc=acme,dc=example,dc=org" in ldif
    suites = re.search(r"olcTLSCipherSuite: (\S+)", ldif).group(1).split(":")
    assert all("GCM" in s or "CHACHA20" in s for s in suites)


def test_nothing_anonymous_beyond_the_root_dse(deployment):
    ldif = config_ldif(deployment)
    unfolded = re.sub(r"\n ", "", ldif)
    access = [line for line in unfolded.splitlines() if line.startswith("olcAccess:")]
    granting_anyone = [
        line for line in access if re.search(r"by (\*|anonymous) (read|search)", line)
    ]
    assert granting_anyone == ['olcAccess: {1}to dn.base="" by * read']
    assert any("by anonymous auth" in line for line in access)


def test_service_accounts_read_only_their_own_tenant(deployment):
    unfolded = re.sub(r"\n ", "", config_ldif(deployment))
    rule = next(line for line in unfolded.splitlines() if "dn.regex" in line)
    assert 'by dn.children,expand="ou=services,ou=$2,dc=acme,dc=example,dc=org" read' in rule
    assert "write" in rule and rule.count("write") == 1


def test_the_tree_has_units_and_accounts_per_tenant(deployment):
    entries = {e["dn"]: e["attributes"] for e in host_vars(deployment)["directory_entries"]}
    suffix = "dc=acme,dc=example,dc=org"
    for tenant in ("acme", "beta"):
        for unit in ("people", "groups", "services"):
            assert f"ou={unit},ou={tenant},{suffix}" in entries
    assert f"cn=chat,ou=services,ou=acme,{suffix}" in entries
    assert f"cn=mail,ou=services,ou=beta,{suffix}" in entries
    assert f"cn=chat,ou=services,ou=beta,{suffix}" not in entries
    assert f"cn=sso,ou=services,ou=beta,{suffix}" in entries
    policy = entries[f"cn=default,ou=policies,{suffix}"]
    assert (policy["pwdMinLength"], policy["pwdMaxFailure"]) == ("14", "4")
    dns = list(entries)
    for index, dn in enumerate(dns):
        parent = dn.split(",", 1)[1]
        assert dn == suffix or dns.index(parent) < index, f"{dn} comes before its parent"


def test_passwords_come_from_the_secrets_store_and_stay_encrypted(deployment):
    path = next((deployment.build_dir / "inventory/host_vars").iterdir()) / "secrets.yml"
    stored = path.read_bytes()
    assert vault.is_encrypted(stored)
    plain = json.loads(vault.decrypt(stored, read_password(deployment)))
    store = SecretStore.open(deployment)
    suffix = "dc=acme,dc=example,dc=org"
    assert plain["directory_passwords"][f"cn=admin,{suffix}"] == store.get("directory/admin")
    assert plain["directory_passwords"][f"cn=mail,ou=services,ou=beta,{suffix}"] == store.get(
        "directory/beta/mail"
    )
    assert store.get("directory/admin") not in json.dumps(host_vars(deployment))


def test_configured_suffix_wins(tmp_path: Path):
    def change(data):
        data["components"]["directory"]["suffix"] = "dc=annuaire,dc=example"

    deployment = render(tmp_path, change)
    assert "olcSuffix: dc=annuaire,dc=example" in config_ldif(deployment)
    assert host_vars(deployment)["directory_admin_dn"] == "cn=admin,dc=annuaire,dc=example"
