"""The chat role's rendered files: sovereign Synapse settings per tenant, Element's config."""

from __future__ import annotations

import json

import pytest
import yaml

from souverain import vault
from souverain.deployment import Deployment
from souverain.secrets import SecretStore, read_password
from tests.unit.test_role_directory_render import render

ROLES = ("base", "pki", "proxy", "postgresql", "directory", "sso", "chat")


def two_tenants(data) -> None:
    data["tenants"].append({"id": "beta-org", "name": "Beta", "domain": "beta.example.net"})


def federating(data) -> None:
    two_tenants(data)
    # A tenant without visio: no TURN for its calls.
    data["tenants"].append(
        {"id": "gamma", "name": "Gamma", "domain": "gamma.example.net", "components": ["chat"]}
    )
    data["components"]["chat"] = {
        "federation": {"mode": "allowlist", "allowlist": ["partner.example.com"]},
        "url_previews": True,
        "media_retention_days": 30,
    }


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return render(tmp_path_factory.mktemp("chat"), two_tenants, roles=ROLES)


@pytest.fixture(scope="module")
def open_deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return render(tmp_path_factory.mktemp("chat-fed"), federating, roles=ROLES)


def built(deployment: Deployment, dest: str) -> bytes:
    [path] = deployment.build_dir.glob(f"hosts/*/files{dest}")
    return path.read_bytes()


def homeserver(deployment: Deployment, tenant: str) -> dict:
    text = built(deployment, f"/etc/souverain/chat/{tenant}/homeserver.yaml")
    assert not vault.is_encrypted(text), "homeserver.yaml holds no secret"
    return yaml.safe_load(text)


def test_one_homeserver_per_tenant_named_after_its_domain(deployment):
    acme, beta = homeserver(deployment, "acme"), homeserver(deployment, "beta-org")
    assert acme["server_name"] == "acme.example.org"
    assert beta["server_name"] == "beta.example.net"
    assert beta["public_baseurl"] == "https://matrix.beta.example.net/"
    assert beta["database"]["args"]["dbname"] == "synapse_beta_org"
    assert beta["listeners"][0]["path"] == "/run/souverain-synapse/beta-org/synapse.sock"
    assert acme["media_store_path"] != beta["media_store_path"]


def test_sovereign_defaults_when_federation_is_off(deployment):
    conf = homeserver(deployment, "acme")
    assert conf["report_stats"] is False
    assert conf["trusted_key_servers"] == []
    assert conf["federation_domain_whitelist"] == []
    assert conf["federation_client_minimum_tls_version"] == "1.2"
    assert conf["url_preview_enabled"] is False
    assert conf["enable_registration"] is False
    # An office behind one address signs in without queueing; per account, upstream's limits.
    assert conf["rc_login"] == {"address": {"per_second": 0.2, "burst_count": 50}}
    assert conf["enable_3pid_lookup"] is False
    assert "default_identity_server" not in conf
    assert "media_retention" not in conf
    assert conf["listeners"][0]["resources"][0]["names"] == ["client"]


def test_allowlist_previews_and_retention_come_from_the_model(open_deployment):
    conf = homeserver(open_deployment, "acme")
    assert conf["federation_domain_whitelist"] == ["partner.example.com"]
    assert conf["trusted_key_servers"] == []
    assert "federation" in conf["listeners"][0]["resources"][0]["names"]
    assert conf["url_preview_enabled"] is True
    assert "10.0.0.0/8" in conf["url_preview_ip_range_blacklist"]
    assert "fc00::/7" in conf["url_preview_ip_range_blacklist"]
    assert conf["media_retention"] == {
        "local_media_lifetime": "30d",
        "remote_media_lifetime": "30d",
    }


def test_logins_use_the_directory_and_the_tenant_portal(deployment):
    conf = homeserver(deployment, "beta-org")
    ldap = conf["modules"][0]
    assert ldap["module"] == "ldap_auth_provider.LdapAuthProviderModule"
    assert ldap["config"]["uri"].startswith("ldaps://")
    assert ldap["config"]["bind_dn"] == "cn=chat,ou=services,ou=beta-org,dc=acme,dc=example,dc=org"
    assert ldap["config"]["base"] == "ou=people,ou=beta-org,dc=acme,dc=example,dc=org"
    assert conf["password_config"]["localdb_enabled"] is False
    [oidc] = conf["oidc_providers"]
    assert oidc["issuer"] == "https://auth.beta.example.net"
    assert oidc["client_id"] == "chat"
    assert oidc["authorization_endpoint"] == "https://auth.beta.example.net/oauth2/authorize"
    assert oidc["user_mapping_provider"]["config"]["localpart_template"] == (
        "{{ user.preferred_username }}"
    )


def test_oidc_and_password_logins_give_the_same_account(deployment):
    conf = homeserver(deployment, "acme")
    [oidc] = conf["oidc_providers"]
    # The password provider makes @<uid>; the portal's preferred_username is the uid.
    assert conf["modules"][0]["config"]["attributes"]["uid"] == "uid"
    assert oidc["user_mapping_provider"]["config"]["localpart_template"] == (
        "{{ user.preferred_username }}"
    )
    assert oidc["allow_existing_users"] is True
    sso = built(deployment, "/etc/souverain/sso/acme/lmConf.json")
    if vault.is_encrypted(sso):
        sso = vault.decrypt(sso, read_password(deployment))
    claims = json.loads(sso)["oidcRPMetaDataExportedVars"]["chat"]
    assert claims["preferred_username"] == "uid"
    # Synapse's own Element skips the "continue to your client?" page.
    assert conf["sso"]["client_whitelist"] == ["https://chat.acme.example.org/"]


def test_calls_relay_through_the_suites_coturn_when_visio_is_on(deployment):
    conf = homeserver(deployment, "beta-org")
    address = yaml.safe_load(deployment.suite_file.read_text())["hosts"][0]["address"]
    assert conf["turn_uris"] == [
        f"turn:{address}:3478?transport=udp",
        f"turn:{address}:3478?transport=tcp",
    ]
    assert conf["turn_shared_secret_path"] == "/etc/souverain/chat/beta-org/turn_shared_secret"
    assert "turn_shared_secret" not in conf
    assert conf["turn_allow_guests"] is False
    stored = built(deployment, "/etc/souverain/chat/beta-org/turn_shared_secret")
    assert vault.is_encrypted(stored)
    secret = SecretStore.open(deployment).get("visio/turn")
    assert vault.decrypt(stored, read_password(deployment)).decode() == secret + "\n"


def test_no_turn_when_visio_is_off_for_the_tenant(open_deployment):
    conf = homeserver(open_deployment, "gamma")
    assert "turn_uris" not in conf and "turn_shared_secret_path" not in conf
    assert not list(open_deployment.build_dir.glob("hosts/*/files/etc/souverain/chat/gamma/turn*"))
    assert "turn_uris" in homeserver(open_deployment, "acme")


def test_role_variables_name_each_database_and_the_postgresql_host(deployment):
    [path] = deployment.build_dir.glob("inventory/host_vars/*/souverain.json")
    variables = json.loads(path.read_text())
    assert variables["chat_databases"] == {"acme": "synapse_acme", "beta-org": "synapse_beta_org"}
    assert variables["chat_postgresql_host"] == path.parent.name
    assert variables["chat_synapse_version"] == "1.163.2"


def test_each_homeserver_runs_as_its_tenants_own_user(deployment):
    """mx-<tenant> runs the tenant's homeserver and alone owns its secrets: the unit, the
    role's variable and the placed files name the same user."""
    unit = built(deployment, "/etc/systemd/system/souverain-synapse@.service").decode()
    assert "\nUser=mx-%i\n" in unit and "\nGroup=www-data\n" in unit
    [path] = deployment.build_dir.glob("inventory/host_vars/*/souverain.json")
    variables = json.loads(path.read_text())
    assert variables["chat_user_prefix"] == "mx-"
    secrets = [f for f in variables["chat_files"] if f.get("secret")]
    assert {f["tenant"] for f in secrets} == {"acme", "beta-org"}
    for item in secrets:
        assert (item["owner"], item["group"], item["mode"]) == (
            f"mx-{item['tenant']}",
            "root",
            "0600",
        ), item["dest"]
    shared = [f for f in variables["chat_files"] if not f.get("secret")]
    assert {f["owner"] for f in shared} == {"root"}


def test_secrets_are_encrypted_and_match_the_store(deployment):
    password = read_password(deployment)
    store = SecretStore.open(deployment)
    expected = {
        "ldap_bind_password": store.get("directory/beta-org/chat"),
        "oidc_client_secret": store.get("sso/beta-org/chat"),
        "macaroon_secret_key": store.get("chat/beta-org/macaroon"),
    }
    for name, value in expected.items():
        stored = built(deployment, f"/etc/souverain/chat/beta-org/{name}")
        assert vault.is_encrypted(stored)
        assert vault.decrypt(stored, password).decode() == value + "\n"
    pgpass = vault.decrypt(built(deployment, "/etc/souverain/chat/beta-org/pgpass"), password)
    assert pgpass.decode() == (
        f"*:*:synapse_beta_org:synapse_beta_org:{store.get('postgresql/chat/beta-org')}\n"
    )
    key = vault.decrypt(built(deployment, "/etc/souverain/chat/beta-org/signing.key"), password)
    assert key.decode().startswith("ed25519 a_souverain ")


def test_element_sets_every_vendor_default(deployment):
    config = json.loads(built(deployment, "/var/www/souverain-chat/acme/config.json"))
    assert config["default_server_config"]["m.homeserver"]["base_url"] == (
        "https://matrix.acme.example.org"
    )
    assert "default_server_name" not in config
    assert config["integrations_ui_url"] == config["integrations_rest_url"] == ""
    assert config["integrations_widgets_urls"] == []
    assert config["jitsi"]["preferred_domain"] == "visio.acme.example.org"
    assert config["element_call"]["url"] == ""
    assert config["map_style_url"] == ""
    assert config["posthog"]["project_api_key"] == ""
    assert config["bug_report_endpoint_url"] == ""
    assert config["room_directory"]["servers"] == ["acme.example.org"]
    assert "m.identity_server" not in config["default_server_config"]
    text = json.dumps(config)
    for vendor in ("vector.im", "element.io", "matrix.org", "maptiler"):
        assert vendor not in text


def test_proxy_serves_delegation_and_hides_federation_when_off(deployment, open_deployment):
    closed = built(deployment, "/etc/nginx/sites-available/souverain-tenant-acme.conf").decode()
    assert "location = /.well-known/matrix/client" in closed
    # Element never falls back on a vendor's public STUN server for calls.
    assert '"io.element.voip": {"disable_fallback_ice": true}' in closed
    assert "location = /.well-known/matrix/server" not in closed
    assert "location ^~ /_matrix/federation/" in closed
    assert "unix:/run/souverain-synapse/acme/synapse.sock:" in closed
    assert "try_files /unavailable.html" in closed
    opened = built(open_deployment, "/etc/nginx/sites-available/souverain-tenant-acme.conf")
    assert b"location = /.well-known/matrix/server" in opened
    assert b"location ^~ /_matrix/federation/" not in opened


# Synapse's own configuration check runs on the lab hosts, with the release they run:
# roles/chat/tests/test_chat.py (test_synapse_accepts_each_homeserver_configuration).
