"""testinfra checks of the drive role (run against hosts of the `drive` group)."""

from __future__ import annotations

import json
import re

import pytest

PHP_MODULES = ["apcu", "bcmath", "curl", "gd", "gmp", "intl", "ldap", "mbstring",
               "pdo_pgsql", "posix", "redis", "sodium", "zip", "Zend OPcache"]  # fmt: skip


def tenants(host) -> list[str]:
    found = host.run("find /var/lib/souverain-drive -mindepth 1 -maxdepth 1 -type d -printf '%f '")
    return sorted(name for name in found.stdout.split() if name)


def config_of(tenant: str) -> str:
    return f"/var/lib/souverain-drive/{tenant}/config/souverain.config.php"


def php_as_tenant(host, tenant: str, code: str):
    """Run PHP as the tenant's user with its souverain.config.php loaded as $CONFIG."""
    script = f'include "{config_of(tenant)}"; {code}'
    return host.run(f"runuser -u nc-{tenant} -- php -r {_quote(script)}")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def php_version(host) -> str:
    return host.check_output("php -r 'echo PHP_MAJOR_VERSION, \".\", PHP_MINOR_VERSION;'")


def test_php_fpm_runs_with_the_modules_nextcloud_needs(host):
    assert host.service(f"php{php_version(host)}-fpm").is_running
    for scope in ("", "-d opcache.enable_cli=1 "):
        modules = host.check_output(f"php {scope}-m").splitlines()
        missing = [m for m in PHP_MODULES if m not in modules]
        assert not missing, missing
    fpm = host.run(f"php-fpm{php_version(host)} -t")
    assert fpm.rc == 0, fpm.stderr


def test_each_tenant_has_its_own_pool_socket(host):
    assert tenants(host)
    for name in tenants(host):
        socket = host.file(f"/run/php/souverain-drive-{name}.sock")
        assert socket.is_socket
        assert (socket.user, socket.group, socket.mode) == (f"nc-{name}", "www-data", 0o660)


def test_configuration_is_valid_php_and_private(host):
    for name in tenants(host):
        conf = host.file(config_of(name))
        assert (conf.user, conf.group, conf.mode) == ("root", f"nc-{name}", 0o640)
        lint = host.run(f"php -l {config_of(name)}")
        assert lint.rc == 0, lint.stdout
        for private in ("config", "data"):
            directory = host.file(f"/var/lib/souverain-drive/{name}/{private}")
            assert (directory.user, directory.mode) == (f"nc-{name}", 0o750)


def test_sovereign_settings_are_in_force(host):
    for name in tenants(host):
        result = php_as_tenant(host, name, "echo json_encode($CONFIG);")
        assert result.rc == 0, result.stderr
        conf = json.loads(result.stdout)
        assert conf["updatechecker"] is False and conf["has_internet_connection"] is False
        assert conf["connectivity_check_domains"] == [] and conf["lookup_server"] == ""
        assert not conf["datadirectory"].startswith(f"/var/lib/souverain-drive/{name}/code")


def test_each_tenant_reaches_its_database_with_its_password(host):
    for name in tenants(host):
        result = php_as_tenant(host, name, (
            '$h = $CONFIG["dbhost"]; $dsn = str_starts_with($h, "/") ? "host=$h" : '
            '"host=" . explode(":", $h)[0] . ";port=" . explode(":", $h)[1] . ";sslmode=require";'
            '$db = new PDO("pgsql:$dsn;dbname=" . $CONFIG["dbname"], $CONFIG["dbuser"], '
            '$CONFIG["dbpassword"]); echo $db->query("SELECT current_database()")->fetchColumn();'
        ))  # fmt: skip
        assert result.rc == 0, result.stderr
        assert result.stdout.strip() == "nextcloud_" + name.replace("-", "_")


def test_each_tenant_reaches_its_redis_database(host):
    for name in tenants(host):
        if "'redis' =>" not in host.file(config_of(name)).content_string:
            pytest.skip("Redis is on another host: file locks are in the database")
        result = php_as_tenant(host, name, (
            '$c = $CONFIG["redis"]; $r = new Redis(); $r->connect($c["host"], $c["port"]);'
            '$r->auth($c["password"]); $r->select($c["dbindex"]);'
            '$r->set("souverain-check", "1", 10); echo $r->get("souverain-check");'
        ))  # fmt: skip
        assert result.rc == 0, result.stderr
        assert result.stdout.strip() == "1"


def test_background_jobs_timer_is_enabled(host):
    for name in tenants(host):
        timer = host.service(f"souverain-drive-cron@{name}.timer")
        assert timer.is_enabled and timer.is_running


FETCH = """
import socket, ssl, sys, http.client
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
class Local(http.client.HTTPSConnection):
    def connect(self):
        raw = socket.create_connection(("127.0.0.1", int(sys.argv[3])), 10)
        self.sock = context.wrap_socket(raw, server_hostname=sys.argv[1])
connection = Local(sys.argv[1], int(sys.argv[3]))
connection.request("GET", sys.argv[2])
response = connection.getresponse()
print(response.status)
print(response.read().decode(errors="replace"))
"""


def fetch(host, fqdn: str, path: str) -> tuple[int, str]:
    """GET https://<fqdn><path> through the host's own nginx (SNI and Host: fqdn): the proxy
    on 443, or on a host behind it the web server on its backend port."""
    port = 443 if host.socket("tcp://0.0.0.0:443").is_listening else 8443
    result = host.run(f"python3 -c {_quote(FETCH)} {fqdn} {path} {port}")
    assert result.rc == 0, result.stderr
    status, _, body = result.stdout.partition("\n")
    return int(status), body


def test_drive_answers_503_until_installed_then_nextcloud(host):
    for name in tenants(host):
        conf = host.file(config_of(name)).content_string
        fqdn = re.search(r"'overwritehost' => '([^']+)'", conf).group(1)
        code, body = fetch(host, fqdn, "/status.php")
        if host.file(f"/var/lib/souverain-drive/{name}/ready").exists:
            assert code == 200, body
            assert json.loads(body)["installed"] is True
            status = json.loads(host.check_output(f"souverain-occ {name} status --output=json"))
            assert status["installed"] is True and not status["maintenance"]
        else:
            assert code == 503
            assert "Files are not available yet" in body
