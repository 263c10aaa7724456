"""testinfra checks of the web role: nginx on a host behind the front serves this host's web
services over TLS on the backend port, with the host's certificate, and nothing in clear.

Hosts outside the inventory group `web` are skipped.
"""

from __future__ import annotations

import json
import re

import pytest

from souverain.verify.old_tls import OLD_TLS, client_options, client_refusal, negotiated

GROUP = "web"
PORT = 8443
SITES = "/etc/nginx/sites-available"
CA = "/etc/souverain/tls/ca.crt"

# One HTTPS request to the backend port on loopback, the certificate checked against the suite
# CA for the host's internal name, with the Host header of a service: prints
# {"status": ..., "headers": {...}} or {"error": ...}.
FETCH = r"""
import http.client, json, socket, ssl, sys
internal, name, ca, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
try:
    context = ssl.create_default_context(cafile=ca)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn = http.client.HTTPSConnection(internal, port, context=context)
    conn.sock = context.wrap_socket(raw, server_hostname=internal)
    conn.request("GET", "/", headers={"Host": name})
    response = conn.getresponse()
    headers = {key.lower(): value for key, value in response.getheaders()}
    print(json.dumps({"status": response.status, "headers": headers}))
except Exception as error:
    print(json.dumps({"error": type(error).__name__ + ": " + str(error)}))
"""


@pytest.fixture(autouse=True)
def _only_web_hosts(host):
    try:
        groups = host.ansible.get_variables().get("group_names", [])
    except Exception:  # not an Ansible backend: run the checks
        return
    if GROUP not in groups:
        pytest.skip(f"{host.backend.get_hostname()} is not in the {GROUP} group")


@pytest.fixture(scope="module")
def internal_name(host) -> str:
    text = host.file(f"{SITES}/souverain-web-default.conf").content_string
    found = re.search(r"server_name (\S+);", text)
    assert found, "the default server names no host"
    return found.group(1)


def _service_names(host) -> list[str]:
    names: list[str] = []
    for entry in host.run(f"ls {SITES}").stdout.split():
        if entry.startswith("souverain-web-") and entry != "souverain-web-default.conf":
            names += re.findall(r"server_name (\S+);", host.file(f"{SITES}/{entry}").content_string)
    return names


def _fetch(host, internal: str, name: str) -> dict:
    result = host.run("python3 -c %s %s %s %s %s", FETCH, internal, name, CA, str(PORT))
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def _handshake(host, internal: str, version: str):
    command = f"openssl s_client -connect 127.0.0.1:%s -servername %s {client_options(version)}"
    return host.run(command + " </dev/null", str(PORT), internal)


def test_nginx_is_running(host):
    service = host.service("nginx")
    assert service.is_running
    assert service.is_enabled


def test_configuration_is_valid(host):
    result = host.run("nginx -t")
    assert result.rc == 0, result.stderr


def test_listens_on_the_backend_port_only(host):
    listening = [s for s in host.socket.get_listening_sockets() if s.startswith("tcp://")]
    assert any(s.endswith(f":{PORT}") for s in listening), listening
    for port in (80, 443):
        assert not any(s.endswith(f":{port}") for s in listening), f"nginx listens on {port}"


def test_every_service_of_the_host_has_a_server(host):
    assert _service_names(host), "no souverain-web-<tenant>.conf virtual host found"


def test_services_answer_over_tls_checked_against_the_suite_ca(host, internal_name):
    for name in _service_names(host):
        answer = _fetch(host, internal_name, name)
        assert "error" not in answer, (name, answer)
        assert answer["status"] not in (421, 502), (name, answer)
        assert "strict-transport-security" in answer["headers"], (name, answer)


def test_unknown_names_get_421(host, internal_name):
    answer = _fetch(host, internal_name, "unknown.invalid")
    assert answer.get("status") == 421, answer


@pytest.mark.parametrize("version", sorted(OLD_TLS))
def test_old_tls_versions_refused(host, internal_name, version):
    output = _handshake(host, internal_name, version)
    text = output.stdout + output.stderr
    assert "CONNECTED(" in text, text[-300:]
    assert client_refusal(text, version) is None, client_refusal(text, version)
    assert negotiated(text) is None, f"port {PORT} accepted {version}"


def test_plain_http_is_refused(host):
    result = host.run(
        "python3 -c %s",
        f"import socket; s = socket.create_connection(('127.0.0.1', {PORT}), timeout=10); "
        "s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n'); print(s.recv(200))",
    )
    assert "400" in result.stdout or result.rc != 0, result.stdout
