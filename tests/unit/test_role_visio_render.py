"""The visio role's rendered files: sovereign defaults, checked by the real parsers.

HOCON (jicofo.conf, jvb.conf) by pyhocon; config.js and interface_config.js by
`node --check` when node is installed; Prosody's configuration by `prosodyctl check config`
when Prosody is installed here (the lab test runs it on a host in any case).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from souverain import vault
from souverain.deployment import Deployment
from souverain.secrets import SecretStore, read_password
from tests.unit.test_role_directory_render import render

ROLES = ("base", "pki", "proxy", "directory", "sso", "visio")
PUBLIC_STUN = re.compile(r"jitsi\.net|jit\.si|8x8\.vc|google\.com|gravatar\.com")


def two_tenants(data) -> None:
    for name in ("mail", "chat", "drive"):
        data["components"].setdefault(name, {})["enabled"] = False
    data["tenants"].append({"id": "beta", "name": "Beta", "domain": "beta.example.net"})


def with_guests_and_nat(data) -> None:
    two_tenants(data)
    data["components"]["visio"] = {
        "guests_allowed": True,
        "public_address": "203.0.113.7",
        "recording": False,
    }


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return render(tmp_path_factory.mktemp("visio"), two_tenants, roles=ROLES)


@pytest.fixture(scope="module")
def nat(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return render(tmp_path_factory.mktemp("visio-nat"), with_guests_and_nat, roles=ROLES)


def read(deployment: Deployment, pattern: str) -> str:
    [path] = deployment.build_dir.glob(f"hosts/*/files{pattern}")
    data = path.read_bytes()
    if vault.is_encrypted(data):
        data = vault.decrypt(data, read_password(deployment))
    return data.decode()


def secret(deployment: Deployment, name: str) -> str:
    return SecretStore.open(deployment).get(name)


def test_secret_bearing_files_are_encrypted(deployment):
    for pattern in (
        "/etc/turnserver.conf",
        "/etc/jitsi/jicofo/jicofo.conf",
        "/etc/jitsi/videobridge/jvb.conf",
        "/etc/souverain/visio/auth.json",
        "/etc/prosody/conf.avail/*.cfg.lua",
    ):
        [path] = deployment.build_dir.glob(f"hosts/*/files{pattern}")
        assert vault.is_encrypted(path.read_bytes()), pattern


def test_hocon_files_parse_and_hold_the_suite_values(deployment):
    pyhocon = pytest.importorskip("pyhocon", reason="pyhocon (a test dependency) is missing")
    jicofo = pyhocon.ConfigFactory.parse_string(read(deployment, "/etc/jitsi/jicofo/jicofo.conf"))
    assert jicofo.get("jicofo.authentication.type") == "JWT"
    assert jicofo.get("jicofo.xmpp.client.password") == secret(deployment, "visio/xmpp/focus")
    assert jicofo.get("jicofo.xmpp.client.hostname") == "127.0.0.1"
    jvb = pyhocon.ConfigFactory.parse_string(read(deployment, "/etc/jitsi/videobridge/jvb.conf"))
    assert jvb.get("videobridge.ice.udp.port") == 10000
    shard = jvb.get("videobridge.apis.xmpp-client.configs.shard")
    assert shard.get("password") == secret(deployment, "visio/xmpp/jvb")
    assert shard.get("muc_jids") == jicofo.get("jicofo.bridge.brewery-jid")
    stun = jvb.get("ice4j.harvest.mapping.stun.addresses")
    assert stun and not any(PUBLIC_STUN.search(address) for address in stun)
    assert jvb.get("videobridge.stats.enabled") is False


def test_nat_address_reaches_jvb_coturn_and_clients(nat):
    pyhocon = pytest.importorskip("pyhocon", reason="pyhocon (a test dependency) is missing")
    jvb = pyhocon.ConfigFactory.parse_string(read(nat, "/etc/jitsi/videobridge/jvb.conf"))
    [mapping] = jvb.get("ice4j.harvest.mapping.static-mappings")
    assert mapping.get("public-address") == "203.0.113.7"
    assert "external-ip=203.0.113.7/" in read(nat, "/etc/turnserver.conf")
    props = read(nat, "/etc/jitsi/videobridge/sip-communicator.properties")
    assert "NAT_HARVESTER_PUBLIC_ADDRESS=203.0.113.7" in props
    assert "stun:203.0.113.7:3478" in read(nat, "/etc/jitsi/meet/visio.acme.example.org-config.js")


@pytest.mark.parametrize("tenant_domain", ["acme.example.org", "beta.example.net"])
def test_config_js_is_sovereign(deployment, tenant_domain):
    text = read(deployment, f"/etc/jitsi/meet/visio.{tenant_domain}-config.js")
    assert not PUBLIC_STUN.search(text)
    assert "disableThirdPartyRequests: true" in text
    assert re.search(r"gravatar: \{\s+disabled: true", text)
    assert re.search(r"analytics: \{\s+disabled: true", text)
    assert "enableCalendarIntegration: false" in text
    assert re.search(r"recordingService: \{\s+enabled: false", text)
    assert re.search(r"liveStreaming: \{\s+enabled: false", text)
    assert f"bosh: 'https://visio.{tenant_domain}/http-bind'" in text
    assert "anonymousdomain" not in text  # guests_allowed is false


def test_each_tenant_joins_its_own_rooms(deployment):
    acme = read(deployment, "/etc/jitsi/meet/visio.acme.example.org-config.js")
    beta = read(deployment, "/etc/jitsi/meet/visio.beta.example.net-config.js")
    assert "muc: 'conference.acme.visio.acme.internal'" in acme
    assert "muc: 'conference.beta.visio.acme.internal'" in beta


def test_javascript_files_pass_node_check(deployment, tmp_path):
    if shutil.which("node") is None:
        why = "node is not installed (Debian package nodejs, which `make test` installs)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why}: CI must run this check")
        pytest.skip(why)
    scripts = sorted(deployment.build_dir.glob("hosts/*/files/etc/jitsi/meet/*.js"))
    assert scripts, "no rendered Jitsi JavaScript found"
    # node --check can fail: a rendered file with a syntax error is refused.
    broken = tmp_path / "broken.js"
    broken.write_text(scripts[0].read_text() + "\nvar config = {;\n")
    refused = subprocess.run(["node", "--check", str(broken)], capture_output=True, text=True)
    assert refused.returncode != 0 and "SyntaxError" in refused.stderr, refused.stderr
    for path in scripts:
        copy = tmp_path / path.name
        copy.write_bytes(path.read_bytes())
        result = subprocess.run(["node", "--check", str(copy)], capture_output=True, text=True)
        assert result.returncode == 0, f"{path.name}: {result.stderr}"


def test_guests_get_an_anonymous_domain_only_when_allowed(deployment, nat):
    assert "guest." not in read(deployment, "/etc/prosody/conf.avail/*.cfg.lua")
    vhosts = read(nat, "/etc/prosody/conf.avail/*.cfg.lua")
    assert 'VirtualHost "guest.visio.acme.internal"' in vhosts
    assert "anonymousdomain: 'guest.visio.acme.internal'" in read(
        nat, "/etc/jitsi/meet/visio.beta.example.net-config.js"
    )


def test_prosody_requires_tokens_and_does_not_federate(deployment):
    main = read(deployment, "/etc/prosody/prosody.cfg.lua")
    assert 'modules_disabled = { "s2s" }' in main
    assert "c2s_require_encryption = true" in main
    assert 'protocol = "tlsv1_2+"' in main
    vhosts = read(deployment, "/etc/prosody/conf.avail/*.cfg.lua")
    assert 'authentication = "token"' in vhosts
    assert "allow_empty_token = false" in vhosts
    assert f'app_secret = "{secret(deployment, "visio/jwt")}"' in vhosts
    assert f'external_service_secret = "{secret(deployment, "visio/turn")}"' in vhosts
    assert "muc_lobby_rooms" in vhosts


@pytest.mark.skipif(shutil.which("prosodyctl") is None, reason="Prosody is not installed here")
def test_prosodyctl_accepts_the_configuration(deployment, tmp_path):
    main = read(deployment, "/etc/prosody/prosody.cfg.lua").replace(
        'Include "conf.d/*.cfg.lua"', f'Include "{tmp_path}/conf.d/*.cfg.lua"'
    )
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "prosody.cfg.lua").write_text(main)
    (tmp_path / "conf.d" / "visio.cfg.lua").write_text(
        read(deployment, "/etc/prosody/conf.avail/*.cfg.lua")
    )
    result = subprocess.run(
        ["prosodyctl", "--config", str(tmp_path / "prosody.cfg.lua"), "check", "config"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_coturn_shared_secret_and_hardening(deployment):
    text = read(deployment, "/etc/turnserver.conf")
    lines = text.splitlines()
    assert f"static-auth-secret={secret(deployment, 'visio/turn')}" in lines
    for line in ("use-auth-secret", "no-cli", "no-tlsv1", "no-tlsv1_1", "no-multicast-peers"):
        assert line in lines
    assert "denied-peer-ip=192.168.0.0-192.168.255.255" in lines
    assert "listening-port=3478" in lines and "tls-listening-port=5349" in lines


def test_sign_in_adapter_uses_the_sso_clients(deployment):
    conf = json.loads(read(deployment, "/etc/souverain/visio/auth.json"))
    assert conf["jwt_secret"] == secret(deployment, "visio/jwt")
    beta = conf["tenants"]["beta"]
    assert beta["client_id"] == "visio"
    assert beta["client_secret"] == secret(deployment, "sso/beta/visio")
    assert beta["issuer"] == "https://auth.beta.example.net"
    assert beta["redirect_uri"] == "https://visio.beta.example.net/static/oidc-adapter.html"


def test_proxy_serves_jitsi_and_signalling_for_each_tenant(deployment):
    text = read(deployment, "/etc/nginx/sites-available/souverain-tenant-beta.conf")
    assert "alias /etc/jitsi/meet/visio.beta.example.net-config.js;" in text
    assert "proxy_pass http://127.0.0.1:5280/http-bind" in text
    assert "proxy_pass http://127.0.0.1:5290/beta/callback" in text
    assert "return 503" in text  # until jitsi-meet-web is installed


def test_firewall_opens_the_visio_ports(deployment):
    variables = json.loads(
        next((deployment.build_dir / "inventory/host_vars").glob("*/souverain.json")).read_text()
    )
    visio = {
        (o["proto"], o["port"])
        for o in variables["base_firewall_openings"]
        if o["component"] == "visio"
    }
    assert {("udp", 10000), ("udp", 3478), ("tcp", 3478), ("tcp", 5349)} <= visio
