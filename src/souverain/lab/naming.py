"""Names and addresses of one lab, all derived from the lab name (pure, no side effects).

Everything a lab creates on the controller carries the prefix ``svl-<name>`` (``svl_<name>`` for
the nftables table), so that `lab down` can find its leftovers even without a state file and
never touches anything else. Interface names are limited to 15 characters by the kernel, hence
the short prefix and a lab name of at most 8 characters.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass

from souverain.errors import LabRefused

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,7}$")
MAX_HOSTS = 20
SUBNET_BASE = ipaddress.IPv4Network("10.231.0.0/16")
FIRST_HOST_OCTET = 11  # .1 is the controller's bridge address; hosts are .11, .12, ...
DOMAIN_SUFFIX = "lab.test"


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise LabRefused(
            f"invalid lab name {name!r}",
            hint="use 1 to 8 lowercase letters and digits, starting with a letter (e.g. demo, ci2)",
        )
    return name


def default_subnet(name: str) -> ipaddress.IPv4Network:
    """A /24 inside 10.231.0.0/16 chosen by a digest of the name: stable, rarely shared."""
    third_octet = 1 + hashlib.sha256(name.encode()).digest()[0] % 254
    return ipaddress.IPv4Network(f"10.231.{third_octet}.0/24")


def parse_subnet(text: str) -> ipaddress.IPv4Network:
    try:
        subnet = ipaddress.IPv4Network(text, strict=True)
    except ValueError as error:
        raise LabRefused(f"invalid subnet {text!r}: {error}") from error
    if subnet.prefixlen > 26 or not subnet.is_private:
        raise LabRefused(
            f"subnet {subnet} does not fit a lab",
            hint="use a private IPv4 range of /26 or larger, e.g. 10.231.77.0/24",
        )
    return subnet


@dataclass(frozen=True)
class LabNames:
    """The names of everything lab ``name`` creates on the controller."""

    name: str

    def __post_init__(self) -> None:
        check_name(self.name)

    @property
    def prefix(self) -> str:
        return f"svl-{self.name}"

    @property
    def bridge(self) -> str:
        return self.prefix

    @property
    def nft_table(self) -> str:
        return f"svl_{self.name}"

    @property
    def domain(self) -> str:
        return f"{self.name}.{DOMAIN_SUFFIX}"

    def host_name(self, index: int) -> str:
        return f"host{index}"

    def netns(self, index: int) -> str:
        return f"{self.prefix}-{index}"

    def veth(self, index: int) -> str:
        """The controller's end of host ``index``'s veth pair (its other end is eth0 inside)."""
        return f"{self.prefix}-{index}"

    def machine(self, index: int) -> str:
        """The systemd-nspawn machine name, unique across labs."""
        return f"{self.prefix}-{index}"

    def owns_indexed(self, name: str) -> bool:
        """True for names this lab gives its per-host resources (svl-<name>-<n>)."""
        return re.fullmatch(rf"{re.escape(self.prefix)}-\d+", name) is not None


def gateway_address(subnet: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
    return subnet.network_address + 1


def host_address(subnet: ipaddress.IPv4Network, index: int) -> ipaddress.IPv4Address:
    address = subnet.network_address + FIRST_HOST_OCTET - 1 + index
    if address not in subnet or address == subnet.broadcast_address:
        raise LabRefused(f"subnet {subnet} has no room for host {index}")
    return address


def check_host_count(count: int) -> int:
    if not 1 <= count <= MAX_HOSTS:
        raise LabRefused(f"--hosts must be between 1 and {MAX_HOSTS}, not {count}")
    return count
