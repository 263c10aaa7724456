"""What `souverain backup` does with the agents: run, list, check, restore.

A run gives every host the same archive time, so one run is one archive name per tenant
across the suite ("<tenant>+<UTC time>"). A restore puts back one tenant (or some of its
components, or one person's mailbox) from an archive on each host holding that tenant's
data: it takes a safety archive of the current state first ("…+before-restore"), stops the
units the components name, puts the data back host by host, and starts the units again
whatever happened.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from souverain.backup.agents import AgentResult, Agents, BackupError
from souverain.errors import UsageError

SAFETY_NOTE = "before-restore"
Say = Callable[[str], None]


def utc_stamp(moment: datetime.datetime | None = None) -> str:
    moment = moment or datetime.datetime.now(datetime.UTC)
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def archive_time(name: str) -> str:
    """The UTC time of an archive from its name '<tenant>+<time>[+note]'."""
    parts = name.split("+")
    return parts[1] if len(parts) > 1 else ""


def _quiet(_: str) -> None:
    return None


def run_backup(
    agents: Agents,
    *,
    hosts: list[str] | None = None,
    tenants: list[str] | None = None,
    say: Say = _quiet,
) -> list[AgentResult]:
    """One archive per tenant on each host (all with the same time)."""
    stamp = utc_stamp()
    chosen = hosts or agents.hosts_of()
    unknown = [h for h in chosen if h not in agents.plans]
    if unknown:
        raise UsageError(
            f"{', '.join(unknown)} holds no data to back up",
            hint=f"hosts with data: {', '.join(agents.plans)}",
        )
    results = []
    for host in chosen:
        args = ["run", "--time", stamp]
        for tenant in tenants or []:
            if tenant in agents.plans[host]["tenants"]:
                args += ["--tenant", tenant]
        if tenants and len(args) == 3:
            continue  # none of those tenants has data here
        say(f"backing up {host}")
        results.append(agents.run(host, *args))
    return results


def list_archives(agents: Agents, tenant: str | None = None) -> list[AgentResult]:
    args = ["list", *(["--tenant", tenant] if tenant else [])]
    return [agents.run(host, *args) for host in agents.hosts_of(tenant)]


def check_repositories(agents: Agents, say: Say = _quiet) -> list[AgentResult]:
    results = []
    for host in agents.hosts_of():
        say(f"checking the repository of {host}")
        results.append(agents.run(host, "check"))
    return results


@dataclass
class RestorePlan:
    """What a restore will do, shown before it does it."""

    tenant: str
    components: list[str] | None
    user: str | None
    archives: dict[str, str]  # host -> the archive it restores from
    overwrites: dict[str, list[str]] = field(default_factory=dict)  # host -> what is replaced
    stops: dict[str, list[str]] = field(default_factory=dict)  # host -> units stopped

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "components": self.components,
            "user": self.user,
            "archives": self.archives,
            "overwrites": self.overwrites,
            "stops": self.stops,
        }


def _choose(archives: list[dict[str, Any]], archive: str | None, at: str | None) -> str | None:
    every = [a["name"] for a in archives]
    names = [n for n in every if not n.endswith(f"+{SAFETY_NOTE}")]
    if archive:
        if archive in every:
            return archive
        by_time = [n for n in names if archive_time(n) == archive]
        return by_time[-1] if by_time else None
    if at:
        names = [n for n in names if archive_time(n) <= at]
    return max(names, key=archive_time) if names else None


def plan_restore(
    agents: Agents,
    tenant: str,
    *,
    components: list[str] | None = None,
    user: str | None = None,
    archive: str | None = None,
    at: str | None = None,
    only_host: str | None = None,
) -> RestorePlan:
    """Which archive each host restores from and what it replaces; refuses what cannot be.
    With ``only_host``, only that host's part of the tenant (a rebuilt host), the tenant's
    units stopped on every host meanwhile."""
    if tenant not in agents.tenants():
        raise UsageError(
            f"no host keeps data of tenant {tenant!r}",
            hint=f"tenants with data: {', '.join(agents.tenants()) or 'none'}",
        )
    if user and components and components != ["mail"]:
        raise UsageError("--user restores a person's mailbox: use it with --component mail")
    if user:
        components = ["mail"]
    hosts = agents.hosts_of(tenant, components)
    if only_host is not None:
        hosts = [host for host in hosts if host == only_host]
    if not hosts:
        raise UsageError(f"tenant {tenant} has no {', '.join(components or [])} data")
    plan = RestorePlan(tenant, components, user, {})
    missing = []
    for host in hosts:
        listed = agents.run(host, "list", "--tenant", tenant)
        if not listed.ok:
            raise BackupError(f"{host}: cannot list the archives: {listed.problem()}")
        chosen = _choose(listed.report["tenants"].get(tenant, []), archive, at)
        if chosen is None:
            missing.append(host)
            continue
        plan.archives[host] = chosen
        parts = agents.plans[host]["tenants"][tenant]["components"]
        if components:
            parts = {name: part for name, part in parts.items() if name in components}
        what: list[str] = []
        for name, part in parts.items():
            if user:
                what += [p.replace("{user}", user) for p in part["user_paths"]]
                continue
            what += part["paths"]
            what += [f"{name} entries (dump)"] if part["dump"] else []
            what += [f"database {d['name']}" for d in part["databases"]]
        plan.overwrites[host] = what
        stops = [] if user else [u for part in parts.values() for u in part["stop"]]
        if stops:
            plan.stops[host] = stops
    if only_host is not None and not user:
        # A rebuilt host's data is read by units on other hosts too (a homeserver elsewhere
        # reads its database on this one): they stop as well while it comes back.
        for other in agents.hosts_of(tenant, components):
            parts = agents.plans[other]["tenants"][tenant]["components"]
            units = [
                unit
                for name, part in parts.items()
                if not components or name in components
                for unit in part["stop"]
            ]
            if units and other not in plan.stops:
                plan.stops[other] = units
    if missing:
        which = (
            f"archive {archive}" if archive else (f"an archive before {at}" if at else "an archive")
        )
        raise UsageError(
            f"{', '.join(missing)} has no {which} of tenant {tenant}",
            hint="`souverain backup list --tenant " + tenant + "` shows what each host keeps",
        )
    return plan


def restore(
    agents: Agents, plan: RestorePlan, say: Say = _quiet, *, keep_stopped: bool = False
) -> dict[str, Any]:
    """Safety archive, stop, put back, start: the report of each step per host. With
    ``keep_stopped`` the units stay stopped after a put-back without error (a deploy that
    follows starts them, on another release); after an error they start again."""
    hosts = list(plan.archives)
    tenant_args = ["--tenant", plan.tenant]
    component_args = [arg for c in plan.components or [] for arg in ("--component", c)]
    report: dict[str, Any] = {**plan.as_dict(), "safety": {}, "restored": {}, "errors": {}}
    stamp = utc_stamp()
    for host in hosts:
        say(f"{host}: safety archive of tenant {plan.tenant} before the restore")
        safety = agents.run(host, "run", *tenant_args, "--note", SAFETY_NOTE, "--time", stamp)
        if not safety.ok:
            raise BackupError(
                f"{host}: the safety archive failed, nothing was restored: {safety.problem()}"
            )
        report["safety"][host] = f"{plan.tenant}+{stamp}+{SAFETY_NOTE}"
    stopped: list[str] = []
    try:
        for host in plan.stops:
            say(f"{host}: stopping {', '.join(plan.stops[host])}")
            result = agents.run(host, "stop", *tenant_args, *component_args)
            stopped.append(host)
            if not result.ok:
                raise BackupError(f"{host}: {result.problem()}")
        for host in hosts:
            say(f"{host}: putting back tenant {plan.tenant} from {plan.archives[host]}")
            args = ["restore", *tenant_args, "--archive", plan.archives[host], *component_args]
            if plan.user:
                args += ["--user", plan.user]
            result = agents.run(host, *args)
            report["restored"][host] = result.report.get("restored", [])
            if not result.ok:
                report["errors"][host] = result.problem()
    finally:
        if keep_stopped and not report["errors"] and len(report["restored"]) == len(hosts):
            stopped = []
        for host in stopped:
            say(f"{host}: starting {', '.join(plan.stops[host])}")
            result = agents.run(host, "start", *tenant_args, *component_args)
            if not result.ok:
                report["errors"][f"{host} (start)"] = result.problem()
    report["ok"] = not report["errors"]
    return report
