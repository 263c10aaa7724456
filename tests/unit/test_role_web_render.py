"""The web component on a four-host suite: the proxy passes each web service that runs on
another host to that host over HTTPS (certificate checked against the suite CA for the host's
internal name), the host serves it on the backend port with its own certificate, and only the
proxy's host may reach that port."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from souverain.deployment import Deployment
from souverain.render import pipeline
from souverain.scaffold import init_deployment
from souverain.secrets import ensure_password_file

FOUR_HOSTS = [
    {"name": "front", "address": "192.0.2.10", "components": ["proxy", "directory", "sso"]},
    {"name": "mail", "address": "192.0.2.11", "components": ["mail"]},
    {"name": "data", "address": "192.0.2.12", "components": ["postgresql"]},
    {"name": "apps", "address": "192.0.2.13", "components": ["redis", "chat", "visio", "drive"]},
]


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("four") / "suite"
    init_deployment(target, domain="acme.example.org", name="acme")
    yaml = YAML()
    yaml.preserve_quotes = True
    path = target / "suite.yml"
    data = yaml.load(path.read_text())
    data["hosts"] = FOUR_HOSTS
    # `init` turns backups on for its one host; these hosts keep no repositories.
    data["components"]["backup"]["enabled"] = False
    with path.open("w") as stream:
        yaml.dump(data, stream)
    deployment = Deployment.at(target)
    ensure_password_file(deployment)
    pipeline.render_deployment(deployment)
    return deployment.build_dir


def read(build: Path, host: str, dest: str) -> str:
    return (build / "hosts" / host / "files" / dest.lstrip("/")).read_text()


def servers(text: str) -> dict[str, str]:
    """server_name -> the server block, for the HTTPS servers of a virtual host file."""
    found: dict[str, str] = {}
    for block in text.split("\nserver {")[1:]:
        name = re.search(r"server_name (\S+);", block)
        if name and "ssl;" in block:
            found[name.group(1)] = block
    return found


def test_the_web_component_goes_on_the_hosts_behind_the_front(build: Path) -> None:
    inventory = json.loads((build / "inventory" / "hosts.yml").read_text())
    assert set(inventory["all"]["children"]["web"]["hosts"]) == {"mail", "apps"}
    for host in ("front", "data"):
        assert (
            not (build / "hosts" / host / "files/etc/nginx/sites-available")
            .joinpath("souverain-web-default.conf")
            .exists()
        )


def test_the_front_passes_remote_services_over_verified_tls(build: Path) -> None:
    front = servers(read(build, "front", "/etc/nginx/sites-available/souverain-tenant-acme.conf"))
    expected = {
        "matrix.acme.example.org": "apps",
        "chat.acme.example.org": "apps",
        "drive.acme.example.org": "apps",
        "visio.acme.example.org": "apps",
        "webmail.acme.example.org": "mail",
    }
    for name, host in expected.items():
        block = front[name]
        assert f"proxy_pass https://{host}.acme.internal:8443;" in block, name
        assert f"proxy_ssl_name {host}.acme.internal;" in block, name
        assert "fastcgi_pass" not in block and "unix:" not in block, name
    # The portal runs on the front itself: served there, through its socket.
    portal = front["auth.acme.example.org"]
    assert "fastcgi_pass unix:/run/souverain-sso/acme/portal.sock;" in portal
    snippet = read(build, "front", "/etc/nginx/snippets/souverain-upstream.conf")
    for directive in (
        "proxy_ssl_verify on;",
        "proxy_ssl_trusted_certificate /etc/souverain/tls/ca.crt;",
        "proxy_ssl_protocols TLSv1.2 TLSv1.3;",
        "proxy_ssl_server_name on;",
    ):
        assert directive in snippet


def test_hosts_behind_the_front_serve_their_services_with_their_certificate(build: Path) -> None:
    apps = servers(read(build, "apps", "/etc/nginx/sites-available/souverain-web-acme.conf"))
    assert set(apps) == {
        "matrix.acme.example.org",
        "chat.acme.example.org",
        "visio.acme.example.org",
        "drive.acme.example.org",
    }
    for block in apps.values():
        assert "listen 8443 ssl;" in block
        assert "ssl_certificate /etc/souverain/tls/host-apps.crt;" in block
    assert (
        "proxy_pass http://unix:/run/souverain-synapse/acme/synapse.sock:;"
        in (apps["matrix.acme.example.org"])
    )
    mail = servers(read(build, "mail", "/etc/nginx/sites-available/souverain-web-acme.conf"))
    assert "webmail.acme.example.org" in mail
    conf = read(build, "apps", "/etc/nginx/nginx.conf")
    assert "set_real_ip_from 192.0.2.10;" in conf
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in conf
    headers = read(build, "apps", "/etc/nginx/snippets/souverain-headers.conf")
    assert "Strict-Transport-Security" in headers


def test_only_the_front_reaches_the_backend_port(build: Path) -> None:
    for host in ("mail", "apps"):
        rules = read(build, host, "/etc/nftables.conf")
        assert "ip saddr { 192.0.2.10 } tcp dport 8443 accept" in rules, host
        assert not re.search(r"^\s*tcp dport 8443 accept", rules, re.MULTILINE), host


def test_the_mail_host_has_each_tenants_certificate(build: Path) -> None:
    tls = build / "hosts" / "mail" / "files" / "etc/souverain/tls"
    assert (tls / "tenant-acme.crt").is_file()
    variables = json.loads((build / "inventory/host_vars/mail/souverain.json").read_text())
    placed = {item["dest"] for item in variables["pki_files"]}
    assert "/etc/souverain/tls/tenant-acme.crt" in placed
