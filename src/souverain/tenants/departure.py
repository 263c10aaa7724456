"""Tenants that left suite.yml but are still on the hosts, and taking them away.

Each host keeps a record per tenant (/etc/souverain/tenants/<id>.json, rendered by base from
each component's _tenant_footprint.j2) that stays when the tenant leaves suite.yml. Before a
deploy, one SSH round trip per host reads them (the tool `souverain-tenant list`, placed by
base); a record whose tenant suite.yml no longer has is a departure. A whole deploy takes
departed tenants away only once the hoster named each (`--remove-tenant ID`, or typed its
id at the prompt) and after their data was exported; the hosts then run
`souverain-tenant remove ID` at the end of the deploy.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from souverain.backup.agents import Agents
from souverain.builddir import BuildDir, Inventory
from souverain.errors import UsageError
from souverain.hostaccess import HostAccess, host_access, needs_sudo
from souverain.model.suite import Suite
from souverain.tenants.export import Export, export_tenant

TOOL = "/usr/local/sbin/souverain-tenant"
READ_TIMEOUT_SECONDS = 60
NO_RECORDS = '{"ok": true, "records": {}}'
Say = Callable[[str], None]


@dataclass
class Departure:
    """A tenant suite.yml no longer has, and what each host still holds of it."""

    tenant: str
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # host -> its record

    def destroyed(self) -> dict[str, list[str]]:
        """host -> what removing the tenant there destroys, in words."""
        shown: dict[str, list[str]] = {}
        for host, record in self.records.items():
            lines: list[str] = []
            for component, part in sorted(record.get("components", {}).items()):
                items = [
                    *(f"unit {unit}" for unit in part.get("units", [])),
                    *(f"database {db['name']}" for db in part.get("databases", [])),
                    *(f"directory subtree {tree}" for tree in part.get("subtrees", [])),
                    *(f"system user {user}" for user in part.get("users", [])),
                    *part.get("paths", []),
                ]
                if items and component != "base":
                    lines.append(f"{component}: " + ", ".join(items))
            shown[host] = lines
        return shown

    def backup_plans(self) -> dict[str, dict[str, Any]]:
        """host -> a backup plan holding only this tenant (what its record says the backup
        kept there), for the export."""
        plans = {}
        for host, record in self.records.items():
            data = record.get("components", {}).get("backup", {}).get("data")
            if data:
                plans[host] = {"host": host, "tenants": {self.tenant: data}}
        return plans

    def as_dict(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "hosts": self.destroyed()}


@dataclass
class HostRecords:
    records: dict[str, dict[str, dict[str, Any]]]  # host -> tenant -> record
    unread: dict[str, str]  # host -> why its records could not be read
    # host -> what is named like a tenant's object but belongs to no recorded tenant
    orphans: dict[str, list[dict[str, str]]] = field(default_factory=dict)


def _read_one(access: HostAccess, host: str) -> dict[str, Any] | str:
    command = shlex.join([TOOL, "list"])
    if needs_sudo(access.hosts[host]):
        command = f"sudo -n {command}"
    # A host the tool has not reached yet (never deployed since) holds no record.
    shell = f"if [ -x {TOOL} ]; then {command}; else echo {shlex.quote(NO_RECORDS)}; fi"
    try:
        done = subprocess.run(
            ["ssh", "-F", str(access.config_file), host, shell],
            capture_output=True,
            text=True,
            timeout=READ_TIMEOUT_SECONDS,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return "no answer in time"
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"{detail} (ssh exit {done.returncode})"
    if not isinstance(report, dict) or not isinstance(report.get("records"), dict):
        return "the tool's answer is not a list of records"
    return report


def read_records(access: HostAccess, hosts: Iterable[str]) -> HostRecords:
    found = HostRecords({}, {})
    for host in hosts:
        answer = _read_one(access, host)
        if isinstance(answer, str):
            found.unread[host] = answer
            continue
        found.records[host] = answer["records"]
        if answer.get("orphans"):
            found.orphans[host] = answer["orphans"]
    return found


def read_inventory_records(inventory: Inventory) -> HostRecords:
    """The records (and orphans) of every host of the inventory, one SSH round trip each."""
    with host_access(inventory.hosts.values()) as access:
        return read_records(access, inventory.hosts)


def departures(suite: Suite, found: HostRecords) -> list[Departure]:
    """The tenants with a record on some host and no entry in suite.yml, in id order."""
    known = {tenant.id for tenant in suite.tenants}
    gone: dict[str, Departure] = {}
    for host, records in found.records.items():
        for tenant, record in records.items():
            if tenant not in known:
                gone.setdefault(tenant, Departure(tenant)).records[host] = record
    return [gone[tenant] for tenant in sorted(gone)]


def find_departures(inventory: Inventory, suite: Suite) -> tuple[list[Departure], dict[str, str]]:
    found = read_inventory_records(inventory)
    return departures(suite, found), found.unread


def refuse_unconfirmed(departed: list[Departure], confirmed: Iterable[str]) -> None:
    """UsageError (exit 2) naming what the deploy would destroy, when a departed tenant was not
    named by --remove-tenant; nothing has changed then."""
    missing = [d for d in departed if d.tenant not in set(confirmed)]
    if not missing:
        return
    lines = []
    for departure in missing:
        lines.append(f"tenant {departure.tenant} is no longer in suite.yml; its removal destroys:")
        for host, items in departure.destroyed().items():
            lines += [f"  {host}: {item}" for item in items] or [f"  {host}: its record only"]
    flags = " ".join(f"--remove-tenant {d.tenant}" for d in missing)
    raise UsageError(
        "\n".join(lines),
        hint=f"`souverain deploy {flags}` exports its data, then removes it from the hosts; "
        "or put the tenant back in suite.yml to keep it",
    )


def export_departed(
    build: BuildDir, inventory: Inventory, departed: list[Departure], destination: Path, say: Say
) -> dict[str, Export]:
    """Each departed tenant's data exported (encrypted) before anything is removed; a tenant
    whose records name no kept data (no backup deployed) cannot be exported: UsageError."""
    exports: dict[str, Export] = {}
    for departure in departed:
        plans = departure.backup_plans()
        if not plans:
            raise UsageError(
                f"tenant {departure.tenant}'s data cannot be exported before its removal: "
                "its hosts' records name no data kept by the backup",
                hint="enable components.backup and deploy before removing a tenant, or put "
                "the tenant back in suite.yml",
            )
        with host_access(inventory.hosts[host] for host in plans) as access:
            agents = Agents(build, access, plans)
            exports[departure.tenant] = export_tenant(
                agents, departure.tenant, destination, say=say
            )
    return exports
