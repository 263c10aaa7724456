"""The whole of suite.yml: hosting, hosts, tenants, components, trust and artifacts."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from souverain.model import limits
from souverain.model.base import (
    DomainName,
    Identifier,
    IPAddress,
    Port,
    Sha256,
    Strict,
    TenantId,
)
from souverain.model.bounds import GIB_PER_PIB, MIB_PER_TIB, within
from souverain.model.components import (
    BEHIND_FRONT,
    CATALOG,
    DATA_HOLDERS,
    EVERYWHERE,
    HOST_LOCAL,
    ON_DATA_HOSTS,
    PLACEABLE,
    REQUIRES,
    SINGLETONS,
    TENANT_COMPONENTS,
    ComponentName,
    Components,
    TenantComponentName,
)
from souverain.model.limits import at_most
from souverain.model.strings import (
    ArtifactVersion,
    CountryCode,
    FilePath,
    ProviderName,
    RegionName,
    TenantName,
    UnixUser,
    WebUrl,
)

# ISO 3166-1 alpha-2 codes of the EU/EEA member states (SecNumCloud 19.2 data location).
EU_EEA_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
    ]
)


Loc = tuple[str | int, ...]


class InconsistentSuite(ValueError):
    """Cross-field rules broken; each problem keeps the field path it is about."""

    def __init__(self, problems: list[tuple[Loc, str]]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


class Hosting(Strict):
    """Where the suite runs; declared here, checked by the audit."""

    provider: ProviderName = Field(description="Hoster or 'on-premises'.")
    country: CountryCode = Field(description="ISO 3166-1 alpha-2 code, e.g. FR.")
    region: RegionName | None = None
    secnumcloud_qualified: bool = Field(
        default=False, description="Whether the provider holds the SecNumCloud qualification."
    )

    @property
    def in_eu(self) -> bool:
        return self.country in EU_EEA_COUNTRIES


class Connection(Strict):
    """How Ansible and verify reach the hosts over SSH."""

    user: UnixUser = "root"
    private_key_file: FilePath | None = Field(
        default=None, description="Relative to this directory."
    )
    known_hosts_file: FilePath | None = Field(
        default=None, description="Relative to this directory."
    )


class Host(Strict):
    name: Identifier
    address: IPAddress
    ssh_user: UnixUser | None = None
    ssh_port: Port | None = None
    components: Annotated[list[ComponentName], at_most(limits.HOST_COMPONENTS)] | None = Field(
        default=None,
        description="What this host carries (base and pki go everywhere). "
        "Omitted on a single host: everything enabled.",
    )


class Quotas(Strict):
    mail_mb: Annotated[
        int,
        within(
            10,
            10 * MIB_PER_TIB,
            "Dovecot's mailbox quota, in MB: 10 MB up to 10 TiB, more than any mail disk holds",
        ),
    ] = 2048
    drive_gb: Annotated[
        int,
        within(
            1,
            GIB_PER_PIB,
            "Nextcloud's quota, in GB: 1 GB up to 1 PiB, more than any drive storage holds",
        ),
    ] = 10


class Tenant(Strict):
    """One organisation: its domain, users, mailboxes, homeserver, drive and SSO portal."""

    id: TenantId
    name: TenantName
    domain: DomainName
    extra_domains: Annotated[list[DomainName], at_most(limits.EXTRA_DOMAINS)] = Field(
        default_factory=list
    )
    components: Annotated[list[TenantComponentName], at_most(limits.TENANT_COMPONENTS)] | None = (
        Field(default=None, description="Omitted: every component enabled suite-wide.")
    )
    quotas: Quotas = Field(default_factory=Quotas)
    suspended: bool = Field(
        default=False,
        description="Suspended: its people cannot sign in anywhere and its web services "
        "show a page saying so; mail sent to it is still received and kept "
        "(`souverain tenant suspend`/`resume` set it).",
    )

    @property
    def domains(self) -> list[str]:
        return [self.domain, *self.extra_domains]


class Trust(Strict):
    extra_ca: list[FilePath] = Field(
        default_factory=list,
        description="PEM files (relative to this directory) of CAs the hosts must trust, "
        "for example a corporate TLS-inspecting proxy.",
    )


class Artifact(Strict):
    """Something that comes from neither Debian nor PyPI, pinned by version and checksum."""

    version: ArtifactVersion
    sha256: Sha256 | None = Field(
        default=None, description="Checksum of the archive (or of the apt signing key)."
    )
    source: Literal["upstream", "mirror", "local"] = "upstream"
    url: WebUrl | None = None
    path: FilePath | None = None

    @model_validator(mode="after")
    def _source_has_location(self) -> Artifact:
        if self.source == "mirror" and self.url is None:
            raise ValueError("source mirror needs 'url'")
        if self.source == "local" and self.path is None:
            raise ValueError("source local needs 'path'")
        return self


class Artifacts(Strict):
    jitsi: Artifact = Field(default_factory=lambda: Artifact(version="2.0.10314"))
    element: Artifact = Field(default_factory=lambda: Artifact(version="1.12.3"))
    nextcloud: Artifact = Field(default_factory=lambda: Artifact(version="32.0.2"))


class Suite(Strict):
    """The root of suite.yml."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    version: Literal[1] = 1
    name: Identifier
    hosting: Hosting
    connection: Connection = Field(default_factory=Connection)
    hosts: Annotated[list[Host], at_most(limits.HOSTS)] = Field(min_length=1)
    tenants: Annotated[list[Tenant], at_most(limits.TENANTS)] = Field(min_length=1)
    components: Components
    trust: Trust = Field(default_factory=Trust)
    artifacts: Artifacts = Field(default_factory=Artifacts)

    # ---- cross-field rules -------------------------------------------------------------

    @model_validator(mode="after")
    def _check_cross_field_rules(self) -> Suite:
        problems = [
            *self._duplicate_hosts(),
            *self._placement_problems(),
            *self._tenant_problems(),
            *self._dependency_problems(),
        ]
        if not problems:
            # Names and ports come from the placement and settings checked above.
            from souverain.model.collisions import name_collisions, port_collisions

            problems = [*name_collisions(self), *port_collisions(self)]
        if problems:
            raise InconsistentSuite(problems)
        return self

    def _duplicate_hosts(self) -> list[tuple[Loc, str]]:
        problems: list[tuple[Loc, str]] = []
        seen_names: dict[str, int] = {}
        seen_addresses: dict[str, int] = {}
        for index, host in enumerate(self.hosts):
            if host.name in seen_names:
                problems.append(
                    (
                        ("hosts", index, "name"),
                        f"name {host.name!r} is already used by hosts[{seen_names[host.name]}]",
                    )
                )
            if host.address in seen_addresses:
                problems.append(
                    (
                        ("hosts", index, "address"),
                        f"address {host.address} is already used by "
                        f"hosts[{seen_addresses[host.address]}]",
                    )
                )
            seen_names.setdefault(host.name, index)
            seen_addresses.setdefault(host.address, index)
        return problems

    def _placement_problems(self) -> list[tuple[Loc, str]]:
        problems: list[tuple[Loc, str]] = []
        enabled = set(self.components.enabled_names())
        if len(self.hosts) > 1:
            for index, host in enumerate(self.hosts):
                if host.components is None:
                    problems.append(
                        (
                            ("hosts", index),
                            f"host {host.name}: with several hosts, list the components "
                            "each one carries ('components: [...]')",
                        )
                    )
        for index, host in enumerate(self.hosts):
            for position, component in enumerate(host.components or []):
                if component not in enabled:
                    problems.append(
                        (
                            ("hosts", index, "components", position),
                            f"host {host.name} carries {component}, which is disabled "
                            f"(components.{component}.enabled is false)",
                        )
                    )
        placement = self.listed_placement
        for component in PLACEABLE:
            hosts = placement.get(component, [])
            external = getattr(getattr(self.components, component), "repository", None)
            if component in ON_DATA_HOSTS and external and not hosts:
                continue  # its repository is outside the suite: no host need list it
            if component in enabled and not hosts and not problems:
                problems.append(
                    (
                        ("components", component),
                        f"{component} is enabled but no host carries it; add it to a host's "
                        "'components' list"
                        + (
                            " (or set its repository: ssh://…)"
                            if component in ON_DATA_HOSTS
                            else ""
                        )
                        + " or set enabled: false",
                    )
                )
            if component in SINGLETONS and len(hosts) > 1:
                problems.extend(self._singleton_problems(component, hosts))
            if component in ON_DATA_HOSTS and hosts and external:
                problems.append(
                    (
                        ("components", component, "repository"),
                        f"{component}: the repository is either on a suite host ({hosts[0]} "
                        "lists it) or outside the suite (repository:), not both; remove one",
                    )
                )
        problems.extend(self._host_local_problems())
        return problems

    def _entry_of(self, host_name: str, component: str) -> Loc:
        """Where a host lists a component: hosts[i].components[j]."""
        for index, host in enumerate(self.hosts):
            if host.name == host_name and host.components and component in host.components:
                return ("hosts", index, "components", host.components.index(component))
        return ("hosts",)

    def _singleton_problems(self, component: str, hosts: list[str]) -> list[tuple[Loc, str]]:
        """A component that runs on one host, placed on several: one problem per extra host."""
        reason = CATALOG.singleton_reason(component)
        first, others = hosts[0], hosts[1:]
        return [
            (
                self._entry_of(other, component),
                f"{component} is on {len(hosts)} hosts ({', '.join(hosts)}): {reason}; "
                f"keep it on {first} only and remove it from {other}",
            )
            for other in others
        ]

    def _host_local_problems(self) -> list[tuple[Loc, str]]:
        """A component placed where a host-local service it requires (Redis) is not."""
        problems: list[tuple[Loc, str]] = []
        placement = self.placement
        for component, needs in REQUIRES.items():
            for need in needs:
                if need not in HOST_LOCAL or not placement.get(need):
                    continue
                served = placement[need]
                reason = CATALOG.host_local_reason(need)
                for host in placement.get(component, []):
                    if host in served:
                        continue
                    problems.append(
                        (
                            self._entry_of(host, component),
                            f"{component} is on {host} but {need} is on "
                            f"{' and '.join(served)}: {reason}; "
                            f"place {need} on {host}, beside {component}",
                        )
                    )
        return problems

    def _tenant_problems(self) -> list[tuple[Loc, str]]:
        problems: list[tuple[Loc, str]] = []
        ids: dict[str, int] = {}
        domains: dict[str, int] = {}
        enabled = set(self.components.enabled_names())
        for index, tenant in enumerate(self.tenants):
            if tenant.id in ids:
                problems.append(
                    (
                        ("tenants", index, "id"),
                        f"tenant id {tenant.id!r} is already used by tenants[{ids[tenant.id]}]",
                    )
                )
            ids.setdefault(tenant.id, index)
            for position, domain in enumerate(tenant.domains):
                if domain in domains:
                    owner = domains[domain]
                    where = "the same tenant" if owner == index else f"tenants[{owner}]"
                    field: Loc = (
                        ("tenants", index, "domain")
                        if position == 0
                        else ("tenants", index, "extra_domains", position - 1)
                    )
                    problems.append((field, f"domain {domain} is already used by {where}"))
                domains.setdefault(domain, index)
            for position, component in enumerate(tenant.components or []):
                if component not in enabled:
                    problems.append(
                        (
                            ("tenants", index, "components", position),
                            f"tenant {tenant.id} enables {component}, which is disabled "
                            f"suite-wide (components.{component}.enabled is false)",
                        )
                    )
        if len(domains) > limits.DOMAINS.most:
            problems.append((("tenants",), limits.DOMAINS.message(f"found {len(domains):,}")))
        return problems

    def _dependency_problems(self) -> list[tuple[Loc, str]]:
        enabled = set(self.components.enabled_names())
        problems: list[tuple[Loc, str]] = []
        for component, needs in REQUIRES.items():
            if component not in enabled:
                continue
            for need in needs:
                if need not in enabled:
                    problems.append(
                        (
                            ("components", need, "enabled"),
                            f"{component} is enabled and needs {need}, which is disabled",
                        )
                    )
        return problems

    # ---- derived views (what render, deploy and info use) ------------------------------

    @cached_property
    def listed_placement(self) -> dict[str, list[str]]:
        """component -> the hosts that list it (every host of a single-host suite)."""
        enabled = self.components.enabled_names()

        def implicit(component: str) -> bool:
            """A single host without a list carries it, unless it is a backup agent whose
            repository is outside the suite."""
            external = getattr(getattr(self.components, component), "repository", None)
            return not (component in ON_DATA_HOSTS and external)

        return {
            component: [
                host.name
                for host in self.hosts
                if (host.components is None and len(self.hosts) == 1 and implicit(component))
                or (host.components is not None and component in host.components)
            ]
            for component in PLACEABLE
            if component in enabled
        }

    @cached_property
    def placement(self) -> dict[str, list[str]]:
        """component -> names of the hosts that carry it (base and pki: every host)."""
        result: dict[str, list[str]] = {name: [h.name for h in self.hosts] for name in EVERYWHERE}
        result.update({name: list(hosts) for name, hosts in self.listed_placement.items()})
        behind = self._hosts_behind_front(result)
        if behind:
            for component in BEHIND_FRONT:
                result[component] = behind
        holding = {name for holder in DATA_HOLDERS for name in result.get(holder, [])}
        for component in ON_DATA_HOSTS:
            if component in result:
                listed = set(result[component])
                result[component] = [
                    host.name for host in self.hosts if host.name in listed | holding
                ]
        return result

    def _hosts_behind_front(self, placement: dict[str, list[str]]) -> list[str]:
        """The hosts that carry a component with web endpoints but not the front: the front
        reaches their endpoints over the network (TLS), through a web server there."""
        front = CATALOG.front
        fronts = set(placement.get(front, [])) if front else set()
        behind = {
            name
            for component in CATALOG
            if component.name != front and component.proxied
            for name in placement.get(component.name, [])
            if name not in fronts
        }
        return [host.name for host in self.hosts if host.name in behind]

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def components_of_host(self, name: str) -> list[str]:
        return [component for component, hosts in self.placement.items() if name in hosts]

    @cached_property
    def _enabled(self) -> frozenset[str]:
        return frozenset(self.components.enabled_names())

    def tenant_components(self, tenant: Tenant) -> list[str]:
        enabled = self._enabled
        chosen = tenant.components if tenant.components is not None else TENANT_COMPONENTS
        return [name for name in TENANT_COMPONENTS if name in chosen and name in enabled]

    @cached_property
    def _tenant_numbers(self) -> dict[str, int]:
        return {tenant.id: number for number, tenant in enumerate(self.tenants, start=1)}

    def tenant_number(self, tenant_id: str) -> int:
        """The tenant's 1-based position in suite.yml (e.g. its Redis database index)."""
        return self._tenant_numbers[tenant_id]

    @property
    def directory_suffix(self) -> str:
        configured = self.components.directory.suffix
        if configured:
            return configured
        return ",".join(f"dc={label}" for label in self.tenants[0].domain.split("."))
