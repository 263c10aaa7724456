"""Pure parts of the lab: image key, NAT rules, known_hosts, resolver, hosts file, CLI help."""

from __future__ import annotations

import ipaddress

import pytest
from click.testing import CliRunner

from souverain.errors import LabRefused
from souverain.lab import image, network, rootfs, ssh


def test_image_key_follows_release_packages_and_mirror():
    base = image.ImageSpec("trixie")
    assert base.key == image.ImageSpec("trixie").key
    assert base.key.startswith("trixie-")
    assert base.key != image.ImageSpec("bookworm").key
    assert base.key != image.ImageSpec("trixie", packages=(*image.PACKAGES, "vim")).key
    assert base.key != image.ImageSpec("trixie", mirror="http://mirror.internal/debian").key
    reordered = image.ImageSpec("trixie", packages=tuple(reversed(image.PACKAGES)))
    assert reordered.key == base.key


def test_debootstrap_command_line_is_minbase_with_what_ansible_needs(tmp_path):
    argv = image.ImageSpec("trixie").debootstrap_argv(tmp_path)
    assert argv[:2] == ["debootstrap", "--variant=minbase"]
    included = argv[2].removeprefix("--include=").split(",")
    for package in ("systemd-sysv", "openssh-server", "python3", "python3-apt"):
        assert package in included
    assert argv[-2:] == ["trixie", str(tmp_path)]


def test_unknown_release_is_refused():
    with pytest.raises(LabRefused):
        image.spec_for("sid")


def test_an_image_without_its_marker_is_not_cached(tmp_path):
    spec = image.ImageSpec("trixie")
    (tmp_path / spec.key).mkdir()
    assert not image.is_cached(spec, tmp_path)
    (tmp_path / spec.key / image.MARKER).write_text("{}")
    assert image.is_cached(spec, tmp_path)


def test_a_prepared_image_has_no_identity_and_keeps_user_managers(tmp_path):
    (tmp_path / "etc/ssh").mkdir(parents=True)
    (tmp_path / "etc/ssh/ssh_host_ed25519_key").write_text("secret")
    (tmp_path / "etc/machine-id").write_text("0123")
    (tmp_path / "var/cache/apt/archives").mkdir(parents=True)
    (tmp_path / "var/cache/apt/archives/x.deb").write_text("")
    image._prepare(tmp_path)
    assert not list((tmp_path / "etc/ssh").iterdir())
    assert (tmp_path / "etc/machine-id").read_text() == ""
    assert not list((tmp_path / "var/cache/apt/archives").glob("*.deb"))
    logind = (tmp_path / "etc/systemd/logind.conf.d/50-souverain-lab.conf").read_text()
    assert "UserStopDelaySec=infinity" in logind.splitlines()


def test_nat_rules_masquerade_only_what_leaves_the_lab():
    rules = network.nat_ruleset("svl_demo", ipaddress.IPv4Network("10.231.5.0/24"), "svl-demo")
    assert "table ip svl_demo" in rules
    assert "ip saddr 10.231.5.0/24 ip daddr != 10.231.5.0/24 masquerade" in rules
    assert 'iifname "svl-demo" accept' in rules


def test_known_hosts_lines_cover_every_name_and_key_type():
    keys = {"ed25519": "ssh-ed25519 AAAA1", "ecdsa": "ecdsa-sha2-nistp256 AAAA2",
            "rsa": "ssh-rsa AAAA3"}  # fmt: skip
    lines = ssh.known_hosts_lines(["10.231.5.11", "host1"], keys)
    assert lines[0] == "10.231.5.11,host1 ssh-ed25519 AAAA1"
    assert len(lines) == 3


def test_ssh_command_checks_host_keys_strictly(tmp_path):
    access = ssh.SshAccess(key=tmp_path / "id", known_hosts=tmp_path / "kh")
    argv = access.argv("10.231.5.11", ["true"])
    assert "StrictHostKeyChecking=yes" in argv
    assert f"UserKnownHostsFile={tmp_path / 'kh'}" in argv
    assert argv[-3:] == ["root@10.231.5.11", "--", "true"]


def test_a_loopback_resolver_is_replaced_by_its_upstream(monkeypatch, tmp_path):
    stub = tmp_path / "resolv.conf"
    upstream = tmp_path / "upstream.conf"
    stub.write_text("nameserver 127.0.0.53\n")
    upstream.write_text("nameserver 10.1.2.3\n")
    monkeypatch.setattr(rootfs, "CONTROLLER_RESOLV_CONF", stub)
    monkeypatch.setattr(rootfs, "RESOLVED_UPSTREAM", upstream)
    assert rootfs.controller_resolv_conf() == "nameserver 10.1.2.3\n"
    stub.write_text("nameserver 10.9.9.9\n")
    assert rootfs.controller_resolv_conf() == "nameserver 10.9.9.9\n"


def test_hosts_file_names_every_lab_host():
    text = rootfs.hosts_file([("10.231.5.11", "host1.demo.lab.test", "host1")])
    assert "10.231.5.11\thost1.demo.lab.test host1\n" in text
    assert text.startswith("127.0.0.1\tlocalhost\n")


@pytest.mark.parametrize("command", [[], ["up"], ["down"], ["status"], ["ssh"]])
def test_every_lab_command_has_help(command):
    from souverain.cli import cli

    result = CliRunner().invoke(cli, ["lab", *command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_lab_refuses_when_not_root(monkeypatch):
    from souverain.cli import cli
    from souverain.lab import checks

    monkeypatch.setattr(checks.os, "geteuid", lambda: 1000)
    result = CliRunner().invoke(cli, ["lab", "up", "--name", "x"])
    assert isinstance(result.exception, LabRefused)
    assert result.exception.exit_code == 2


def test_lab_name_comes_from_option_then_directory_then_the_only_lab(monkeypatch, tmp_path):
    from souverain.deployment import Deployment
    from souverain.lab import deploydir, manager

    monkeypatch.setattr(manager.st, "known_labs", lambda: ["solo"])
    assert manager.resolve_name("given", tmp_path) == "given"
    assert manager.resolve_name(None, tmp_path) == "solo"
    deploydir.write_lab_record(Deployment.at(tmp_path), _lab_named("mine"))
    assert manager.resolve_name(None, tmp_path) == "mine"
    monkeypatch.setattr(manager.st, "known_labs", lambda: ["a", "b"])
    with pytest.raises(LabRefused, match="several labs"):
        manager.resolve_name(None, tmp_path / "elsewhere")


def _lab_named(name: str):
    from souverain.lab.state import LabState

    return LabState(name=name, subnet="10.231.5.0/24", gateway="10.231.5.1", bridge=f"svl-{name}",
                    nft_table=f"svl_{name}", release="trixie", image="", directory="",
                    domain=f"{name}.lab.test")  # fmt: skip


def test_a_replaced_host_has_only_its_new_keys_in_known_hosts(tmp_path):
    from souverain.deployment import Deployment
    from souverain.lab import deploydir, manager

    deployment = Deployment.at(tmp_path)
    deployment.lab_dir.mkdir(parents=True)
    first = ["10.0.0.11", "host1", "host1.x.lab.test"]
    second = ["10.0.0.12", "host2", "host2.x.lab.test"]
    old = ssh.known_hosts_lines(first, {t: f"{t} OLD1" for t in ssh.HOST_KEY_TYPES})
    kept = ssh.known_hosts_lines(second, {t: f"{t} KEPT" for t in ssh.HOST_KEY_TYPES})
    deploydir.write_known_hosts(deployment, old + kept)
    new = ssh.known_hosts_lines(first, {t: f"{t} NEW1" for t in ssh.HOST_KEY_TYPES})
    manager._replace_known_hosts(deployment, first, new)
    lines = (deployment.lab_dir / ssh.KNOWN_HOSTS_NAME).read_text().splitlines()
    assert sorted(lines) == sorted(kept + new)
