"""verify: hosts and ssh_config from the inventory, JUnit results per host, suites per role."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from souverain.verify.junit import case_host, merge_junit, results_from_junit
from souverain.verify.run import role_suites
from souverain.verify.targets import read_targets, ssh_config, ssh_options

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


def test_targets_and_ssh_config(tmp_path):
    (tmp_path / "hosts.yml").write_text(json.dumps(INVENTORY))
    targets, groups = read_targets(tmp_path)
    assert groups["proxy"] == ["web-10"] and groups["mail"] == []
    web1 = targets["web-1"]
    assert (web1.address, web1.port, web1.user, web1.needs_sudo) == (
        "10.0.0.11",
        2222,
        "admin",
        True,
    )
    config = ssh_config(list(targets.values()), tmp_path)
    assert "Host web-1\n  HostName 10.0.0.11\n  Port 2222\n  User admin" in config
    assert "  IdentityFile /keys/id_ed25519" in config
    assert "  StrictHostKeyChecking yes" in config
    assert "  UserKnownHostsFile /keys/known_hosts" in config


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
