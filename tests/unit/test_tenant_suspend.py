"""`souverain tenant suspend/resume`: suite.yml's flag, and what the render makes of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from souverain.cli.cmd_tenant import SUSPENSION_TAGS


@pytest.fixture
def two_tenants(souverain, deployment_dir: Path) -> Path:
    """The scaffolded suite with a second tenant, beta, added as a hoster would."""
    added = souverain(
        "-C", str(deployment_dir), "tenant", "add", "beta", "--domain", "beta.example.org"
    )
    assert added.code == 0, added.err
    return deployment_dir


def build_file(deployment: Path, dest: str) -> str:
    [path] = deployment.glob(f"build/hosts/*/files{dest}")
    return path.read_text()


def test_suspend_then_resume_gives_suite_yml_back_byte_for_byte(souverain, two_tenants: Path):
    suite_file = two_tenants / "suite.yml"
    before = suite_file.read_bytes()
    suspended = souverain("-C", str(two_tenants), "tenant", "suspend", "beta")
    assert suspended.code == 0, suspended.err
    assert f"souverain deploy --tags {SUSPENSION_TAGS}" in suspended.out
    after = suite_file.read_text()
    assert after.count("suspended: true") == 1
    shown = souverain("-C", str(two_tenants), "tenant", "show", "beta", "--json")
    assert json.loads(shown.out)["suspended"] is True
    text = souverain("-C", str(two_tenants), "tenant", "list").out.splitlines()
    assert [line.endswith("(suspended)") for line in text] == [False, True]
    listed = json.loads(souverain("-C", str(two_tenants), "tenant", "list", "--json").out)
    assert [row["suspended"] for row in listed["tenants"]] == [False, True]
    again = souverain("-C", str(two_tenants), "tenant", "suspend", "beta", "--json")
    assert again.code == 0 and json.loads(again.out)["changed"] is False
    assert suite_file.read_text() == after
    resumed = souverain("-C", str(two_tenants), "tenant", "resume", "beta", "--json")
    assert resumed.code == 0, resumed.err
    assert json.loads(resumed.out) | {"file": None} == {
        "ok": True, "tenant": "beta", "state": "active", "changed": True, "written": True,
        "file": None,
    }  # fmt: skip
    assert suite_file.read_bytes() == before


def test_dry_run_writes_nothing_and_an_unknown_tenant_is_a_usage_error(souverain, two_tenants):
    suite_file = two_tenants / "suite.yml"
    before = suite_file.read_bytes()
    dry = souverain("-C", str(two_tenants), "tenant", "suspend", "beta", "--dry-run")
    assert dry.code == 0 and "nothing was written" in dry.out
    unknown = souverain("-C", str(two_tenants), "tenant", "suspend", "betta")
    assert unknown.code == 2
    assert "unknown tenant 'betta'" in unknown.err and "did you mean 'beta'" in unknown.err
    assert suite_file.read_bytes() == before


def test_a_suspended_tenant_renders_closed_everywhere_and_the_other_stays_open(
    souverain, two_tenants: Path
):
    assert souverain("-C", str(two_tenants), "render").code == 0
    open_ldif = build_file(two_tenants, "/etc/ldap/souverain/config.ldif")
    assert souverain("-C", str(two_tenants), "tenant", "suspend", "beta").code == 0
    rendered = souverain("-C", str(two_tenants), "render")
    assert rendered.code == 0, rendered.err

    vhost = build_file(two_tenants, "/etc/nginx/sites-available/souverain-tenant-beta.conf")
    servers = [block for block in vhost.split("server {")[1:] if "listen 443 ssl;" in block]
    # Every server says so, but the MTA-STS policy that mail servers writing to it fetch.
    policy = [block for block in servers if "server_name mta-sts." in block]
    closed = [block for block in servers if block not in policy]
    assert len(policy) == 1 and "suspended" not in policy[0]
    assert closed and all("/_souverain/suspended.html" in block for block in closed)
    assert all("proxy_pass" not in block and "root /var/www" not in block for block in closed)
    assert "M_FORBIDDEN" in vhost
    other = build_file(two_tenants, "/etc/nginx/sites-available/souverain-tenant-acme.conf")
    assert "suspended" not in other
    assert "Organisation suspended" in build_file(
        two_tenants, "/var/www/souverain/_errors/suspended.html"
    )

    ldif = build_file(two_tenants, "/etc/ldap/souverain/config.ldif")
    suffix = open_ldif.split("olcSuffix: ", 1)[1].split("\n", 1)[0]
    assert f'olcAccess: {{0}}to dn.subtree="ou=people,ou=beta,{suffix}" attrs=userPassword' in ldif
    assert "olcAccess: {1}to attrs=userPassword" in ldif
    assert "ou=people,ou=acme" not in ldif

    [variables] = two_tenants.glob("build/inventory/host_vars/*/souverain.json")
    assert json.loads(variables.read_text())["chat_suspended_tenants"] == ["beta"]
    state = json.loads(build_file(two_tenants, "/etc/souverain/chat/beta/state.json"))
    assert state["suspended"] is True
    acme = json.loads(build_file(two_tenants, "/etc/souverain/chat/acme/state.json"))
    assert acme["suspended"] is False

    assert souverain("-C", str(two_tenants), "tenant", "resume", "beta").code == 0
    assert souverain("-C", str(two_tenants), "render").code == 0
    assert build_file(two_tenants, "/etc/ldap/souverain/config.ldif") == open_ldif
    assert "suspended" not in build_file(
        two_tenants, "/etc/nginx/sites-available/souverain-tenant-beta.conf"
    )
