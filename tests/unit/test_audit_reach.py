"""Address spaces and endpoints judged by what they cover, not by how they are written."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from souverain.audit import reach
from souverain.audit.probes import _set_elements
from souverain.model.loader import parse_suite
from souverain.model.suite import Suite
from tests.unit.test_model import MINIMAL

LIMITS = {"ipv4": 28, "ipv6": 64}
KNOWN = {"letsencrypt.org": "US", "buypass.com": "NO"}
EU = ["FR", "NO", "DE"]


def _suite(**components: Any) -> Suite:
    data = yaml.safe_load(MINIMAL)
    for name, settings in components.items():
        data["components"].setdefault(name, {}).update(settings)
    return parse_suite(yaml.safe_dump(data))


@pytest.mark.parametrize(
    "networks",
    [
        ["0.0.0.0/0"],
        ["0.0.0.0/1", "128.0.0.0/1"],
        ["8.0.0.0/8"],
        ["10.0.0.0/8", "100.0.0.0/6"],
        ["::/0"],
        ["::/1", "8000::/1"],
        ["2000::/3"],
        ["198.51.100.0/24", "1.2.3.0/24"],
        [f"203.0.{n}.0/24" for n in range(1, 20)],
    ],
)
def test_networks_that_let_the_internet_in(networks: list[str]) -> None:
    assert reach.exposure(networks, LIMITS)


@pytest.mark.parametrize(
    "networks",
    [
        ["10.0.0.0/8"],
        ["10.20.0.0/16", "192.168.1.0/24", "172.16.0.0/12"],
        ["fd00:1::/48", "fe80::/10"],
        ["100.64.0.0/10"],
        ["203.0.113.0/24"],  # documentation block, never routed
        ["198.51.100.7/32", "8.8.4.0/28"],  # a bastion and a small office range
        ["2a01:db8:1:2::/64"],
    ],
)
def test_networks_that_stay_restricted(networks: list[str]) -> None:
    assert reach.exposure(networks, LIMITS) == []


def test_coverage_is_summed_over_entries() -> None:
    # Sixteen /32 pass one by one and together; a seventeenth tips the sum.
    hosts = [f"9.9.9.{n}/32" for n in range(0, 32, 2)]
    assert reach.exposure(hosts, LIMITS) == []
    [problem] = reach.exposure([*hosts, "9.9.9.99/32"], LIMITS)
    assert "17 public addresses" in problem


def test_two_halves_are_reported_as_the_whole_space() -> None:
    [problem] = reach.exposure(["::/1", "8000::/1"], LIMITS)
    assert problem.startswith("IPv6: ::/0 let in about as many public addresses as one /0")


@pytest.mark.parametrize(
    ("endpoint", "host"),
    [
        ("ntp1.example.org", "ntp1.example.org"),
        ("fuzzy1.rspamd.com:11335", "fuzzy1.rspamd.com"),
        ("https://acme-v02.api.letsencrypt.org/directory", "acme-v02.api.letsencrypt.org"),
        ("ssh://borg@backup.example.org:2222/./suite", "backup.example.org"),
        ("[2001:db8::1]:123", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("192.0.2.1:123", "192.0.2.1"),
        ("NTP.Example.Org.", "ntp.example.org"),
    ],
)
def test_host_of(endpoint: str, host: str) -> None:
    assert reach.host_of(endpoint) == host


def test_what_calls_out() -> None:
    suite = _suite()
    inside = ["ntp.acme.example.org", "10.1.2.3", "fd00::123", "ntp.internal", "srv1", "192.0.2.10"]
    outside = [
        "162.159.200.1",
        "::ffff:162.159.200.1",
        "[64:ff9b::a29f:c801]:123",
        "2606:4700:f1::1",
        "ntp.unknown-time.net",
        "example.org",
        "acme.example.org.evil.net",
    ]
    assert reach.calls_out([*inside, *outside], suite) == outside


def test_endpoints_are_judged_by_declared_jurisdiction() -> None:
    suite = _suite(
        pki={
            "mode": "acme",
            "acme": {
                "directory_url": "https://acme-v02.api.letsencrypt.org/directory",
                "email": "a@acme.example.org",
            },
        },
        mail={
            "spam": {
                "fuzzy_servers": ["fuzzy.acme.example.org:11335"],
                "dns_blocklists": ["bl.unknown-rbl.net"],
            }
        },
        backup={"enabled": True, "repository": "ssh://borg@api.buypass.com/./suite"},
    )
    problems = reach.foreign_endpoints(suite, KNOWN, EU)
    assert len(problems) == 2
    assert "letsencrypt.org/directory: US, outside the EU/EEA" in problems[0]
    assert "bl.unknown-rbl.net: external, no declared jurisdiction" in problems[1]


def test_endpoints_can_be_judged_by_setting() -> None:
    suite = _suite(
        mail={"spam": {"dns_blocklists": ["bl.unknown-rbl.net"]}},
        backup={"enabled": True, "repository": "ssh://borg@backup.abroad.example.com/./suite"},
    )
    [problem] = reach.foreign_endpoints(suite, KNOWN, EU, ["components.backup"])
    assert problem.startswith("components.backup.repository = ssh://borg@backup.abroad")


def test_endpoints_of_disabled_components_do_not_count() -> None:
    suite = _suite(mail={"enabled": False, "spam": {"dns_blocklists": ["zen.spamhaus.org"]}})
    assert reach.named_endpoints(suite) == [
        ("components.base.ntp_servers[0]", "ntp.acme.example.org")
    ]


# `nft -j list set` of a set whose elements carry comments (nftables 1.0.6).
COMMENTED_SET = (
    '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", '
    '"json_schema_version": 1}}, {"set": {"family": "inet", "name": "admin_v4", '
    '"table": "souverain", "type": "ipv4_addr", "handle": 1, "flags": ["interval"], '
    '"elem": [{"elem": {"val": {"prefix": {"addr": "10.0.0.0", "len": 8}}, '
    '"comment": "office"}}, {"elem": {"val": "100.0.0.7", "comment": "bastion"}}]}}]}'
)


def test_firewall_set_elements_with_comments() -> None:
    assert _set_elements(COMMENTED_SET) == ["10.0.0.0/8", "100.0.0.7"]
