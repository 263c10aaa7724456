"""The lab's network on the controller: a bridge, one namespace and veth pair per host, NAT.

Hosts reach each other and the controller through the bridge, and the package archives through
a masquerade rule in an nftables table of the lab's own. Every function that removes something
is idempotent: removing what is already gone is not an error.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

from souverain.lab.commands import run

IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
NETNS_DIR = Path("/run/netns")


# --- listing ---------------------------------------------------------------------------------


def list_links() -> list[str]:
    links = json.loads(run(["ip", "-j", "link", "show"]).stdout or "[]")
    return sorted(link["ifname"] for link in links)


def list_netns() -> list[str]:
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir())


def list_nft_tables() -> list[str]:
    """Tables as "family name"."""
    out = run(["nft", "list", "tables"]).stdout
    return sorted(line.removeprefix("table ").strip() for line in out.splitlines() if line.strip())


def netns_pids(netns: str) -> list[int]:
    result = run(["ip", "netns", "pids", netns], check=False)
    return [int(pid) for pid in result.stdout.split() if pid.isdigit()]


# --- creating --------------------------------------------------------------------------------


def create_bridge(bridge: str, gateway: ipaddress.IPv4Address, prefixlen: int) -> None:
    run(["ip", "link", "add", bridge, "type", "bridge"])
    run(["ip", "addr", "add", f"{gateway}/{prefixlen}", "dev", bridge])
    run(["ip", "link", "set", bridge, "up"])


def create_host_network(
    *,
    netns: str,
    veth: str,
    bridge: str,
    address: ipaddress.IPv4Address,
    gateway: ipaddress.IPv4Address,
    prefixlen: int,
) -> None:
    """A namespace whose eth0 is one end of a veth pair; the other end joins the bridge."""
    run(["ip", "netns", "add", netns])
    run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns])
    run(["ip", "link", "set", veth, "master", bridge, "up"])
    inside = ["ip", "-n", netns]
    run([*inside, "link", "set", "lo", "up"])
    run([*inside, "addr", "add", f"{address}/{prefixlen}", "dev", "eth0"])
    run([*inside, "link", "set", "eth0", "up"])
    run([*inside, "route", "add", "default", "via", str(gateway)])


def nat_ruleset(table: str, subnet: ipaddress.IPv4Network, bridge: str) -> str:
    """The lab's own table: masquerade what leaves the lab, let the bridge's traffic through."""
    return f"""table ip {table} {{
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        ip saddr {subnet} ip daddr != {subnet} masquerade
    }}
    chain forward {{
        type filter hook forward priority filter; policy accept;
        iifname "{bridge}" accept
        oifname "{bridge}" ct state established,related accept
    }}
}}
"""


def create_nat(table: str, subnet: ipaddress.IPv4Network, bridge: str) -> None:
    run(["nft", "-f", "-"], input_text=nat_ruleset(table, subnet, bridge))


def enable_ip_forward() -> str:
    """Turn forwarding on; return the value it had, so the last lab down can restore it."""
    before = IP_FORWARD.read_text().strip()
    if before != "1":
        IP_FORWARD.write_text("1\n")
    return before


# --- removing --------------------------------------------------------------------------------


def remove_link(name: str) -> None:
    if name in list_links():
        run(["ip", "link", "del", name], check=False)


def remove_netns(netns: str) -> None:
    if (NETNS_DIR / netns).exists():
        run(["ip", "netns", "del", netns], check=False)


def remove_nft_table(table: str) -> None:
    if f"ip {table}" in list_nft_tables():
        run(["nft", "delete", "table", "ip", table], check=False)


def restore_ip_forward(value: str) -> None:
    if value in ("0", "1") and IP_FORWARD.read_text().strip() != value:
        IP_FORWARD.write_text(f"{value}\n")
