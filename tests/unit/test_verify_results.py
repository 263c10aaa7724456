"""verify: hosts and ssh_config from the inventory, JUnit results per host, suites per role."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from souverain.builddir import BuildDir
from souverain.errors import EXIT_DEPLOY_FAILED, VerifyError
from souverain.hostaccess import host_access, needs_sudo, ssh_config, ssh_options
from souverain.verify.junit import case_host, merge_junit, results_from_junit
from souverain.verify.run import role_suites, verify_inventory

INVENTORY = {
    "all": {
        "hosts": {
            "web-1": {
                "ansible_host": "10.0.0.11",
                "ansible_port": 2222,
                "ansible_user": "admin",
                "ansible_ssh_private_key_file": "/keys/id_ed25519",
                "ansible_ssh_common_args": "-o UserKnownHostsFile=/keys/known_hosts "
                "-o StrictHostKeyChecking=yes",
            },
            "web-10": {"ansible_host": "10.0.0.12", "ansible_port": 22, "ansible_user": "root"},
        },
        "children": {
            "base": {"hosts": {"web-1": None, "web-10": None}},
            "proxy": {"hosts": {"web-10": None}},
            "mail": {"hosts": {}},
        },
    }
}


def write_inventory(build: BuildDir) -> None:
    build.inventory_dir.mkdir(parents=True)
    (build.inventory_dir / "hosts.yml").write_text(json.dumps(INVENTORY))


def test_targets_and_ssh_config(tmp_path):
    build = BuildDir(tmp_path)
    write_inventory(build)
    inventory = verify_inventory(build)
    assert inventory.groups["proxy"] == ["web-10"] and inventory.groups["mail"] == []
    web1 = inventory.hosts["web-1"]
    assert (web1.address, web1.port, web1.user, needs_sudo(web1)) == (
        "10.0.0.11",
        2222,
        "admin",
        True,
    )
    config = ssh_config(inventory.hosts.values(), tmp_path)
    assert "Host web-1\n  HostName 10.0.0.11\n  Port 2222\n  User admin" in config
    assert "  IdentityFile /keys/id_ed25519" in config
    assert "  StrictHostKeyChecking yes" in config
    assert "  UserKnownHostsFile /keys/known_hosts" in config


def test_verify_without_an_inventory_says_to_render(tmp_path):
    with pytest.raises(VerifyError) as raised:
        verify_inventory(BuildDir(tmp_path))
    assert raised.value.message.startswith(
        f"cannot read the inventory {tmp_path / 'inventory' / 'hosts.yml'}: "
    )
    assert raised.value.hint == "Run `souverain render` (or `souverain deploy`) first."
    assert raised.value.exit_code == EXIT_DEPLOY_FAILED


def test_suites_and_audit_reach_hosts_through_one_ssh_config(tmp_path):
    build = BuildDir(tmp_path)
    write_inventory(build)
    inventory = build.inventory()
    with host_access(inventory.hosts.values()) as access:
        config = access.config_file
        assert config.read_text() == ssh_config(inventory.hosts.values(), config.parent)
        assert access.pytest_options(["web-10"]) == [
            "--hosts=ssh://web-10",
            f"--ssh-config={config}",
        ]
        assert access.pytest_options(["web-1", "web-10"])[-1] == "--sudo"
        host = access.testinfra_host("web-1")
        assert (host.backend.host.name, host.backend.ssh_config) == ("web-1", str(config))
        assert host.backend.sudo
    assert not config.exists()


def test_ssh_options_forms():
    assert ssh_options("-o A=1 -oB=2 -C -o 'C=x y'") == {"A": "1", "B": "2", "C": "x y"}


def test_case_host_prefers_the_longest_name():
    hosts = ["web-1", "web-10"]
    assert case_host("test_port[ssh://web-10-443]", hosts) == "web-10"
    assert case_host("test_port[ssh://web-1-443]", hosts) == "web-1"
    assert case_host("test_ok[ssh://web-1]", hosts) == "web-1"
    assert case_host("test_static", hosts) is None


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="4">
<testcase classname="test_base" name="test_sshd[ssh://web-1]"/>
<testcase classname="test_base" name="test_sshd[ssh://web-10]">
  <failure message="AssertionError: X11Forwarding yes">long trace</failure></testcase>
<testcase classname="test_base" name="test_ntp[ssh://web-10]"><skipped message="no"/></testcase>
<testcase classname="test_base" name="test_port[ssh://web-1-22]"/>
</testsuite></testsuites>"""


def test_results_per_host(tmp_path):
    path = tmp_path / "base.xml"
    path.write_text(JUNIT)
    results = results_from_junit(path, "base", ["web-1", "web-10"])
    assert (results["web-1"].passed, results["web-1"].failed, results["web-1"].verdict) == (
        2,
        0,
        "passed",
    )
    web10 = results["web-10"]
    assert (web10.failed, web10.skipped, web10.verdict) == (1, 1, "failed")
    assert web10.failures[0].message == "AssertionError: X11Forwarding yes"
    merged = tmp_path / "out" / "verify.xml"
    merge_junit({"base": path, "proxy": path}, merged)
    names = [suite.get("name") for suite in ET.parse(merged).getroot()]
    assert names == ["base", "proxy"]


def test_role_suites_only_for_hosts_carrying_the_component(tmp_path):
    for role, tests in (("base", True), ("proxy", False)):
        (tmp_path / role / "tasks").mkdir(parents=True)
        (tmp_path / role / "tests").mkdir()
        if tests:
            (tmp_path / role / "tests" / "test_base.py").write_text("")
    for order, name in enumerate(["base", "proxy", "mail", "chat"]):
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / "component.yml").write_text(f"description: {name}\norder: {order}\n")
    groups = {"base": ["h1", "h2"], "proxy": ["h1"], "mail": ["h2"], "chat": []}
    suites, missing = role_suites(groups, tmp_path)
    assert [(s.component, s.hosts) for s in suites] == [("base", ["h1", "h2"])]
    assert missing == {"proxy": "no testinfra tests in the role", "mail": "not deployed: no role"}
