"""Where the suite lets others in and where it calls out, judged by meaning, not spelling.

Two questions the rules ask of the model:

- how much of the internet a list of networks lets in: entries are merged first (two halves
  of the address space are the whole of it), then the special-purpose blocks that are never
  routed on the internet (RFC 6890: private, loopback, link-local, documentation, ULA...)
  are taken out; what is left is globally routable, "public" space;
- whether an endpoint named in suite.yml (a time server, an ACME directory, a fuzzy server, a
  blocklist zone, a backup repository, a mirror) stays inside the suite or calls out, and
  under which jurisdiction a called-out endpoint sits.

An endpoint is internal when it is an address that is not globally routable, the address or
name of one of the suite's hosts, or a name under one of the tenants' domains (or under the
names reserved for private use, `.internal` and `.home.arpa`). Anything else calls out,
whatever its name: a list of "known bad" names would let every other name through.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable, Mapping
from typing import Any

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Blocks never routed on the internet (IANA special-purpose registries, RFC 6890 and later).
# NAT64 (64:ff9b::/96) and 6to4 stay out: they map public IPv4 space.
_NOT_GLOBAL = {
    4: [
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    ],
    6: [
        "::/128",
        "::1/128",
        "::ffff:0:0/96",
        "100::/64",
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    ],
}
NOT_GLOBAL: dict[int, list[IPNetwork]] = {
    version: list(ipaddress.collapse_addresses(ipaddress.ip_network(n) for n in blocks))
    for version, blocks in _NOT_GLOBAL.items()
}
# Domains set aside for private use (RFC 8375 home.arpa; ICANN's .internal, 2024).
PRIVATE_USE_DOMAINS = ("internal", "home.arpa")
BITS = {4: 32, 6: 128}


def merged(networks: Iterable[str]) -> dict[int, list[IPNetwork]]:
    """The networks, merged per IP version (0.0.0.0/1 and 128.0.0.0/1 become 0.0.0.0/0)."""
    by_version: dict[int, list[IPNetwork]] = {4: [], 6: []}
    for text in networks:
        network = ipaddress.ip_network(str(text), strict=False)
        by_version[network.version].append(network)
    return {
        version: list(ipaddress.collapse_addresses(items))  # type: ignore[arg-type]
        for version, items in by_version.items()
    }


def public_size(network: IPNetwork) -> int:
    """How many globally routable addresses the network covers."""
    hidden = 0
    for block in NOT_GLOBAL[network.version]:
        # Two CIDR blocks are nested or disjoint; the special blocks are disjoint.
        if block.subnet_of(network):  # type: ignore[arg-type]
            hidden += block.num_addresses
        elif network.subnet_of(block):  # type: ignore[arg-type]
            return 0
    return network.num_addresses - hidden


def exposure(networks: Iterable[str], max_prefix: Mapping[str, int]) -> list[str]:
    """What is wrong with letting these networks in, as evidence; empty when nothing is.

    ``max_prefix`` gives, per version (``ipv4``, ``ipv6``), the prefix length of the largest
    public block allowed: the globally routable addresses covered by all the entries together
    must not outnumber that block's.
    """
    problems = []
    for version, networks_of_version in merged(networks).items():
        public = [(n, public_size(n)) for n in networks_of_version]
        total = sum(size for _, size in public)
        prefix = int(max_prefix[f"ipv{version}"])
        allowed = 2 ** (BITS[version] - prefix)
        if total > allowed:
            covered = ", ".join(str(n) for n, size in public if size)
            problems.append(
                f"IPv{version}: {covered} let in {_amount(total, BITS[version])} "
                f"(at most as many as one /{prefix})"
            )
    return problems


def _amount(number: int, bits: int) -> str:
    if number <= 65536:
        return f"{number} public addresses"
    prefix = bits - round(math.log2(number))
    return f"about as many public addresses as one /{prefix}"


def host_of(endpoint: str) -> str:
    """The host an endpoint names: scheme, user, port and path taken away."""
    text = str(endpoint).strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    elif text.startswith(("stun:", "turn:", "turns:")):
        text = text.split(":", 1)[1]
    text = text.split("/", 1)[0].rsplit("@", 1)[-1]
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    if text.count(":") == 1:  # name:port or IPv4:port; a bare IPv6 address has several
        text = text.split(":", 1)[0]
    return text.rstrip(".")


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names, if it is one; ::ffff:a.b.c.d is the IPv4 a.b.c.d it reaches."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _under(host: str, domains: Iterable[str]) -> str | None:
    for domain in domains:
        domain = domain.lower().rstrip(".")
        if host == domain or host.endswith("." + domain):
            return domain
    return None


def is_internal(endpoint: str, suite: Any) -> bool:
    """True when the endpoint stays inside the suite (see the module's docstring)."""
    host = host_of(endpoint)
    address = _address(host)
    if address is not None:
        own = {str(_address(h.address)) for h in suite.hosts}
        network = ipaddress.ip_network(address)
        return str(address) in own or public_size(network) == 0
    if host in {h.name for h in suite.hosts}:
        return True
    domains = [d for tenant in suite.tenants for d in tenant.domains]
    return _under(host, [*domains, *PRIVATE_USE_DOMAINS]) is not None


def calls_out(endpoints: Iterable[Any], suite: Any) -> list[str]:
    """The endpoints that leave the suite."""
    return [str(e) for e in endpoints if e is not None and not is_internal(str(e), suite)]


def named_endpoints(suite: Any) -> list[tuple[str, str]]:
    """Every endpoint outside the hosts that suite.yml can name, with where it is set.

    Only what is in use counts: the time servers, the ACME directory in ACME mode, the mail
    settings when mail is enabled, the backup repository when backups are, a mirror of an
    enabled component.
    """
    components = suite.components
    found: list[tuple[str, str]] = [
        (f"components.base.ntp_servers[{index}]", server)
        for index, server in enumerate(components.base.ntp_servers)
    ]
    pki = components.pki
    if pki.mode == "acme" and pki.acme is not None:
        found.append(("components.pki.acme.directory_url", str(pki.acme.directory_url)))
    if components.is_enabled("mail"):
        spam = components.mail.spam
        for index, server in enumerate(spam.fuzzy_servers):
            found.append((f"components.mail.spam.fuzzy_servers[{index}]", server))
        for index, zone in enumerate(spam.dns_blocklists):
            found.append((f"components.mail.spam.dns_blocklists[{index}]", zone))
    if components.is_enabled("backup") and components.backup.repository:
        found.append(("components.backup.repository", components.backup.repository))
    users = {"jitsi": "visio", "element": "chat", "nextcloud": "drive"}
    for name, component in users.items():
        artifact = getattr(suite.artifacts, name)
        if artifact.source == "mirror" and components.is_enabled(component):
            found.append((f"artifacts.{name}.url", str(artifact.url)))
    return found


def jurisdiction(endpoint: str, known: Mapping[str, str]) -> str | None:
    """The country (ISO 3166-1 alpha-2) an external endpoint answers to, when declared."""
    domain = _under(host_of(endpoint), known)
    if domain is None:
        return None
    for name, country in known.items():
        if name.lower().rstrip(".") == domain:
            return str(country).upper()
    return None


def foreign_endpoints(
    suite: Any,
    known: Mapping[str, str],
    eu_eea: Iterable[str],
    within: Iterable[str] | None = None,
) -> list[str]:
    """The external endpoints not declared under EU/EEA jurisdiction, as evidence.

    ``within``: only the endpoints set under these settings (prefixes such as
    ``components.backup``); all of them when absent.
    """
    allowed = set(eu_eea)
    prefixes = tuple(within) if within is not None else ("",)
    problems = []
    for where, endpoint in named_endpoints(suite):
        if not where.startswith(prefixes) or is_internal(endpoint, suite):
            continue
        country = jurisdiction(endpoint, known)
        if country is None:
            problems.append(f"{where} = {endpoint}: external, no declared jurisdiction")
        elif country not in allowed:
            problems.append(f"{where} = {endpoint}: {country}, outside the EU/EEA")
    return problems
