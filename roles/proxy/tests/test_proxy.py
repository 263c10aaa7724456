"""testinfra checks of the proxy role: nginx answers for every service, with the TLS policy.

Run by `souverain verify` (or `py.test --hosts=ansible://proxy --ansible-inventory=...`);
hosts outside the inventory group `proxy` are skipped.
"""

from __future__ import annotations

import json
import re

import pytest

from souverain.verify.old_tls import OLD_TLS, client_options, client_refusal, negotiated

GROUP = "proxy"
SITES = "/etc/nginx/sites-available"

# Fetch a URL on the host itself through loopback, for the given name, without following
# redirects: prints {"status": ..., "headers": {...}} or {"error": ...}.
FETCH = r"""
import http.client, json, socket, ssl, sys
scheme, name, path = sys.argv[1:4]
try:
    if scheme == "https":
        context = ssl._create_unverified_context()
        raw = socket.create_connection(("127.0.0.1", 443), timeout=10)
        conn = http.client.HTTPSConnection(name, 443, context=context)
        conn.sock = context.wrap_socket(raw, server_hostname=name)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", 80, timeout=10)
    conn.request("GET", path, headers={"Host": name})
    response = conn.getresponse()
    headers = {key.lower(): value for key, value in response.getheaders()}
    print(json.dumps({"status": response.status, "headers": headers}))
except Exception as error:
    print(json.dumps({"error": type(error).__name__ + ": " + str(error)}))
"""


@pytest.fixture(autouse=True)
def _only_proxy_hosts(host):
    try:
        groups = host.ansible.get_variables().get("group_names", [])
    except Exception:  # not an Ansible backend: run the checks
        return
    if GROUP not in groups:
        pytest.skip(f"{host.backend.get_hostname()} is not in the {GROUP} group")


def _https_names(host, *, landing_only: bool = False) -> list[str]:
    names: list[str] = []
    listing = host.run(f"ls {SITES}")
    for entry in listing.stdout.split():
        if not entry.startswith("souverain-tenant-"):
            continue
        text = host.file(f"{SITES}/{entry}").content_string
        for block in text.split("server {")[1:]:
            # A landing page's root is its tenant's directory; /var/www/souverain/_errors is
            # the root of error pages that other servers (drive's 503) serve too.
            if "listen 443 ssl;" in block and (
                not landing_only or re.search(r"root /var/www/souverain/[a-z][a-z0-9-]*;", block)
            ):
                names += re.findall(r"server_name (\S+);", block)
    return names


def _fetch(host, scheme: str, name: str, path: str = "/") -> dict:
    result = host.run("python3 -c %s %s %s %s", FETCH, scheme, name, path)
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def _handshake(host, name: str, version: str, port: int = 443):
    command = f"openssl s_client -connect 127.0.0.1:%s -servername %s {client_options(version)}"
    return host.run(command + " </dev/null", str(port), name)


def old_tls_problem(host, name: str, version: str, port: int = 443) -> str | None:
    """None when the server turned `version` down; otherwise what is wrong."""
    result = _handshake(host, name, version, port)
    output = result.stdout + result.stderr
    if "CONNECTED(" not in output:
        return f"{name}: nothing answered on port {port}: {output.strip()[-300:]}"
    refused_here = client_refusal(output, version)
    if refused_here:
        return refused_here
    protocol = negotiated(output)
    return f"{name} accepted {version} (negotiated {protocol})" if protocol else None


def test_nginx_is_running(host):
    service = host.service("nginx")
    assert service.is_running
    assert service.is_enabled


def test_configuration_is_valid(host):
    result = host.run("nginx -t")
    assert result.rc == 0, result.stderr


@pytest.mark.parametrize(
    "setting",
    [
        "ssl_protocols TLSv1.2 TLSv1.3;",
        "ssl_prefer_server_ciphers on;",
        "ssl_session_tickets off;",
        "server_tokens off;",
    ],
)
def test_nginx_conf_sets(host, setting):
    assert setting in host.file("/etc/nginx/nginx.conf").content_string


def test_debian_default_site_is_gone(host):
    assert not host.file("/etc/nginx/sites-enabled/default").exists


@pytest.mark.parametrize("port", [80, 443])
def test_listens(host, port):
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening


def test_every_service_has_a_server(host):
    assert _https_names(host), "no souverain-tenant-*.conf virtual host found"


@pytest.mark.parametrize("version", ["tls1_2", "tls1_3"])
def test_tls_versions_accepted(host, version):
    for name in _https_names(host):
        result = _handshake(host, name, version)
        assert result.rc == 0, f"{name} refused {version}: {result.stderr}"


@pytest.mark.parametrize("version", sorted(OLD_TLS))
def test_old_tls_versions_refused(host, version):
    for name in _https_names(host):
        problem = old_tls_problem(host, name, version)
        assert problem is None, problem


def test_https_answers_with_security_headers(host):
    for name in _https_names(host):
        answer = _fetch(host, "https", name)
        assert "error" not in answer, answer
        headers = answer["headers"]
        assert answer["status"] != 502, f"{name}: the service behind the proxy is down"
        assert headers["strict-transport-security"].startswith("max-age=")
        assert "includeSubDomains" in headers["strict-transport-security"]
        assert headers["x-content-type-options"] == "nosniff"
        assert "permissions-policy" in headers
        assert "referrer-policy" in headers
        assert headers.get("server") == "nginx", "server_tokens off hides the version"


def test_http_redirects_to_https(host):
    for name in _https_names(host):
        answer = _fetch(host, "http", name, "/some/path")
        assert answer["status"] == 301, (name, answer)
        assert answer["headers"]["location"] == f"https://{name}/some/path"


def test_unknown_names_are_refused(host):
    plain = _fetch(host, "http", "unknown.invalid")
    assert "error" in plain, f"port 80 answered for an unknown name: {plain}"
    result = _handshake(host, "unknown.invalid", "tls1_2")
    assert result.rc != 0, "port 443 completed a handshake for an unknown name"


def test_landing_pages(host):
    names = _https_names(host, landing_only=True)
    assert names, "no landing page server found"
    for name in names:
        answer = _fetch(host, "https", name)
        assert answer["status"] == 200, (name, answer)
        policy = answer["headers"]["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy
