"""testinfra checks of the sso role (run against hosts of the `sso` group)."""

from __future__ import annotations

import json


def tenants(host) -> list[str]:
    found = host.run("ls /var/lib/souverain-sso")
    return [name for name in found.stdout.split() if name]


def test_each_portal_runs_with_its_socket(host):
    names = tenants(host)
    assert names
    for name in names:
        assert host.service(f"souverain-sso@{name}").is_running
        socket = host.file(f"/run/souverain-sso/{name}/portal.sock")
        assert socket.is_socket


def test_configuration_and_keys_are_private(host):
    for name in tenants(host):
        conf = host.file(f"/var/lib/souverain-sso/{name}/conf/lmConf-1.json")
        assert conf.user == "souverain-sso" and conf.mode == 0o600
        key = host.file(f"/etc/souverain/sso/{name}/oidc-signing.key")
        assert key.mode == 0o600 and key.user == "root"


def test_issuer_admin_second_factor_and_no_implicit_flow(host):
    for name in tenants(host):
        raw = host.file(f"/var/lib/souverain-sso/{name}/conf/lmConf-1.json").content_string
        conf = json.loads(raw)
        assert conf["issuerDBOpenIDConnectActivation"] == 1
        assert conf["oidcServiceAllowImplicitFlow"] == 0
        assert conf["totp2fActivation"] == 1
        assert conf["ldapServer"].startswith("ldaps://")
        assert conf["securedCookie"] == 1


def test_package_default_portal_is_off(host):
    assert not host.service("lemonldap-ng-fastcgi-server").is_running
