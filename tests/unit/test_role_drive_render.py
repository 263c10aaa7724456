"""The drive role's rendered files: Nextcloud per tenant, sovereign settings, PHP-FPM pools."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from souverain import vault
from souverain.deployment import Deployment
from souverain.secrets import SecretStore, read_password
from tests.unit.test_role_directory_render import render

ROLES = ("base", "pki", "proxy", "postgresql", "redis", "directory", "sso", "drive")


def two_tenants(data) -> None:
    data["tenants"].append(
        {
            "id": "beta",
            "name": "Beta",
            "domain": "beta.example.net",
            "components": ["drive"],
            "quotas": {"mail_mb": 1024, "drive_gb": 7},
        }
    )
    data["components"]["drive"]["server_side_encryption"] = True


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return render(tmp_path_factory.mktemp("drive"), two_tenants, roles=ROLES)


def built(deployment: Deployment, dest: str) -> str:
    [path] = deployment.build_dir.glob(f"hosts/*/files{dest}")
    data = path.read_bytes()
    if vault.is_encrypted(data):
        data = vault.decrypt(data, read_password(deployment))
    return data.decode()


def host_vars(deployment: Deployment) -> dict:
    [path] = deployment.build_dir.glob("inventory/host_vars/*/souverain.json")
    return json.loads(path.read_text())


def config(deployment: Deployment, tenant: str) -> str:
    return built(deployment, f"/var/lib/souverain-drive/{tenant}/config/souverain.config.php")


def settings(deployment: Deployment, tenant: str) -> dict:
    return json.loads(built(deployment, f"/etc/souverain/drive/{tenant}/settings.json"))


def test_secret_files_are_encrypted_and_hold_the_suite_secrets(deployment):
    [path] = deployment.build_dir.glob(
        "hosts/*/files/var/lib/souverain-drive/acme/config/souverain.config.php"
    )
    assert vault.is_encrypted(path.read_bytes())
    store = SecretStore.open(deployment)
    text = config(deployment, "acme")
    assert store.get("postgresql/drive/acme") in text
    assert store.get("redis/default") in text
    assert store.get("drive/acme/secret") in text
    assert config(deployment, "beta") != text


def test_sovereign_defaults_each_with_a_comment(deployment):
    text = config(deployment, "acme")
    for setting in (
        "'appstoreenabled' => false",
        "'updatechecker' => false",
        "'has_internet_connection' => false",
        "'connectivity_check_domains' => []",
        "'lookup_server' => ''",
        "'knowledgebaseenabled' => false",
        "'upgrade.disable-web' => true",
    ):
        assert setting in text, setting
        before = text.splitlines()[text.splitlines().index("  " + setting + ",") - 1]
        assert before.strip().startswith("//") or "'" in before, setting
    assert "nextcloud.com" not in text and "gravatar" not in text


def test_app_store_follows_the_model(tmp_path):
    def allow(data):
        data["components"]["drive"]["app_store"] = True

    allowed = render(tmp_path, allow, roles=ROLES)
    assert "'appstoreenabled' => true" in config(allowed, "acme")


def test_names_database_redis_and_data_per_tenant(deployment):
    acme, beta = config(deployment, "acme"), config(deployment, "beta")
    assert "'trusted_domains' => [\n    'drive.acme.example.org',\n  ]" in acme
    assert "'overwrite.cli.url' => 'https://drive.beta.example.net'" in beta
    assert "'dbname' => 'nextcloud_beta'" in beta and "'dbhost' => '/var/run/postgresql'" in beta
    assert "'datadirectory' => '/var/lib/souverain-drive/beta/data'" in beta
    acme_index = re.search(r"'dbindex' => (\d+)", acme).group(1)
    beta_index = re.search(r"'dbindex' => (\d+)", beta).group(1)
    assert acme_index != beta_index
    assert host_vars(deployment)["redis_tenant_databases"] == {
        "acme": int(acme_index),
        "beta": int(beta_index),
    }


def test_settings_quota_directory_sso_and_encryption(deployment):
    store = SecretStore.open(deployment)
    acme, beta = settings(deployment, "acme"), settings(deployment, "beta")
    argvs = [c["argv"] for c in beta["commands"]]
    assert ["config:app:set", "files", "default_quota", "--value", "7 GB"] in argvs
    assert ["ldap:set-config", "s01", "ldapAgentName",
            "cn=drive,ou=services,ou=beta,dc=acme,dc=example,dc=org"] in argvs  # fmt: skip
    assert ["ldap:set-config", "s01", "ldapAgentPassword",
            store.get("directory/beta/drive")] in argvs  # fmt: skip
    [oidc] = [a for a in argvs if a[0] == "user_oidc:provider"]
    assert oidc[oidc.index("--clientsecret") + 1] == store.get("sso/beta/drive")
    assert oidc[oidc.index("--discoveryuri") + 1] == (
        "https://auth.beta.example.net/.well-known/openid-configuration"
    )
    assert ["encryption:enable"] in argvs and "encryption" in beta["enable_apps"]
    assert {"updatenotification", "nextcloud_announcements"} <= set(acme["disable_apps"])
    # Talk's STUN/TURN point at the suite's own visio host, for the tenant that has visio.
    stun = [a for a in (c["argv"] for c in acme["commands"]) if a[2:3] == ["stun_servers"]]
    assert stun and "visio.acme.example.org:3478" in stun[0][-1]
    assert not [a for a in argvs if a[1:2] == ["spreed"]]


def test_the_sso_client_redirect_matches_the_drive_url(deployment):
    lm = built(deployment, "/etc/souverain/sso/acme/lmConf.json")
    conf = json.loads(lm)
    uris = conf["oidcRPMetaDataOptions"]["drive"]["oidcRPMetaDataOptionsRedirectUris"]
    assert uris == "https://drive.acme.example.org/apps/user_oidc/code"


def test_proxy_serves_nextcloud_with_its_hardening_and_a_gate(deployment):
    vhost = built(deployment, "/etc/nginx/sites-available/souverain-tenant-acme.conf")
    server = vhost[vhost.index("server_name drive.acme.example.org;") :]
    server = server[: server.index("\n}\n")]
    assert "root /var/lib/souverain-drive/acme/code;" in server
    assert "fastcgi_pass unix:/run/php/souverain-drive-acme.sock;" in server
    assert "location = /.well-known/carddav" in server
    assert "location ~ ^/(?:build|tests|config|lib|3rdparty|templates|data)(?:$|/)" in server
    assert "if (!-f /var/lib/souverain-drive/acme/ready)" in server
    assert "try_files /drive-acme.html /503.html =503;" in server
    assert 'add_header X-Robots-Tag "noindex, nofollow" always;' in server


def test_pool_runs_as_the_tenant_with_its_configuration_directory(deployment):
    pool = built(deployment, "/etc/souverain/drive/beta/fpm-pool.conf")
    assert "user = nc-beta" in pool and "listen.group = www-data" in pool
    assert "env[NEXTCLOUD_CONFIG_DIR] = /var/lib/souverain-drive/beta/config/" in pool
    assert "pm = ondemand" in pool
    ini = built(deployment, "/etc/souverain/drive/php.ini")
    assert "apc.enable_cli = 1" in ini and "opcache.validate_permission = 1" in ini


def test_role_variables_name_the_pinned_release(deployment):
    variables = host_vars(deployment)
    assert variables["drive_nextcloud"]["archive"].startswith("nextcloud-")
    assert [t["id"] for t in variables["drive_tenants"]] == ["acme", "beta"]
    services = {f["service"] for f in variables["drive_files"]}
    assert services == {"php", "unit", "tools", "pool", "config", "settings", "page"}
    assert all(len(f["sha256"]) == 64 for f in variables["drive_files"])


@pytest.mark.parametrize("tenant", ["acme", "beta"])
def test_config_php_is_valid_php(deployment, tmp_path, tenant):
    php = shutil.which("php")
    if php is None:
        pytest.skip("php is not installed on this machine (the lab host checks with php -l)")
    path = tmp_path / "souverain.config.php"
    path.write_text(config(deployment, tenant))
    result = subprocess.run([php, "-l", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dns_has_the_dav_service_records(deployment):
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "souverain", "-C", str(deployment.root), "dns"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    srv = "_caldavs._tcp.beta.example.net.\t3600\tIN\tSRV\t0 1 443 drive.beta.example.net."
    assert any(line.startswith(srv) for line in lines)
    assert '_carddavs._tcp.acme.example.org.\t3600\tIN\tTXT\t"path=/remote.php/dav/"' in lines
