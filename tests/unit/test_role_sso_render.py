"""The sso role's rendered files: one portal per tenant, OIDC clients from the model, TOTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from souverain import vault
from souverain.deployment import Deployment
from souverain.secrets import SecretStore, read_password
from tests.unit.test_role_directory_render import render

ROLES = ("base", "pki", "proxy", "directory", "sso")


def two_tenants(data) -> None:
    data["tenants"].append(
        {"id": "beta", "name": "Beta", "domain": "beta.example.net", "components": ["mail"]}
    )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return render(tmp_path_factory.mktemp("sso"), two_tenants, roles=ROLES)


def conf(deployment: Deployment, tenant: str) -> dict:
    [path] = deployment.build_dir.glob(f"hosts/*/files/etc/souverain/sso/{tenant}/lmConf.json")
    stored = path.read_bytes()
    assert vault.is_encrypted(stored), "the configuration holds secrets"
    return json.loads(vault.decrypt(stored, read_password(deployment)))


def test_each_tenant_has_its_own_issuer_cookie_and_ldap_account(deployment):
    acme, beta = conf(deployment, "acme"), conf(deployment, "beta")
    assert acme["oidcServiceMetaDataIssuer"] == "https://auth.acme.example.org"
    assert beta["portal"] == "https://auth.beta.example.net/"
    assert acme["cookieName"] != beta["cookieName"]
    assert acme["key"] != beta["key"]
    assert beta["managerDn"] == "cn=sso,ou=services,ou=beta,dc=acme,dc=example,dc=org"
    assert beta["ldapBase"] == "ou=people,ou=beta,dc=acme,dc=example,dc=org"
    assert acme["ldapServer"].startswith("ldaps://") and acme["ldapVerify"] == "require"
    store = SecretStore.open(deployment)
    assert beta["managerPassword"] == store.get("directory/beta/sso")


def test_clients_follow_the_components_enabled_for_the_tenant(deployment):
    acme, beta = conf(deployment, "acme"), conf(deployment, "beta")
    assert set(acme["oidcRPMetaDataOptions"]) == {"mail", "chat", "visio", "drive"}
    assert set(beta["oidcRPMetaDataOptions"]) == {"mail"}
    chat = acme["oidcRPMetaDataOptions"]["chat"]
    assert chat["oidcRPMetaDataOptionsRedirectUris"] == (
        "https://matrix.acme.example.org/_synapse/client/oidc/callback"
    )
    assert chat["oidcRPMetaDataOptionsClientSecret"] == SecretStore.open(deployment).get(
        "sso/acme/chat"
    )
    assert acme["oidcRPMetaDataExportedVars"]["chat"]["preferred_username"] == "uid"
    assert acme["oidcServiceAllowImplicitFlow"] == 0


def test_totp_is_available_and_required_for_the_admin_group(deployment):
    acme = conf(deployment, "acme")
    assert acme["totp2fActivation"] == 1 and acme["totp2fSelfRegistration"] == 1
    assert acme["sfRequired"] == "defined $hGroups->{'admins'}"
    assert acme["securedCookie"] == 1 and acme["requireToken"] == 1


def test_the_proxy_serves_the_portal_from_the_local_socket(deployment):
    [vhost] = deployment.build_dir.glob(
        "hosts/*/files/etc/nginx/sites-available/souverain-tenant-acme.conf"
    )
    text = vhost.read_text()
    server = text[text.index("server_name auth.acme.example.org;") :]
    server = server[: server.index("\n}\n")]
    assert "fastcgi_pass unix:/run/souverain-sso/acme/portal.sock;" in server
    assert "return 403;" in server  # administrative endpoints


def test_no_external_address_in_the_portal_configuration(deployment, tmp_path: Path):
    text = json.dumps(conf(deployment, "acme"))
    for name in ("gravatar", "googleapis", "cdn", "lemonldap-ng.org"):
        assert name not in text
