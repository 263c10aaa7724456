"""Lab names, subnets and addresses: derived from the name, within kernel limits."""

from __future__ import annotations

import ipaddress

import pytest

from souverain.errors import LabRefused
from souverain.lab import naming


@pytest.mark.parametrize("name", ["demo", "a", "ci2", "abcdefgh"])
def test_valid_names_give_interface_names_within_15_characters(name):
    names = naming.LabNames(name)
    longest = [names.bridge, names.netns(naming.MAX_HOSTS), names.veth(naming.MAX_HOSTS)]
    assert all(len(n) <= 15 for n in longest)
    assert names.bridge == f"svl-{name}"
    assert names.nft_table == f"svl_{name}"
    assert names.domain.endswith(".test")


@pytest.mark.parametrize("name", ["", "Demo", "9lab", "abcdefghi", "a-b", "a_b", "lab.x"])
def test_invalid_names_are_refused(name):
    with pytest.raises(LabRefused) as refused:
        naming.LabNames(name)
    assert refused.value.exit_code == 2


def test_default_subnet_is_stable_and_inside_the_lab_range():
    subnet = naming.default_subnet("demo")
    assert subnet == naming.default_subnet("demo")
    assert subnet.prefixlen == 24 and subnet.subnet_of(naming.SUBNET_BASE)
    assert str(subnet) not in ("10.231.0.0/24", "10.231.255.0/24")


def test_different_names_mostly_get_different_subnets():
    subnets = {naming.default_subnet(f"lab{i}") for i in range(50)}
    assert len(subnets) > 40


def test_addresses_gateway_first_then_hosts():
    subnet = ipaddress.IPv4Network("10.231.7.0/24")
    assert str(naming.gateway_address(subnet)) == "10.231.7.1"
    assert str(naming.host_address(subnet, 1)) == "10.231.7.11"
    assert str(naming.host_address(subnet, 2)) == "10.231.7.12"


def test_a_small_subnet_without_room_is_refused():
    with pytest.raises(LabRefused):
        naming.host_address(ipaddress.IPv4Network("10.0.0.0/28"), 5)


@pytest.mark.parametrize("text", ["10.231.7.0/24", "192.168.50.0/26"])
def test_given_subnets_are_accepted(text):
    assert str(naming.parse_subnet(text)) == text


@pytest.mark.parametrize("text", ["10.231.7.5/24", "8.8.8.0/24", "10.0.0.0/30", "nonsense"])
def test_unsuitable_subnets_are_refused(text):
    with pytest.raises(LabRefused):
        naming.parse_subnet(text)


def test_owned_names_match_exactly_the_lab_prefix():
    names = naming.LabNames("ab")
    assert names.owns_indexed("svl-ab-1") and names.owns_indexed("svl-ab-12")
    assert not names.owns_indexed("svl-abc-1")
    assert not names.owns_indexed("svl-ab")
    assert not names.owns_indexed("svl-ab-1x")


@pytest.mark.parametrize("count", [0, -1, naming.MAX_HOSTS + 1])
def test_host_count_out_of_range_is_refused(count):
    with pytest.raises(LabRefused):
        naming.check_host_count(count)
