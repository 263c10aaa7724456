"""Names and ports that two settings would give twice, found from the components' manifests.

A tenant domain that is also a name the suite makes for another tenant (its `matrix.`,
`auth.`, `mail.`… host) would give nginx two virtual hosts with one server_name; two settings
that make two services listen on one port of a host would leave one of them down. Both are
refused here, naming the fields involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Formatter
from typing import TYPE_CHECKING

from souverain.components.manifest import SSH_PORT
from souverain.model.components import CATALOG
from souverain.model.services import fill, serves_tenant

if TYPE_CHECKING:
    from souverain.model.suite import Suite, Tenant

Loc = tuple[str | int, ...]


def _setting_fields(pattern: str) -> list[str]:
    """The settings a manifest pattern reads: '{settings.hostname}.{domain}' -> ['hostname']."""
    return [
        name.removeprefix("settings.")
        for _, name, _, _ in Formatter().parse(pattern)
        if name is not None and name.startswith("settings.")
    ]


@dataclass(frozen=True)
class _Source:
    """What gives a name or a port: a setting of suite.yml, or a manifest's fixed value."""

    loc: Loc | None  # the setting's field path, None when the manifest fixes it
    text: str  # how a message names it

    @classmethod
    def of(cls, component: str, pattern: str | int, what: str) -> _Source:
        fields = _setting_fields(pattern) if isinstance(pattern, str) else []
        if fields:
            loc: Loc = ("components", component, fields[0])
            return cls(loc, "components." + ".".join(str(part) for part in loc[1:]))
        return cls(None, f"the {what} of {component} (fixed in roles/{component}/component.yml)")


# ---- names ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Name:
    fqdn: str
    tenant: int
    component: str
    role: str
    source: _Source
    pattern: str


def _generated_names(suite: Suite, index: int, tenant: Tenant) -> list[_Name]:
    names: list[_Name] = []
    for component in CATALOG:
        endpoints = component.manifest.endpoints
        if not endpoints or not serves_tenant(suite, component, tenant):
            continue
        settings = getattr(suite.components, component.name)
        for endpoint in endpoints:
            source = _Source.of(component.name, endpoint.name, f"{endpoint.role} name")
            fqdn = fill(endpoint.name, settings, tenant)
            names.append(_Name(fqdn, index, component.name, endpoint.role, source, endpoint.name))
    return names


def _domain_field(index: int, position: int) -> Loc:
    if position == 0:
        return ("tenants", index, "domain")
    return ("tenants", index, "extra_domains", position - 1)


def name_collisions(suite: Suite) -> list[tuple[Loc, str]]:
    """Tenant domains that are names the suite makes, and settings that make one name twice."""
    problems: list[tuple[Loc, str]] = []
    made: dict[str, _Name] = {}  # every name but the landing pages (a tenant's own domain)
    reported: set[tuple[str, str]] = set()
    for index, tenant in enumerate(suite.tenants):
        for name in _generated_names(suite, index, tenant):
            if name.pattern == "{domain}":
                continue
            earlier = made.setdefault(name.fqdn, name)
            if earlier.source == name.source:
                continue
            pair = (earlier.source.text, name.source.text)
            if pair in reported:
                continue
            reported.add(pair)
            where = name.source.loc or earlier.source.loc or ("components", name.component)
            problems.append(
                (
                    where,
                    f"{name.source.text} gives {name.fqdn} to {name.component}'s {name.role}, "
                    f"the name {earlier.source.text} gives to {earlier.component}'s "
                    f"{earlier.role}: two services cannot answer to one name; choose another",
                )
            )
    for index, tenant in enumerate(suite.tenants):
        for position, domain in enumerate(tenant.domains):
            name = made.get(domain)
            if name is None:
                continue
            owner = suite.tenants[name.tenant]
            whose = "its own" if name.tenant == index else f"tenant {owner.id}'s"
            problems.append(
                (
                    _domain_field(index, position),
                    f"domain {domain} is {whose} {name.component} {name.role} name "
                    f"(tenants[{name.tenant}]: {name.pattern} with domain {owner.domain}, "
                    f"{name.source.text}): two virtual hosts would answer to it",
                )
            )
    return problems


# ---- ports ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Port:
    proto: str
    number: int
    component: str
    source: _Source


def _listening_ports(suite: Suite, host_index: int) -> list[_Port]:
    host = suite.hosts[host_index]
    ports: list[_Port] = []
    if host.ssh_port is not None:
        ssh = _Source(("hosts", host_index, "ssh_port"), f"hosts[{host_index}].ssh_port")
    else:
        ssh = _Source(("components", "base", "ssh_port"), "components.base.ssh_port")
    ports.append(_Port("tcp", host.ssh_port or suite.components.base.ssh_port, "ssh", ssh))
    carried = set(suite.components_of_host(host.name))
    for component in CATALOG:
        if component.name not in carried:
            continue
        settings = getattr(suite.components, component.name)
        for entry in component.manifest.openings:
            if entry.port == SSH_PORT:
                continue  # the host's SSH server itself, counted above
            number = entry.port if isinstance(entry.port, int) else int(fill(entry.port, settings))
            source = _Source.of(component.name, entry.port, f"{entry.proto} port {number}")
            ports.append(_Port(entry.proto, number, component.name, source))
    return ports


def port_collisions(suite: Suite) -> list[tuple[Loc, str]]:
    """Two settings (or a setting and a fixed port) that make one host listen twice on a port."""
    problems: list[tuple[Loc, str]] = []
    reported: set[tuple[str, str]] = set()
    for host_index, host in enumerate(suite.hosts):
        taken: dict[tuple[str, int], _Port] = {}
        for port in _listening_ports(suite, host_index):
            earlier = taken.setdefault((port.proto, port.number), port)
            if earlier.source == port.source:
                continue
            if earlier.source.loc is None and port.source.loc is None:
                continue  # fixed by the manifests: one service (nginx) shared by design
            pair = (earlier.source.text, port.source.text)
            if pair in reported:
                continue
            reported.add(pair)
            where = port.source.loc or earlier.source.loc or ("hosts", host_index)
            problems.append(
                (
                    where,
                    f"{port.source.text} makes {port.component} listen on {port.proto} port "
                    f"{port.number} of host {host.name}, which {earlier.source.text} gives to "
                    f"{earlier.component}: choose another port",
                )
            )
    return problems
