"""verify: hosts and ssh_config from the inventory, JUnit results per host, suites per role."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from souverain.builddir import BuildDir
from souverain.cli.cmd_verify import _closing_line, _skip_lines
from souverain.errors import EXIT_DEPLOY_FAILED, VerifyError
from souverain.hostaccess import host_access, needs_sudo, ssh_config, ssh_options
from souverain.verify.junit import case_host, merge_junit, results_from_junit
from souverain.verify.run import VerifyOutcome, role_suites, verify_inventory

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
    plan = role_suites(groups, tmp_path)
    assert [(s.component, s.hosts) for s in plan.suites] == [("base", ["h1", "h2"])]
    assert plan.not_deployed == {"mail": "not deployed: no role"}
    assert plan.untested == {"proxy": "deployed, but its role has no testinfra tests"}
    # A deployed component without tests is not checked: verify fails.
    outcome = VerifyOutcome([], plan.not_deployed, plan.untested)
    assert not outcome.ok
    assert outcome.summary()["untested"] == plan.untested
    assert "no tests for proxy" in _closing_line(outcome)


# Every way a testinfra case ends, as pytest itself writes it to JUnit XML.
SUITE = """
import pytest

@pytest.fixture(params=["ssh://web-1", "ssh://web-2"])
def host(request):
    return request.param

def test_sshd(host):
    if host.endswith("web-2"):
        pytest.skip("sshd: not possible in a container")

def test_chrony(host):
    pytest.skip("chrony: not possible in a container")

def test_jitsi(host):
    if host.endswith("web-2"):
        pytest.skip("expected: Jitsi Meet is not installed: no package")
    assert host.endswith("web-1")
"""


def junit_of(tmp_path, source: str) -> Path:
    (tmp_path / "test_suite.py").write_text(source)
    junit = tmp_path / "out.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o",
         "junit_family=xunit2", f"--junitxml={junit}", str(tmp_path / "test_suite.py")],
        capture_output=True, check=False, cwd=tmp_path,
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )  # fmt: skip
    return junit


def test_a_host_where_every_check_skipped_is_not_checked_and_fails_verify(tmp_path):
    results = results_from_junit(junit_of(tmp_path, SUITE), "base", ["web-1", "web-2"])
    web1, web2 = results["web-1"], results["web-2"]
    assert (web1.verdict, web1.passed, web1.skipped) == ("passed", 2, 1)
    assert (web2.verdict, web2.passed, web2.skipped) == ("not_checked", 0, 3)
    assert not web2.expected  # two of its skips are not declared by the deployment
    assert web2.why_not_checked == (
        "sshd: not possible in a container; chrony: not possible in a container; "
        "expected: Jitsi Meet is not installed: no package"
    )
    outcome = VerifyOutcome(list(results.values()))
    assert not outcome.ok
    summary = outcome.summary()
    assert summary["not_checked"] == [
        {"host": "web-2", "component": "base", "reason": web2.why_not_checked}
    ]
    # Every skip is in the JSON with its reason, on passed hosts too.
    [web1_json, web2_json] = summary["results"]
    assert web1_json["skips"] == [
        {"test": "test_chrony[ssh://web-1]", "reason": "chrony: not possible in a container",
         "expected": False}
    ]  # fmt: skip
    assert [s["reason"] for s in web2_json["skips"]] == [
        "sshd: not possible in a container",
        "chrony: not possible in a container",
        "expected: Jitsi Meet is not installed: no package",
    ]
    assert web2_json["result"] == "not_checked"
    assert "nothing was checked for base on web-2" in _closing_line(outcome)
    lines = _skip_lines(web1)
    assert lines == [
        "SKIPPED web-1 | base | chrony: not possible in a container [test_chrony[ssh://web-1]]"
    ]


def test_skips_the_deployment_declared_are_reported_but_do_not_fail(tmp_path):
    declared = """
import pytest

@pytest.fixture(params=["ssh://web-1"])
def host(request):
    return request.param

@pytest.mark.parametrize("service", ["jicofo", "jitsi-videobridge2"])
def test_jitsi(host, service):
    pytest.skip("expected: Jitsi Meet is not installed: no package")
"""
    results = results_from_junit(junit_of(tmp_path, declared), "visio", ["web-1"])
    web1 = results["web-1"]
    assert (web1.verdict, web1.expected) == ("not_checked", True)
    outcome = VerifyOutcome([web1])
    assert outcome.ok
    summary = outcome.summary()
    assert summary["not_checked"] == []
    assert summary["expected_not_checked"] == [
        {"host": "web-1", "component": "visio",
         "reason": "expected: Jitsi Meet is not installed: no package"}
    ]  # fmt: skip
    assert _closing_line(outcome) == (
        "[green]all checks that ran passed[/] (2 skipped, each listed above with its reason); "
        "not checked, as the deployment declares: visio on web-1"
    )
    [line] = _skip_lines(web1)
    assert line.startswith("SKIPPED (expected) web-1 | visio | expected: Jitsi Meet")
    assert line.endswith(
        "[test_jitsi[ssh://web-1-jicofo], test_jitsi[ssh://web-1-jitsi-videobridge2]]"
    )


def test_a_suite_that_ran_no_test_checked_nothing(tmp_path):
    results = results_from_junit(junit_of(tmp_path, "X = 1\n"), "mail", ["web-1"])
    assert results["web-1"].verdict == "not_checked"
    assert results["web-1"].why_not_checked == "no test ran on this host"
    assert not VerifyOutcome(list(results.values())).ok
