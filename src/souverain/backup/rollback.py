"""`souverain backup rollback`: undo the last release change of a component, data and pin.

A deploy that changes a release the role upgrades in place (a manifest's `backup.releases`,
such as Synapse's) first archives the component's data on the hosts keeping it, every
tenant at one time, noted `before-<name>-<old release, dots as dashes>`. A rollback finds
the newest of those archives, puts that data back with the units stopped (a safety archive
first, as every restore), sets the old release in suite.yml (nothing else in the file
changes) and deploys the component, which starts the units again on the old release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from souverain.backup.agents import Agents, BackupError
from souverain.backup.operations import RestorePlan, Say, list_archives, plan_restore, restore
from souverain.errors import ConfigError, Problem, UsageError

_NOTE = re.compile(r"before-(?P<name>[a-z]{1,20})-(?P<release>[0-9][0-9a-z-]*)")


@dataclass(frozen=True)
class Release:
    """A release a component pins and upgrades in place (its manifest's `backup.releases`)."""

    name: str  # synapse
    component: str  # chat
    setting: str  # synapse_version

    @property
    def keys(self) -> tuple[str, str, str]:
        return ("components", self.component, self.setting)


def releases() -> dict[str, Release]:
    from souverain.model.components import CATALOG

    found = {}
    for component in CATALOG:
        data = component.manifest.backup
        for name, setting in (data.releases if data else {}).items():
            found[name] = Release(name, component.name, setting)
    return found


@dataclass
class Rollback:
    """The newest release change archived: where each tenant's data goes back from."""

    release: Release
    back_to: str  # the release that ran before the change
    time: str  # the archives' time
    archives: dict[str, str]  # tenant -> archive name (the same on every host keeping it)

    def as_dict(self) -> dict[str, Any]:
        return {
            "release": self.release.name,
            "component": self.release.component,
            "back_to": self.back_to,
            "setting": ".".join(self.release.keys),
            "time": self.time,
            "archives": self.archives,
        }


def find_rollback(agents: Agents) -> Rollback:
    """The newest archives taken before a release change, across every host and tenant."""
    known = releases()
    changes: dict[tuple[str, str], dict[str, str]] = {}  # (time, note) -> tenant -> archive
    for listed in list_archives(agents):
        if not listed.ok:
            raise BackupError(f"{listed.host}: cannot list the archives: {listed.problem()}")
        for tenant, archives in listed.report.get("tenants", {}).items():
            for archive in archives:
                parts = archive["name"].split("+")
                match = _NOTE.fullmatch(parts[2]) if len(parts) == 3 else None
                if match and match["name"] in known:
                    changes.setdefault((parts[1], parts[2]), {})[tenant] = archive["name"]
    if not changes:
        raise UsageError(
            "no release change was archived: there is nothing to roll back",
            hint="a deploy that changes a pinned release (Synapse's) with backups on archives "
            "the data first; `souverain backup list` shows the archives",
        )
    (time, note), archives = max(changes.items())  # the newest time (ISO 8601 sorts)
    match = _NOTE.fullmatch(note)
    assert match is not None
    return Rollback(known[match["name"]], match["release"].replace("-", "."), time, archives)


def plan_rollback(agents: Agents, rollback: Rollback) -> list[RestorePlan]:
    """One restore per tenant: the component's data from the archive before the change."""
    return [
        plan_restore(agents, tenant, components=[rollback.release.component], archive=archive)
        for tenant, archive in sorted(rollback.archives.items())
    ]


def pinned_text(suite_file: Path, rollback: Rollback) -> tuple[str, str]:
    """(suite.yml as it is, suite.yml with the old release pinned): checked to be a valid
    suite before anything is put back; nothing is written here."""
    from souverain.model.loader import load_suite_text, read_suite_text
    from souverain.model.yamledit import LayoutRefused
    from souverain.model.yamlset import set_string

    text = read_suite_text(suite_file)
    setting = ".".join(rollback.release.keys)
    try:
        pinned = set_string(text, rollback.release.keys, rollback.back_to)
    except LayoutRefused as refused:
        problem = Problem(
            f"cannot set {setting} cleanly: {refused.message}",
            str(suite_file),
            refused.line,
            path=setting,
            hint=refused.hint,
        )
        raise ConfigError([problem]) from None
    try:
        load_suite_text(suite_file, pinned)
    except ConfigError as error:
        raise ConfigError(
            error.problems,
            summary=f"with {setting}: {rollback.back_to}, suite.yml would not be valid",
        ) from None
    return text, pinned


def _quiet(_: str) -> None:
    return None


def put_back(agents: Agents, plans: list[RestorePlan], say: Say = _quiet) -> list[dict[str, Any]]:
    """Every tenant's data back, its units left stopped for the deploy to start on the old
    release. When one tenant's restore fails (its own units start again), the rollback
    stops there and the tenants already put back start again too, on the release that
    runs: each has its safety archive of what was there before."""
    reports: list[dict[str, Any]] = []
    finished = False
    try:
        for plan in plans:
            reports.append(restore(agents, plan, say, keep_stopped=True))
            if not reports[-1]["ok"]:
                return reports
        finished = True
        return reports
    finally:
        if not finished:
            for done, report in zip(plans, reports, strict=False):
                if not report["ok"]:
                    continue
                components = [arg for c in done.components or [] for arg in ("--component", c)]
                for host in done.stops:
                    say(f"{host}: starting {', '.join(done.stops[host])}")
                    agents.run(host, "start", "--tenant", done.tenant, *components)
