"""Refusals made before a lab creates anything: each names what is missing and how to get it."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import sys
from collections.abc import Iterable

from souverain.errors import LabRefused
from souverain.lab.commands import run

# Command the lab runs → the Debian package that provides it.
REQUIRED_TOOLS: dict[str, str] = {
    "systemd-nspawn": "systemd-container",
    "debootstrap": "debootstrap",
    "nft": "nftables",
    "ip": "iproute2",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "nsenter": "util-linux",
}


def check_platform() -> None:
    if not sys.platform.startswith("linux"):
        raise LabRefused(
            f"the lab needs Linux (network namespaces, systemd-nspawn); this is {sys.platform}"
        )
    if os.geteuid() != 0:
        raise LabRefused(
            "the lab needs root: it creates network namespaces, a bridge and containers",
            hint="run it as root, e.g. `sudo souverain lab up`",
        )


def missing_tools(tools: Iterable[str] = REQUIRED_TOOLS) -> list[str]:
    return [tool for tool in tools if shutil.which(tool) is None]


def check_tools() -> None:
    missing = missing_tools()
    if missing:
        packages = sorted({REQUIRED_TOOLS[tool] for tool in missing})
        raise LabRefused(
            f"missing on this machine: {', '.join(missing)}",
            hint=f"install the Debian packages: apt-get install {' '.join(packages)}",
        )


def check_can_run() -> None:
    """Everything `lab up` needs from the machine, short of the network range."""
    check_platform()
    check_tools()


def networks_in_use() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network the controller routes or has an address in."""
    found: list[ipaddress.IPv4Network] = []
    routes = json.loads(run(["ip", "-j", "-4", "route", "show", "table", "all"]).stdout or "[]")
    for route in routes:
        destination = route.get("dst", "")
        if destination in ("", "default") or route.get("type") in ("broadcast", "local"):
            continue
        try:
            found.append(ipaddress.IPv4Network(destination, strict=False))
        except ValueError:
            continue
    addresses = json.loads(run(["ip", "-j", "-4", "addr", "show"]).stdout or "[]")
    for link in addresses:
        for info in link.get("addr_info", []):
            local, prefix = info.get("local"), info.get("prefixlen")
            if local and prefix is not None:
                found.append(ipaddress.IPv4Network(f"{local}/{prefix}", strict=False))
    return found


def overlapping(
    subnet: ipaddress.IPv4Network, in_use: Iterable[ipaddress.IPv4Network]
) -> list[ipaddress.IPv4Network]:
    return sorted({net for net in in_use if net.overlaps(subnet)}, key=str)


def check_subnet_free(subnet: ipaddress.IPv4Network, *, lab: str) -> None:
    clashes = overlapping(subnet, networks_in_use())
    if clashes:
        raise LabRefused(
            f"address range {subnet} for lab {lab!r} is already in use on this machine "
            f"({', '.join(map(str, clashes))})",
            hint="choose another range with --subnet, or another lab name",
        )
