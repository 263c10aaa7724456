"""The base role's rendered files: SSH, firewall, time, logs, updates, kernel settings.

The init suite (and a three-host variant of it) is rendered with the base and pki roles only,
so that work in progress in other roles cannot break these tests. Where the real checkers are
on this machine (`nft -c` needs root, `sshd -t` needs openssh-server), they judge the files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from souverain.deployment import Deployment
from souverain.paths import ROLES_DIR
from souverain.render import pipeline
from souverain.render.spec import load_spec

OWN_ROLES = ("base", "pki")


def render_suite(directory: Path, change=None) -> Path:
    """`souverain init` then `souverain render`, with the base and pki roles only."""
    from souverain.scaffold import init_deployment
    from souverain.secrets import ensure_password_file

    target = directory / "suite"
    init_deployment(target, domain="acme.example.org", name="acme")
    deployment = Deployment.at(target)
    ensure_password_file(deployment)
    if change is not None:
        edit_suite(target, change)
    roles = directory / "roles"
    roles.mkdir()
    for name in OWN_ROLES:
        (roles / name).symlink_to(ROLES_DIR / name)
    load_spec.cache_clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "ROLES_DIR", roles)
        pipeline.render_deployment(deployment)
    load_spec.cache_clear()
    return deployment.build_dir


@pytest.fixture(scope="module")
def init_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_suite(tmp_path_factory.mktemp("init"))


@pytest.fixture(scope="module")
def three_host_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_suite(tmp_path_factory.mktemp("three"), three_hosts)


def host_file(build: Path, host: str, dest: str) -> str:
    return (build / "hosts" / host / "files" / dest.lstrip("/")).read_text()


def host_vars(build: Path, host: str) -> dict:
    return json.loads((build / "inventory/host_vars" / host / "souverain.json").read_text())


def directives(text: str) -> dict[str, str]:
    """First value of each keyword, as sshd reads it (later repeats are ignored)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            found.setdefault(key.lower(), value.strip())
    return found


def edit_suite(deployment_dir: Path, change) -> None:
    yaml = YAML()
    yaml.preserve_quotes = True
    path = deployment_dir / "suite.yml"
    data = yaml.load(path.read_text())
    change(data)
    with path.open("w") as stream:
        yaml.dump(data, stream)


def three_hosts(data) -> None:
    data["hosts"] = [
        {"name": "web", "address": "192.0.2.10", "components": ["proxy", "mail", "visio"]},
        {
            "name": "data",
            "address": "192.0.2.11",
            "ssh_port": 2222,
            "components": ["postgresql", "directory", "sso"],
        },
        {"name": "apps", "address": "2001:db8::12", "components": ["redis", "chat", "drive"]},
    ]
    # `init` turns backups on for its one host; spread over three, none keeps the repositories.
    data["components"]["backup"]["enabled"] = False
    data["components"]["base"]["admin_networks"] = ["10.0.0.0/8", "2001:db8:ad::/48"]
    data["components"]["base"]["ntp_servers"] = ["ntp.internal.example", "192.0.2.123"]
    data["components"]["base"]["journald_retention_days"] = 400
    data["components"]["base"]["journald_max_use"] = "5G"


# ---- SSH ----------------------------------------------------------------------------------


HARDENED_SSH = {
    "permitrootlogin": "prohibit-password",
    "passwordauthentication": "no",
    "kbdinteractiveauthentication": "no",
    "authenticationmethods": "publickey",
    "permitemptypasswords": "no",
    "x11forwarding": "no",
    "allowtcpforwarding": "no",
    "allowagentforwarding": "no",
    "allowstreamlocalforwarding": "no",
    "disableforwarding": "yes",
    "permittunnel": "no",
    "permituserenvironment": "no",
    "loglevel": "VERBOSE",
    "port": "22",
}


@pytest.mark.parametrize(("keyword", "value"), sorted(HARDENED_SSH.items()))
def test_sshd_dropin_sets_hardened_value(init_build, keyword, value):
    build = init_build
    text = host_file(build, "srv1", "/etc/ssh/sshd_config.d/50-souverain.conf")
    assert directives(text)[keyword] == value


def test_sshd_dropin_offers_modern_algorithms_only(init_build):
    build = init_build
    found = directives(host_file(build, "srv1", "/etc/ssh/sshd_config.d/50-souverain.conf"))
    # Removal from the installed defaults: valid on OpenSSH 9.2 and 10, keeps ML-KEM on 10.
    assert found["kexalgorithms"] == "-ecdh-sha2-*,diffie-hellman-*"
    ciphers = found["ciphers"].split(",")
    assert ciphers and all("gcm" in c or "chacha20-poly1305" in c for c in ciphers)
    assert all("-etm@openssh.com" in mac for mac in found["macs"].split(","))
    assert "ssh-rsa" not in found["hostkeyalgorithms"].split(",")
    assert "ssh-rsa" not in found["pubkeyacceptedalgorithms"].split(",")


def test_sshd_port_follows_the_host(three_host_build):
    build = three_host_build
    data = directives(host_file(build, "data", "/etc/ssh/sshd_config.d/50-souverain.conf"))
    web = directives(host_file(build, "web", "/etc/ssh/sshd_config.d/50-souverain.conf"))
    assert (data["port"], web["port"]) == ("2222", "22")
    assert host_vars(build, "data")["base_ssh_port"] == 2222


def test_sshd_accepts_the_rendered_configuration(init_build, tmp_path):
    sshd = shutil.which("sshd") or next(
        (p for p in ("/usr/sbin/sshd",) if os.access(p, os.X_OK)), None
    )
    if sshd is None:
        pytest.skip("sshd is not installed on this machine (openssh-server); checked on lab hosts")
    if not Path("/run/sshd").is_dir():
        pytest.skip("sshd -t needs its privilege separation directory /run/sshd")
    build = init_build
    dropin = host_file(build, "srv1", "/etc/ssh/sshd_config.d/50-souverain.conf")
    key = tmp_path / "host_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    # Debian's own sshd_config after the drop-in, as its Include puts it; host keys swapped
    # for a throwaway one.
    dropin = re.sub(r"(?m)^HostKey .*$", f"HostKey {key}", dropin)
    full = tmp_path / "sshd_config"
    full.write_text(
        dropin
        + "\nKbdInteractiveAuthentication no\nUsePAM yes\nX11Forwarding yes\n"
        + "PrintMotd no\nAcceptEnv LANG LC_*\n"
    )
    checked = subprocess.run([sshd, "-T", "-f", str(full)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    effective = dict(line.split(" ", 1) for line in checked.stdout.splitlines() if " " in line)
    assert effective["x11forwarding"] == "no"
    assert effective["passwordauthentication"] == "no"
    assert "ecdh-sha2" not in effective["kexalgorithms"]
    assert "diffie-hellman" not in effective["kexalgorithms"]


# ---- firewall -----------------------------------------------------------------------------


def rules(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if " dport " in line]


def test_firewall_drops_by_default_and_admits_ssh_from_admin_networks(init_build):
    build = init_build
    text = host_file(build, "srv1", "/etc/nftables.conf")
    assert "type filter hook input priority filter; policy drop;" in text
    assert "type filter hook forward priority filter; policy drop;" in text
    assert 'iif "lo" accept' in text
    assert "ct state established,related accept" in text
    assert "elements = { 10.0.0.0/8 }" in text
    assert any(rule.startswith("ip saddr @admin_v4 tcp dport 22 accept") for rule in rules(text))
    # SSH is never open to everyone.
    assert not any(rule.startswith("tcp dport 22 ") for rule in rules(text))


def test_firewall_opens_the_ports_of_each_hosts_components(three_host_build):
    build = three_host_build

    def opened(host: str) -> set[tuple[str, int, str, tuple[str, ...]]]:
        return {
            (o["proto"], o["port"], o["from"], tuple(o.get("sources", ())))
            for o in host_vars(build, host)["base_firewall_openings"]
        }

    web, data, apps = opened("web"), opened("data"), opened("apps")
    assert web == {
        ("tcp", 22, "admin", ()),
        ("tcp", 80, "any", ()),
        ("tcp", 443, "any", ()),
        *{("tcp", port, "any", ()) for port in (25, 465, 587, 993)},
        *{(proto, port, "any", ()) for proto in ("tcp", "udp") for port in (3478, 5349)},
        ("udp", 10000, "any", ()),
    }
    # LDAPS for the hosts of its readers (mail and visio on web; chat and drive on apps; sso
    # is on data itself), PostgreSQL for chat and drive's host, the portal's web server for
    # the proxy's host.
    assert data == {
        ("tcp", 2222, "admin", ()),
        ("tcp", 636, "clients", ("192.0.2.10", "2001:db8::12")),
        ("tcp", 636, "admin", ()),
        ("tcp", 5432, "clients", ("2001:db8::12",)),
        ("tcp", 8443, "front", ("192.0.2.10",)),
    }
    # chat and drive are reached through the proxy, over TLS; redis only from its own host.
    assert apps == {("tcp", 22, "admin", ()), ("tcp", 8443, "front", ("192.0.2.10",))}

    web_rules = rules(host_file(build, "web", "/etc/nftables.conf"))
    assert "tcp dport 25 accept" in " ".join(web_rules)
    assert not any("5432" in rule or "636" in rule for rule in web_rules)
    data_text = host_file(build, "data", "/etc/nftables.conf")
    assert "ip6 saddr { 2001:db8::12 } tcp dport 5432 accept" in data_text
    assert "ip saddr { 192.0.2.10 } tcp dport 636 accept" in data_text
    assert "ip6 saddr { 2001:db8::12 } tcp dport 636 accept" in data_text
    assert "ip saddr { 192.0.2.10 } tcp dport 8443 accept" in data_text
    assert not any(re.search(r"^(tcp|udp) dport", rule) for rule in rules(data_text))
    assert "elements = { 192.0.2.10, 192.0.2.11 }" in data_text
    assert "elements = { 2001:db8::12 }" in data_text
    assert "elements = { 2001:db8:ad::/48 }" in data_text
    assert "6379" not in data_text


def nft_usable() -> str | None:
    if shutil.which("nft") is None:
        return "nft is not installed on this machine (apt-get install nftables)"
    if os.geteuid() != 0:
        return "nft -c needs root (it asks the kernel to check the rules)"
    return None


@pytest.mark.parametrize("suite_shape", ["init", "three-hosts"])
def test_nft_accepts_the_rendered_ruleset(request, suite_shape):
    reason = nft_usable()
    if reason:
        pytest.skip(reason)
    build = request.getfixturevalue("init_build" if suite_shape == "init" else "three_host_build")
    for host_dir in sorted((build / "hosts").iterdir()):
        path = host_dir / "files/etc/nftables.conf"
        checked = subprocess.run(["nft", "-c", "-f", str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, f"{host_dir.name}: {checked.stderr}"


# ---- time, logs, updates, kernel, hosts ---------------------------------------------------


def test_chrony_uses_the_suite_servers_only(three_host_build):
    build = three_host_build
    text = host_file(build, "web", "/etc/chrony/chrony.conf")
    sources = [line for line in text.splitlines() if re.match(r"^(server|pool|peer)\b", line)]
    assert sources == ["server ntp.internal.example iburst", "server 192.0.2.123 iburst"]
    assert "debian.pool" not in text
    assert not re.search(r"(?m)^(sourcedir|confdir)\b", text)
    assert re.search(r"(?m)^cmdport 0$", text)


def test_journald_keeps_the_declared_retention(three_host_build):
    build = three_host_build
    text = host_file(build, "data", "/etc/systemd/journald.conf.d/50-souverain.conf")
    lines = set(text.splitlines())
    assert {"[Journal]", "Storage=persistent", "MaxRetentionSec=400day", "SystemMaxUse=5G"} <= lines


@pytest.mark.parametrize("enabled", [True, False])
def test_unattended_upgrades_install_security_updates_only(tmp_path, enabled):
    def toggle(data) -> None:
        data["components"]["base"]["unattended_security_upgrades"] = enabled

    build = render_suite(tmp_path, toggle)
    periodic = host_file(build, "srv1", "/etc/apt/apt.conf.d/20auto-upgrades")
    value = '"1"' if enabled else '"0"'
    assert f"APT::Periodic::Unattended-Upgrade {value};" in periodic
    origins = host_file(build, "srv1", "/etc/apt/apt.conf.d/52souverain-unattended-upgrades")
    assert "#clear Unattended-Upgrade::Origins-Pattern;" in origins
    patterns = re.findall(r'^\s*"(origin=[^"]+)";', origins, re.MULTILINE)
    assert patterns == ["origin=Debian,codename=${distro_codename}-security,label=Debian-Security"]


SYSCTL = {
    "kernel.kptr_restrict": "2",
    "kernel.dmesg_restrict": "1",
    "kernel.yama.ptrace_scope": "1",
    "kernel.unprivileged_bpf_disabled": "1",
    "net.ipv4.conf.all.rp_filter": "1",
    "net.ipv4.conf.all.accept_redirects": "0",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.all.accept_source_route": "0",
    "net.ipv6.conf.all.accept_redirects": "0",
    "net.ipv6.conf.all.accept_source_route": "0",
    "fs.suid_dumpable": "0",
}


def test_sysctl_hardening(init_build):
    build = init_build
    text = host_file(build, "srv1", "/etc/sysctl.d/90-souverain.conf")
    values = dict(
        (key.strip(), value.strip())
        for key, _, value in (
            line.partition("=") for line in text.splitlines() if "=" in line and line[0] != "#"
        )
    )
    assert {key: values.get(key) for key in SYSCTL} == SYSCTL


def test_hosts_block_names_every_suite_host(three_host_build):
    build = three_host_build
    text = host_file(build, "apps", "/etc/hosts")
    assert "192.0.2.10 web.acme.internal web" in text
    assert "2001:db8::12 apps.acme.internal apps" in text


def test_every_template_says_it_is_generated(init_build):
    build = init_build
    for item in host_vars(build, "srv1")["base_files"]:
        if item["service"] in ("ca", "banner"):  # a certificate; the legal notice as written
            continue
        head = (build / item["src"]).read_text().splitlines()[:3]
        assert any("Generated by souverain" in line for line in head), item["dest"]
