"""What the backup agent of each host keeps, computed from the components' manifests.

A host's plan names, for each tenant, each component's part of the tenant's data on that
host: directories (`backup.paths`), one person's part of them (`user_paths`), the units to
stop while it is put back (`stop`, only on the hosts that run them), the component's dump
script (`dump`) and the databases it publishes when this host carries PostgreSQL. One
archive per tenant and per host holds all of it, so a tenant is restored without touching
the others.

Every host sends its archives to a repository of its own (`repository_url`): on the suite
host that lists `backup`, or under `components.backup.repository` outside the suite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from souverain.model.components import CATALOG
from souverain.model.services import serves_tenant
from souverain.model.suite import Suite, Tenant

BACKUP = "backup"
ACCOUNT = "souverain-borg"  # the backup host's account that runs `borg serve`
REPOSITORIES_DIR = "/var/lib/souverain-borg"  # its home: one repository per host under it
DUMP_SCRIPTS_DIR = "/usr/local/lib/souverain/backup"
DUMPS_DIR = "/var/lib/souverain-backup/dumps"  # <tenant>/<component>: dumps before a backup


@dataclass
class ComponentPart:
    """One component's part of a tenant's data on one host."""

    paths: list[str] = field(default_factory=list)
    user_paths: list[str] = field(default_factory=list)
    stop: list[str] = field(default_factory=list)
    dump: str | None = None  # the dump script
    dump_dir: str | None = None
    databases: list[dict[str, str]] = field(default_factory=list)  # name, owner, collation

    def as_dict(self) -> dict[str, Any]:
        return {
            "paths": self.paths,
            "user_paths": self.user_paths,
            "stop": self.stop,
            "dump": self.dump,
            "dump_dir": self.dump_dir,
            "databases": self.databases,
        }

    def sources(self) -> list[str]:
        """The directories borg reads for this part (databases are streamed by borgmatic)."""
        return [*self.paths, *([self.dump_dir] if self.dump_dir else [])]


def _fill(pattern: str, tenant: Tenant) -> str:
    return pattern.replace("{tenant}", tenant.id)


def database_name(prefix: str, tenant: Tenant) -> str:
    return f"{prefix}_{tenant.id.replace('-', '_')}"


def tenant_parts(suite: Suite, host: str, tenant: Tenant) -> dict[str, ComponentPart]:
    """component -> its part of ``tenant``'s data on ``host`` (components with none left out)."""
    placement = suite.placement
    enabled = suite.components.enabled_names()
    holds_databases = any(
        host in placement.get(c.name, [])
        for c in CATALOG
        if c.manifest.backup and c.manifest.backup.databases
    )
    parts: dict[str, ComponentPart] = {}
    for component in CATALOG:
        data = component.manifest.backup
        if component.name not in enabled:
            continue
        if not serves_tenant(suite, component, tenant):
            continue
        part = ComponentPart()
        on_host = host in placement.get(component.name, [])
        if data is not None and on_host and not data.databases:
            part.paths = [_fill(p, tenant) for p in data.paths]
            part.user_paths = [_fill(p, tenant) for p in data.user_paths]
            part.stop = [_fill(unit, tenant) for unit in data.stop]
            if data.dump:
                part.dump = f"{DUMP_SCRIPTS_DIR}/{component.name}"
                part.dump_dir = f"{DUMPS_DIR}/{tenant.id}/{component.name}"
        if holds_databases:
            part.databases = [
                {
                    "name": database_name(d.prefix, tenant),
                    "owner": database_name(d.prefix, tenant),
                    "collation": d.collation,
                }
                for d in component.manifest.databases
            ]
        if part.paths or part.dump or part.databases:
            parts[component.name] = part
    return parts


def repository_host(suite: Suite) -> str | None:
    """The suite host that keeps the repositories (None: they are outside the suite)."""
    hosts = suite.listed_placement.get(BACKUP, [])
    return hosts[0] if hosts else None


def repository_url(suite: Suite, host: str) -> str:
    """Where ``host`` sends its archives."""
    external = suite.components.backup.repository
    if external:
        return f"{str(external).rstrip('/')}/{host}"
    server = repository_host(suite)
    assert server is not None, "validate refuses backup without a repository host"
    target = suite.host(server)
    address = f"[{target.address}]" if ":" in target.address else target.address
    port = f":{target.ssh_port}" if target.ssh_port else ""
    return f"ssh://{ACCOUNT}@{address}{port}/./{host}"


def host_plan(suite: Suite, host: str) -> dict[str, Any]:
    """What ``host``'s agent keeps: its repository and, per tenant, each component's part."""
    tenants: dict[str, Any] = {}
    for tenant in suite.tenants:
        parts = tenant_parts(suite, host, tenant)
        if parts:
            tenants[tenant.id] = {
                "sources": sorted({s for part in parts.values() for s in part.sources()}),
                "databases": [d["name"] for part in parts.values() for d in part.databases],
                "components": {name: part.as_dict() for name, part in parts.items()},
            }
    return {
        "host": host,
        "repository": repository_url(suite, host),
        "tenants": tenants,
    }


def agent_plans(suite: Suite) -> dict[str, dict[str, Any]]:
    """host -> its plan, for the hosts that send archives (those carrying a component with
    data to keep), in the order of suite.yml."""
    if not suite.components.is_enabled(BACKUP):
        return {}
    plans = {host.name: host_plan(suite, host.name) for host in suite.hosts}
    return {name: plan for name, plan in plans.items() if plan["tenants"]}


def agents(suite: Suite) -> list[str]:
    """The hosts that send archives."""
    return list(agent_plans(suite))
