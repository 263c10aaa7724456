"""Refusals before a lab creates anything: platform, root, tools, address range in use."""

from __future__ import annotations

import ipaddress
import json
import subprocess

import pytest

from souverain.errors import LabRefused
from souverain.lab import checks


def test_not_linux_is_refused(monkeypatch):
    monkeypatch.setattr(checks.sys, "platform", "darwin")
    with pytest.raises(LabRefused, match="needs Linux") as refused:
        checks.check_platform()
    assert refused.value.exit_code == 2


def test_not_root_is_refused(monkeypatch):
    monkeypatch.setattr(checks.sys, "platform", "linux")
    monkeypatch.setattr(checks.os, "geteuid", lambda: 1000)
    with pytest.raises(LabRefused, match="needs root"):
        checks.check_platform()


def test_missing_tools_name_the_debian_packages(monkeypatch):
    absent = {"systemd-nspawn", "debootstrap", "nft"}
    monkeypatch.setattr(
        checks.shutil, "which", lambda tool: None if tool in absent else f"/usr/bin/{tool}"
    )
    with pytest.raises(LabRefused) as refused:
        checks.check_tools()
    assert "systemd-nspawn" in refused.value.message
    assert (
        refused.value.hint == "install the Debian packages: apt-get install debootstrap "
        "nftables systemd-container"
    )


def test_all_tools_present_passes(monkeypatch):
    monkeypatch.setattr(checks.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    checks.check_tools()


def fake_ip(routes: list[dict], addresses: list[dict]):
    def run(argv, **_kwargs):
        payload = routes if "route" in argv else addresses
        return subprocess.CompletedProcess(argv, 0, json.dumps(payload), "")

    return run


def test_networks_in_use_come_from_routes_and_addresses(monkeypatch):
    routes = [
        {"dst": "default", "gateway": "192.0.2.1"},
        {"dst": "192.0.2.0/24", "dev": "eth0"},
        {"dst": "10.231.9.0/24", "dev": "svl-x"},
        {"dst": "127.0.0.1", "type": "local"},
    ]
    addresses = [{"ifname": "eth0", "addr_info": [{"local": "198.51.100.7", "prefixlen": 25}]}]
    monkeypatch.setattr(checks, "run", fake_ip(routes, addresses))
    assert sorted(map(str, checks.networks_in_use())) == [
        "10.231.9.0/24",
        "192.0.2.0/24",
        "198.51.100.0/25",
    ]


def test_a_range_in_use_is_refused(monkeypatch):
    routes = [{"dst": "10.231.0.0/16", "dev": "vpn0"}]
    monkeypatch.setattr(checks, "run", fake_ip(routes, []))
    with pytest.raises(LabRefused, match="already in use") as refused:
        checks.check_subnet_free(ipaddress.IPv4Network("10.231.4.0/24"), lab="demo")
    assert refused.value.exit_code == 2


def test_a_free_range_passes(monkeypatch):
    monkeypatch.setattr(checks, "run", fake_ip([{"dst": "192.0.2.0/24"}], []))
    checks.check_subnet_free(ipaddress.IPv4Network("10.231.4.0/24"), lab="demo")
