"""Adding a component is a role folder with its component.yml, plus its settings class.

The project is copied to a temporary directory; a small throwaway component, `widget`, is
added there as a developer would add one (roles/widget/ and a settings class in the model's
components module, nothing else), and the copied project's own CLI must render it, open its
port in the firewall of the host that carries it, serve its endpoint through the proxy with
the tenant's certificate, and list it in `info`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]

MANIFEST = """\
---
description: "A throwaway component, to show what adding one takes"
order: 105
scope: tenant
requires: [directory]
endpoints:
  - {role: board, name: "{settings.hostname}.{domain}", label: Widget board}
openings:
  - {proto: tcp, port: "{settings.port}", from: [suite]}
"""

RENDER = """\
---
files:
  - template: etc/widget/widget.conf.j2
    dest: /etc/widget/widget.conf
    service: widget
  - template: etc/widget/tenant.conf.j2
    dest: "/etc/widget/{{ tenant.id }}.conf"
    service: widget
    per: tenant
"""

SETTINGS = '''

@settings_of("widget")
class WidgetSettings(Toggle):
    """The throwaway component of tests/unit/test_component_added.py."""

    hostname: str = Field(default="board", pattern=r"^[a-z0-9-]{1,63}$")
    port: Port = 7777
    greeting: str = "hello"

'''


def _copy_project(home: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".venv", "tests")
    for name in ("src", "roles", "playbooks", "templates", "collections"):
        shutil.copytree(PROJECT / name, home / name, ignore=ignore, symlinks=True)


def _add_widget(home: Path) -> None:
    role = home / "roles" / "widget"
    (role / "templates" / "etc" / "widget").mkdir(parents=True)
    (role / "proxy").mkdir()
    (role / "component.yml").write_text(MANIFEST)
    (role / "render.yml").write_text(RENDER)
    (role / "templates" / "etc" / "widget" / "widget.conf.j2").write_text(
        "# {{ generated_by }}\ngreeting = {{ settings.greeting }}\nport = {{ settings.port }}\n"
    )
    (role / "templates" / "etc" / "widget" / "tenant.conf.j2").write_text(
        "# {{ generated_by }}\ntenant = {{ tenant.id }}\n"
    )
    (role / "proxy" / "board.locations.j2").write_text(
        "location / {\n    proxy_pass http://127.0.0.1:{{ suite.components.widget.port }};\n}\n"
    )
    model = home / "src" / "souverain" / "model" / "components.py"
    text = model.read_text()
    marker = "\nclass ComponentsBase("
    assert marker in text, "the settings classes are expected before ComponentsBase"
    model.write_text(text.replace(marker, SETTINGS + marker, 1))


def _souverain(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SOUVERAIN_HOME": str(home),
        "PYTHONPATH": str(home / "src"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "souverain", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def widget_deployment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("project")
    _copy_project(home)
    _add_widget(home)
    deployment = home / "deployment"
    _souverain(home, "init", str(deployment), "--domain", "ville.example")
    suite = deployment / "suite.yml"
    suite.write_text(
        suite.read_text().replace(
            "\ncomponents:\n", "\ncomponents:\n  widget:\n    greeting: bonjour\n", 1
        )
    )
    _souverain(home, "-C", str(deployment), "validate")
    _souverain(home, "-C", str(deployment), "render")
    return deployment


def test_the_copied_project_runs_its_own_code(widget_deployment: Path):
    home = widget_deployment.parent
    env = {**os.environ, "SOUVERAIN_HOME": str(home), "PYTHONPATH": str(home / "src")}
    where = subprocess.run(
        [sys.executable, "-c", "import souverain; print(souverain.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(home)), where


def test_the_new_component_is_rendered(widget_deployment: Path):
    files = widget_deployment / "build" / "hosts" / "srv1" / "files" / "etc" / "widget"
    assert (files / "widget.conf").read_text().splitlines()[1:] == [
        "greeting = bonjour",
        "port = 7777",
    ]
    assert (files / "ville.conf").read_text().splitlines()[1] == "tenant = ville"
    host_vars = widget_deployment / "build" / "inventory" / "host_vars" / "srv1"
    variables = json.loads((host_vars / "souverain.json").read_text())
    assert "widget" in variables["souverain_components"]
    assert {f["dest"] for f in variables["widget_files"]} == {
        "/etc/widget/widget.conf",
        "/etc/widget/ville.conf",
    }


def test_the_firewall_opens_what_the_component_publishes(widget_deployment: Path):
    nftables = widget_deployment / "build" / "hosts" / "srv1" / "files" / "etc" / "nftables.conf"
    lines = [line.strip() for line in nftables.read_text().splitlines()]
    widget = [line for line in lines if "7777" in line]
    assert widget, "port 7777 is not in nftables.conf"
    assert all("@suite_v4" in line or "@suite_v6" in line for line in widget), widget


def test_the_proxy_serves_the_endpoint_with_the_tenant_certificate(widget_deployment: Path):
    site = (
        widget_deployment
        / "build/hosts/srv1/files/etc/nginx/sites-available/souverain-tenant-ville.conf"
    ).read_text()
    assert "server_name board.ville.example;" in site
    assert "proxy_pass http://127.0.0.1:7777;" in site
    assert "# Widget board: widget/board" in site
    from cryptography import x509

    pem = (
        widget_deployment / "build/hosts/srv1/files/etc/souverain/tls/tenant-ville.crt"
    ).read_bytes()
    certificate = x509.load_pem_x509_certificates(pem)[0]
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "board.ville.example" in names.get_values_for_type(x509.DNSName)


def test_info_lists_the_new_component(widget_deployment: Path):
    home = widget_deployment.parent
    result = _souverain(home, "-C", str(widget_deployment), "info", "--json")
    info = json.loads(result.stdout)
    [tenant] = info["tenants"]
    board = [s for s in tenant["services"] if s["component"] == "widget"]
    assert [(s["role"], s["url"]) for s in board] == [("board", "https://board.ville.example/")]
    [host] = info["hosts"]
    assert "widget" in host["components"]
