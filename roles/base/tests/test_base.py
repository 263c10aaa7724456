"""testinfra checks of the base role: run by `souverain verify` against the hosts of the base
group (every host). They check behaviour where the host allows it: what sshd and nft actually
load, what apt and chrony actually read, which certificates the system trusts.

`souverain verify` exports SOUVERAIN_INVENTORY (the rendered inventory): the checks read the
host's expected firewall openings there, through souverain's reader of the build. Hosts
outside the base group are skipped. On a container sharing its host's kernel (the lab's
systemd-nspawn hosts) chronyd and auditd cannot run and kernel settings are read-only: those
checks are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from souverain.builddir import HOSTS_FILE, BuildDir, host_vars_file

CONTAINERS = {"systemd-nspawn", "lxc", "docker", "podman", "container"}


def _build() -> BuildDir | None:
    value = os.environ.get("SOUVERAIN_INVENTORY")
    return BuildDir.of_inventory(Path(value)) if value else None


def _name(host) -> str:
    return str(getattr(host.backend, "hostname", "") or host.backend.get_hostname())


def _host_vars(host) -> dict | None:
    build = _build()
    if build is None or not build.has(host_vars_file(_name(host))):
        return None
    return build.host_vars(_name(host))


@pytest.fixture(autouse=True)
def _only_base_hosts(host):
    build = _build()
    if build is None or not build.has(HOSTS_FILE):
        return
    if _name(host) not in build.inventory().groups.get("base", []):
        pytest.skip(f"{_name(host)} does not carry the base component")


def _container(host) -> str | None:
    """The container type when the host shares its kernel with another, else None."""
    found = host.run("systemd-detect-virt --container")
    kind = found.stdout.strip()
    return kind if found.rc == 0 and kind and kind != "none" else None


def _skip_in_container(host, what: str) -> None:
    kind = _container(host)
    if kind:
        pytest.skip(f"{what}: not possible in a {kind} container sharing its host's kernel")


# ---- packages -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "openssh-server",
        "nftables",
        "chrony",
        "auditd",
        "unattended-upgrades",
        "needrestart",
        "ca-certificates",
    ],
)
def test_package_is_installed(host, name):
    assert host.package(name).is_installed


# ---- SSH ----------------------------------------------------------------------------------


SSHD_EFFECTIVE = {
    "permitrootlogin": "without-password",  # sshd -T's spelling of prohibit-password
    "passwordauthentication": "no",
    "kbdinteractiveauthentication": "no",
    "permitemptypasswords": "no",
    "authenticationmethods": "publickey",
    "x11forwarding": "no",
    "allowtcpforwarding": "no",
    "allowagentforwarding": "no",
    "allowstreamlocalforwarding": "no",
    "disableforwarding": "yes",
    "permittunnel": "no",
    "permituserenvironment": "no",
    "hostbasedauthentication": "no",
    "ignorerhosts": "yes",
    "loglevel": "VERBOSE",
}


def _sshd_effective(host) -> dict[str, str]:
    output = host.check_output("/usr/sbin/sshd -T")
    return dict(line.split(" ", 1) for line in output.splitlines() if " " in line)


@pytest.mark.parametrize(("keyword", "value"), sorted(SSHD_EFFECTIVE.items()))
def test_sshd_runs_with_hardened_value(host, keyword, value):
    assert _sshd_effective(host)[keyword] == value


def test_sshd_configuration_checks(host):
    assert host.run("/usr/sbin/sshd -t").rc == 0


def test_sshd_offers_modern_algorithms_only(host):
    effective = _sshd_effective(host)
    kex = effective["kexalgorithms"].split(",")
    assert kex and not [k for k in kex if k.startswith(("ecdh-sha2", "diffie-hellman"))]
    assert "curve25519-sha256" in kex
    version = re.search(r"OpenSSH_(\d+)\.(\d+)", host.run("ssh -V").stderr)
    if version and (int(version[1]), int(version[2])) >= (9, 9):
        assert kex[0] == "mlkem768x25519-sha256"
    ciphers = effective["ciphers"].split(",")
    assert all(c.endswith("-gcm@openssh.com") or c.startswith("chacha20") for c in ciphers)
    assert all(mac.endswith("-etm@openssh.com") for mac in effective["macs"].split(","))
    assert "ssh-rsa" not in effective["hostkeyalgorithms"].split(",")


def test_sshd_is_running(host):
    ssh = host.service("ssh")
    assert ssh.is_enabled and ssh.is_running


# ---- firewall -----------------------------------------------------------------------------


def _input_chain(host) -> tuple[str, list[dict]]:
    """The policy of the souverain input chain and its rules, from the live ruleset."""
    data = json.loads(host.check_output("nft -j list table inet souverain"))["nftables"]
    chain = next(i["chain"] for i in data if "chain" in i and i["chain"]["name"] == "input")
    rules = [i["rule"] for i in data if "rule" in i and i["rule"]["chain"] == "input"]
    return chain["policy"], rules


def _accepted_ports(rules: list[dict]) -> set[tuple[str, int]]:
    ports = set()
    for rule in rules:
        expressions = rule["expr"]
        if not any("accept" in e for e in expressions):
            continue
        for e in expressions:
            match = e.get("match", {})
            left = match.get("left", {}).get("payload", {})
            if left.get("field") == "dport" and isinstance(match.get("right"), int):
                ports.add((left["protocol"], match["right"]))
    return ports


def test_firewall_drops_inbound_by_default(host):
    assert host.service("nftables").is_enabled
    policy, rules = _input_chain(host)
    assert policy == "drop"
    assert rules, "the input chain has no rules"


def test_firewall_opens_only_the_declared_ports(host):
    variables = _host_vars(host)
    if variables is None:
        pytest.skip("SOUVERAIN_INVENTORY is not set: run through `souverain verify`")
    expected = {(o["proto"], o["port"]) for o in variables["base_firewall_openings"]}
    expected.add(("udp", 546))  # DHCPv6 client replies, from link-local addresses only
    _, rules = _input_chain(host)
    assert _accepted_ports(rules) == expected


@pytest.mark.parametrize(("proto", "port"), [("tcp", 8080), ("tcp", 3306), ("udp", 53)])
def test_firewall_does_not_open_an_undeclared_port(host, proto, port):
    _, rules = _input_chain(host)
    assert (proto, port) not in _accepted_ports(rules)


def test_ssh_is_only_open_to_the_admin_networks(host):
    """SSH answers the admin networks, and the suite's hosts only where a component placed
    here publishes an opening on the SSH port from them (the backup repository host)."""
    variables = _host_vars(host) or {}
    port = variables.get("base_ssh_port", 22)
    allowed = [["@admin_v4"], ["@admin_v6"]]
    for opening in variables.get("base_firewall_openings", []):
        if opening["port"] == port and opening["from"] == "suite":
            allowed += [["@suite_v4"], ["@suite_v6"]]
    _, rules = _input_chain(host)
    ssh_rules = [r for r in rules if ("tcp", port) in _accepted_ports([r])]
    assert ssh_rules
    for rule in ssh_rules:
        sources = [
            e["match"]["right"]
            for e in rule["expr"]
            if e.get("match", {}).get("left", {}).get("payload", {}).get("field") == "saddr"
        ]
        assert sources in allowed, rule


# ---- time, audit, logs, updates, kernel ---------------------------------------------------


def test_chrony_reads_only_the_suite_servers(host):
    config = host.check_output("chronyd -p -f /etc/chrony/chrony.conf")
    sources = [line for line in config.splitlines() if re.match(r"(server|pool|peer) ", line)]
    assert sources and all(line.startswith("server ") for line in sources)
    assert "pool.ntp.org" not in config
    variables = _host_vars(host)
    build = _build()
    if variables is not None and build is not None:
        rendered = next(f for f in variables["base_files"] if f["service"] == "chrony")
        wanted = re.findall(r"(?m)^server (\S+)", (build.root / rendered["src"]).read_text())
        assert [line.split()[1] for line in sources] == wanted


def test_chrony_is_running(host):
    _skip_in_container(host, "chronyd needs CAP_SYS_TIME")
    assert host.service("chrony").is_running
    assert host.run("chronyc -n sources").rc == 0


def test_audit_rules_are_installed(host):
    rules = host.file("/etc/audit/rules.d/50-souverain.rules")
    assert rules.exists and rules.mode == 0o640
    assert "-k identity" in rules.content_string


def test_auditd_enforces_the_rules(host):
    _skip_in_container(host, "auditd needs the kernel's audit interface")
    assert host.service("auditd").is_running
    loaded = host.check_output("auditctl -l")
    assert "identity" in loaded and "sshd" in loaded


def test_journal_is_persistent_with_retention(host):
    config = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    settings = dict(
        line.split("=", 1) for line in config.splitlines() if "=" in line and line[0] != "#"
    )
    assert settings.get("Storage") == "persistent"
    assert re.fullmatch(r"\d+day", settings.get("MaxRetentionSec", ""))
    assert re.fullmatch(r"\d+[KMG]", settings.get("SystemMaxUse", ""))
    machine = host.file("/etc/machine-id").content_string.strip()
    assert host.file(f"/var/log/journal/{machine}").is_directory
    assert host.run(f"ls /var/log/journal/{machine}/system.journal").rc == 0


def test_automatic_updates_install_security_updates_only(host):
    dump = host.check_output("apt-config dump Unattended-Upgrade::Origins-Pattern")
    patterns = re.findall(r'Origins-Pattern:: "([^"]+)"', dump)
    assert patterns == ["origin=Debian,codename=${distro_codename}-security,label=Debian-Security"]
    periodic = host.check_output("apt-config dump APT::Periodic")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in periodic
    assert host.service("apt-daily-upgrade.timer").is_enabled


def test_security_updates_have_a_source_that_delivers_them(host):
    """The origin unattended-upgrades allows is one that apt has really fetched lists from."""
    policy = host.check_output("apt-cache policy")
    codename = host.check_output(". /etc/os-release && echo $VERSION_CODENAME")
    assert f"n={codename}-security,l=Debian-Security" in policy
    assert f"n={codename}-updates," in policy
    # A security update the archive lists right now is one unattended-upgrades would take:
    # the simulation finds its origin allowed (nothing to do on an up-to-date host is fine).
    dry = host.run("unattended-upgrade --dry-run --debug 2>&1")
    assert dry.rc == 0, dry.stdout
    assert "Allowed origins are: origin=Debian,codename=" in dry.stdout


def test_needrestart_lists_without_restarting(host):
    listing = host.run("needrestart -b -r l")
    assert listing.rc == 0, listing.stderr
    assert "NEEDRESTART-VER:" in listing.stdout
    conf = "/etc/needrestart/conf.d/50-souverain.conf"
    mode = host.check_output(f"perl -e 'our %nrconf; do \"{conf}\"; print $nrconf{{restart}}'")
    assert mode == "l"


KERNEL = {
    "kernel.kptr_restrict": "2",
    "kernel.dmesg_restrict": "1",
    "kernel.yama.ptrace_scope": "1",
    "kernel.unprivileged_bpf_disabled": "1",
    "net.ipv4.conf.all.rp_filter": "1",
    "net.ipv4.conf.all.accept_redirects": "0",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.all.accept_source_route": "0",
    "net.ipv6.conf.all.accept_redirects": "0",
    "fs.suid_dumpable": "0",
}


@pytest.mark.parametrize(("key", "value"), sorted(KERNEL.items()))
def test_kernel_setting_is_written(host, key, value):
    content = host.file("/etc/sysctl.d/90-souverain.conf").content_string
    assert re.search(rf"(?m)^{re.escape(key)} = {value}$", content)


@pytest.mark.parametrize(("key", "value"), sorted(KERNEL.items()))
def test_kernel_setting_is_live(host, key, value):
    _skip_in_container(host, "the kernel settings belong to the host's kernel, read-only here")
    assert host.sysctl(key) == int(value)


# ---- names, time zone, trust --------------------------------------------------------------


def test_suite_hosts_resolve(host):
    block = host.file("/etc/hosts").content_string
    names = re.findall(r"^\S+ (\S+\.internal) ", block, re.MULTILINE)
    assert names, "no suite host in /etc/hosts"
    for name in names:
        assert host.run(f"getent hosts {name}").rc == 0


def test_time_zone_is_set(host):
    assert host.file("/etc/localtime").is_symlink
    assert host.file("/etc/localtime").linked_to.startswith("/usr/share/zoneinfo/")


def test_extra_cas_are_trusted(host):
    listed = host.run("ls /usr/local/share/ca-certificates/").stdout.split()
    extras = [name for name in listed if name.startswith("souverain-extra-")]
    if not extras:
        pytest.skip("suite.yml lists no extra CA (trust.extra_ca)")
    for name in extras:
        path = f"/usr/local/share/ca-certificates/{name}"
        # Verified against the system store alone: it passes only if the CA is in it.
        assert host.run(f"openssl verify -CApath /etc/ssl/certs {path}").rc == 0, name


# ---- ANSSI-BP-028 measures (rules OS-13 to OS-20) -----------------------------------------


def test_login_shells_create_files_unreadable_by_others(host):
    created = host.run("bash -lc 'd=$(mktemp -d); touch $d/f; stat -c %a $d/f; rm -r $d; umask'")
    assert created.rc == 0, created.stderr
    mode, mask = created.stdout.split()
    assert (mode, mask) == ("640", "0027")


def test_sessions_cannot_dump_core(host):
    assert host.check_output("ulimit -Hc") == "0"
    assert host.check_output("bash -c 'ulimit -c unlimited 2>/dev/null || echo refused'") in (
        "refused",
        "",
    )


@pytest.mark.parametrize("module", ["usb-storage", "firewire-core", "dccp", "sctp", "rds", "tipc"])
def test_unused_kernel_modules_cannot_load(host, module):
    # Dry run: modprobe resolves the module's install command without loading anything.
    # With the install rule, a load runs /bin/false and fails, wherever the module exists.
    config = host.check_output("modprobe --showconfig")
    # modprobe spells module names with underscores.
    assert f"install {module.replace('-', '_')} /bin/false" in config.splitlines()
    _skip_in_container(host, "loading a kernel module")
    assert host.run(f"modprobe {module}").rc != 0


def _probe_account(host, probe: str) -> str:
    """A local account created on copies of the account files under probe (--prefix): the
    host's own accounts, and the integrity database that covers them, stay untouched."""
    user = "souverain-probe"
    host.check_output(
        f"mkdir {probe}/etc && cp -a /etc/passwd /etc/shadow /etc/group /etc/gshadow "
        f"/etc/login.defs {probe}/etc/"
    )
    assert host.run(f"useradd --prefix {probe} --shell /usr/sbin/nologin {user}").rc == 0
    return user


def test_new_local_accounts_age(host):
    probe = host.check_output("mktemp -d")
    try:
        user = _probe_account(host, probe)
        # Minimum, maximum and warning days useradd took from login.defs (read from the
        # shadow entry: Debian 12's chage has no --prefix).
        entry = host.check_output(f"grep '^{user}:' {probe}/etc/shadow").split(":")
        assert (entry[3], entry[4], entry[5]) == ("1", "365", "14")
    finally:
        host.run(f"rm -rf {probe}")


def test_sha512_password_hashes_take_many_rounds(host):
    if "--prefix" not in host.run("chpasswd --help").stdout:
        pytest.skip("this chpasswd (Debian 12) cannot work on copies of the account files")
    probe = host.check_output("mktemp -d")
    try:
        user = _probe_account(host, probe)
        # chpasswd -c SHA512 takes its rounds from login.defs (SHA_CRYPT_*_ROUNDS).
        done = host.run(f"echo '{user}:Probe-Only-0' | chpasswd --prefix {probe} -c SHA512")
        assert done.rc == 0, done.stderr
        stored = host.check_output(f"grep '^{user}:' {probe}/etc/shadow").split(":")[1]
        assert stored.startswith("$6$rounds=65536$"), stored[:20]
    finally:
        host.run(f"rm -rf {probe}")


def test_ssh_shows_the_legal_banner_before_authentication(host):
    banner = host.file("/etc/issue.net").content_string
    assert banner.strip()
    effective = host.check_output("sshd -T")
    assert "banner /etc/issue.net" in effective.splitlines()
    # What a client receives before it authenticates: the server's banner, from a client
    # that offers no key and only asks for the none method.
    seen = host.run(
        "ssh -o BatchMode=yes -o PreferredAuthentications=none -o StrictHostKeyChecking=no "
        "-o UserKnownHostsFile=/dev/null -p $(sshd -T | awk '/^port /{print $2; exit}') "
        "nobody@127.0.0.1 true 2>&1; true"
    )
    # The client escapes the banner's non-ASCII bytes on a terminal without UTF-8: compare an
    # ASCII stretch of each line.
    for line in banner.strip().splitlines():
        stretch = max(re.findall(r"[ -~]+", line), key=len)
        assert stretch in seen.stdout


def test_process_accounting_is_on(host):
    assert host.service("acct").is_enabled
    _skip_in_container(host, "process accounting (CAP_SYS_PACCT)")
    assert host.service("acct").is_running
    assert host.file("/var/log/account/pacct").exists


def test_file_integrity_database_matches_the_deployed_files(host):
    assert host.file("/var/lib/aide/aide.db").exists
    assert host.service("dailyaidecheck.timer").is_enabled
    # The deploy wrote the baseline last: nothing has drifted since.
    check = host.run("aide --config /etc/aide/aide.conf --check")
    assert check.rc == 0, check.stdout[-2000:]
    # One SHA-2 hash per file, not Debian's dozen (a pass takes seconds, not a minute).
    checksums = host.check_output("grep -E '^Checksums[[:space:]]*=' /etc/aide/aide.conf")
    assert checksums.split("=", 1)[1].split() == ["sha512"], checksums


def test_each_session_gets_a_private_temporary_directory(host):
    tmp = host.check_output("bash -lc 'echo $TMPDIR'")
    assert tmp.startswith("/tmp/user/")
    assert host.file(tmp).mode == 0o700


def test_each_tenant_has_its_record_readable_by_root_only(host):
    """/etc/souverain/tenants/<id>.json: what the tenant has on this host, for every tenant of
    the suite (what taking a tenant away reads once it has left suite.yml)."""
    directory = host.file("/etc/souverain/tenants")
    assert directory.is_directory and directory.mode == 0o700 and directory.user == "root"
    host_vars = _host_vars(host)
    if host_vars is None:
        return
    expected = {
        entry["tenant"] for entry in host_vars["base_files"] if entry["service"] == "tenants"
    }
    assert expected, "the build lists no tenant record for this host"
    for tenant in sorted(expected):
        record = host.file(f"/etc/souverain/tenants/{tenant}.json")
        assert record.mode == 0o600 and record.user == "root", tenant
        content = json.loads(host.check_output(f"cat /etc/souverain/tenants/{tenant}.json"))
        assert content["tenant"] == tenant and content["host"] == _name(host)
