"""What the proxy role's templates render for the init suite and a three-tenant suite."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from souverain import vault
from tests.unit.role_render import render_role

FILES = "hosts/srv1/files"


def render(tmp_path: Path, edit=None):
    """Render only the proxy role (other roles may be half-written) for a fresh suite."""
    build, materials, _ = render_role(tmp_path, "proxy", edit)
    return build, materials


def text(build, dest: str) -> str:
    return build.files[f"{FILES}{dest}"].content.decode()


def three_tenants(data) -> None:
    data["components"]["proxy"] = {"hsts_max_age": 31536000}
    data["tenants"].append(
        {
            "id": "mairie",
            "name": "Mairie <A & B>",
            "domain": "mairie.example",
            "components": ["mail"],
        }
    )
    data["tenants"].append({"id": "agglo-2", "name": "Agglo", "domain": "agglo.example"})


@pytest.fixture
def single(tmp_path):
    return render(tmp_path / "single")


@pytest.fixture
def multi(tmp_path):
    return render(tmp_path / "multi", three_tenants)


@pytest.mark.parametrize(
    "line",
    [
        "ssl_protocols TLSv1.2 TLSv1.3;",
        "ssl_prefer_server_ciphers on;",
        "ssl_session_tickets off;",
        "ssl_ecdh_curve X25519:prime256v1:secp384r1;",
        "server_tokens off;",
        "include /etc/nginx/sites-enabled/*;",
    ],
)
def test_nginx_conf(single, line):
    build, _ = single
    assert line in [part.strip() for part in text(build, "/etc/nginx/nginx.conf").splitlines()]


def test_only_forward_secret_aead_suites(single):
    build, _ = single
    for dest in ("/etc/nginx/nginx.conf", "/etc/nginx/snippets/souverain-tls.conf"):
        ciphers = re.search(r"ssl_ciphers (\S+);", text(build, dest)).group(1).split(":")
        assert ciphers
        for cipher in ciphers:
            assert cipher.startswith("ECDHE-"), cipher
            assert "GCM" in cipher or "CHACHA20-POLY1305" in cipher, cipher


def test_every_https_server_repeats_the_tls_policy(single):
    build, _ = single
    site = text(build, "/etc/nginx/sites-available/souverain-tenant-example.conf")
    servers = [block for block in site.split("server {")[1:] if "listen 443 ssl;" in block]
    # landing, sso, webmail, mta-sts, autoconfig, matrix, chat, visio, drive
    assert len(servers) == 9
    for block in servers:
        assert "include /etc/nginx/snippets/souverain-tls.conf;" in block
        assert "include /etc/nginx/snippets/souverain-headers.conf;" in block
        assert "ssl_certificate /etc/souverain/tls/tenant-example.crt;" in block
        assert "set $souverain_permissions_policy " in block  # the headers snippet sends it


def test_default_server_refuses_unknown_names(single):
    build, _ = single
    default = text(build, "/etc/nginx/sites-available/souverain-default.conf")
    assert "listen 80 default_server;" in default
    assert "return 444;" in default
    assert "listen 443 ssl default_server;" in default
    assert "ssl_reject_handshake on;" in default


def test_plain_http_only_redirects(single):
    build, _ = single
    site = text(build, "/etc/nginx/sites-available/souverain-tenant-example.conf")
    plain = site.split("server {")[1]
    assert "listen 80;" in plain
    assert "return 301 https://$host$request_uri;" in plain
    assert "/.well-known/acme-challenge/" in plain


def test_services_without_a_role_answer_503(single):
    build, _ = single
    site = text(build, "/etc/nginx/sites-available/souverain-tenant-example.conf")
    drive = next(b for b in site.split("server {") if "server_name drive.example.org;" in b)
    assert "return 503;" in drive
    page = text(build, "/var/www/souverain/_errors/503.html")
    assert "not available yet" in page


def test_landing_page_is_self_contained(single):
    build, _ = single
    page = text(build, "/var/www/souverain/example/index.html")
    assert "https://drive.example.org/" in page
    assert "mail.example.org" in page  # client settings
    assert "<script" not in page
    assert not re.search(r"(src|href)=\"(https?:)?//(?!([a-z0-9-]+\.)*example\.org/)", page)
    site = text(build, "/etc/nginx/sites-available/souverain-tenant-example.conf")
    landing = next(b for b in site.split("server {") if "server_name example.org;" in b)
    assert "Content-Security-Policy \"default-src 'none';" in landing
    assert "frame-ancestors 'none'" in landing


def test_hsts_from_the_model(single, multi):
    assert "max-age=63072000; includeSubDomains" in text(
        single[0], "/etc/nginx/snippets/souverain-headers.conf"
    )
    assert "max-age=31536000; includeSubDomains" in text(
        multi[0], "/etc/nginx/snippets/souverain-headers.conf"
    )


def test_three_tenants(multi):
    build, _ = multi
    for tenant in ("example", "mairie", "agglo-2"):
        assert f"{FILES}/etc/nginx/sites-available/souverain-tenant-{tenant}.conf" in build.files
        assert f"{FILES}/var/www/souverain/{tenant}/index.html" in build.files
    mairie = text(build, "/etc/nginx/sites-available/souverain-tenant-mairie.conf")
    assert "server_name webmail.mairie.example;" in mairie
    assert "drive.mairie.example" not in mairie
    assert "Mairie &lt;A &amp; B&gt;" in text(build, "/var/www/souverain/mairie/index.html")
    host_vars = json.loads(build.files["inventory/host_vars/srv1/souverain.json"].content)
    dests = {item["dest"] for item in host_vars["proxy_files"]}
    assert "/etc/nginx/sites-available/souverain-tenant-agglo-2.conf" in dests


def test_rendering_is_deterministic(tmp_path):
    first, _ = render(tmp_path / "a")
    second, _ = render(tmp_path / "b")
    site = "/etc/nginx/sites-available/souverain-tenant-example.conf"
    assert text(first, site) == text(second, site)


def test_nginx_accepts_the_configuration(multi, tmp_path):
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        pytest.skip("nginx is not installed on this machine: `nginx -t` runs on the lab hosts")
    build, materials = multi
    root = tmp_path / "root"
    for path, item in build.files.items():
        if not path.startswith(FILES + "/"):
            continue
        content = item.content
        if item.secret:
            content = vault.decrypt(content, materials.password)
        content = content.replace(b"/etc/", f"{root}/etc/".encode())
        content = content.replace(b"/var/", f"{root}/var/".encode())
        target = root / path[len(FILES) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    conf = root / "etc/nginx/nginx.conf"
    patched = conf.read_text().replace("user www-data;\n", "")
    patched = patched.replace("pid /run/nginx.pid;", f"pid {root}/nginx.pid;")
    temp = "".join(
        f"    {kind}_temp_path {root}/tmp/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    patched = patched.replace("http {\n", "http {\n" + temp, 1)
    conf.write_text(patched)
    mime = Path("/etc/nginx/mime.types")
    (root / "etc/nginx/mime.types").write_text(mime.read_text() if mime.exists() else "types {}\n")
    (root / "etc/nginx/modules-enabled").mkdir(exist_ok=True)
    (root / "var/log/nginx").mkdir(parents=True, exist_ok=True)
    (root / "tmp").mkdir()
    enabled = root / "etc/nginx/sites-enabled"
    enabled.mkdir()
    for site in (root / "etc/nginx/sites-available").iterdir():
        (enabled / site.name).symlink_to(site)
    result = subprocess.run(
        [nginx, "-t", "-q", "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
