"""The backup agents of a deployed suite, reached over SSH: what `souverain backup` drives.

Each host holding data runs /usr/local/sbin/souverain-backup (placed by roles/backup), which
prints one JSON document per command. This module finds those hosts in the build (their
plan is rendered there too), runs the agent on them through the same ssh_config verify
uses, and returns what each printed.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from souverain.builddir import BuildDir
from souverain.deployment import Deployment
from souverain.errors import SouverainError, UsageError
from souverain.hostaccess import HostAccess, host_access, needs_sudo

AGENT = "/usr/local/sbin/souverain-backup"
PLAN_FILE = "files/etc/souverain/backup/plan.json"
AGENT_TIMEOUT_SECONDS = 6 * 3600  # a first backup of a large host takes hours


class BackupError(SouverainError):
    """A backup, check or restore that did not succeed on a host."""


@dataclass(frozen=True)
class AgentResult:
    host: str
    status: int
    report: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status == 0 and bool(self.report.get("ok"))

    def problem(self) -> str:
        errors = self.report.get("errors") or {}
        if self.report.get("error"):
            return str(self.report["error"])
        return "; ".join(f"{what}: {message}" for what, message in errors.items()) or (
            f"the agent ended with status {self.status}"
        )


def _not_deployed() -> UsageError:
    return UsageError(
        "backup is not deployed in this suite",
        hint="enable components.backup in suite.yml, list `backup` on the host that keeps the "
        "repositories (or set components.backup.repository), then run `souverain deploy`",
    )


@dataclass
class Agents:
    """The hosts that send archives, with their plans (from the build) and a way to run the
    agent on them."""

    build: BuildDir
    access: HostAccess
    plans: dict[str, dict[str, Any]]  # host -> its plan.json

    def hosts_of(self, tenant: str | None = None, components: list[str] | None = None) -> list[str]:
        """The hosts holding data of ``tenant`` (of those components), in inventory order."""
        chosen = []
        for host, plan in self.plans.items():
            if tenant is None:
                chosen.append(host)
                continue
            parts = plan["tenants"].get(tenant, {}).get("components", {})
            if components:
                parts = {name: part for name, part in parts.items() if name in components}
            if parts:
                chosen.append(host)
        return chosen

    def tenants(self) -> list[str]:
        seen: list[str] = []
        for plan in self.plans.values():
            seen.extend(t for t in plan["tenants"] if t not in seen)
        return seen

    def run(self, host: str, *args: str) -> AgentResult:
        """Run the agent on ``host`` with ``args``; its JSON document (never raises on a
        failed agent: the caller says what failed where)."""
        command = shlex.join([AGENT, *args])
        if needs_sudo(self.access.hosts[host]):
            command = f"sudo -n {command}"
        argv = ["ssh", "-F", str(self.access.config_file), host, command]
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=AGENT_TIMEOUT_SECONDS,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return AgentResult(host, 1, {"ok": False, "error": "the agent did not finish in time"})
        lines = done.stdout.strip().splitlines()
        try:
            report = json.loads(lines[-1]) if lines else {}
        except ValueError:
            report = {}
        if not report:
            detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            report = {"ok": False, "error": f"{host}: {detail} (ssh exit {done.returncode})"}
        return AgentResult(host, done.returncode, report)


def _plans(build: BuildDir) -> dict[str, dict[str, Any]]:
    plans: dict[str, dict[str, Any]] = {}
    for host in build.inventory().hosts:
        path = build.root / "hosts" / host / PLAN_FILE
        if path.exists():
            plans[host] = json.loads(path.read_text())
    return plans


@contextmanager
def open_agents(deployment: Deployment) -> Iterator[Agents]:
    """The suite's agents, as the last render describes them; closed connections on exit."""
    build = BuildDir(deployment.build_dir)
    if not (build.root / "inventory").exists():
        raise UsageError(
            f"{deployment.build_dir} holds no build", hint="run `souverain deploy` first"
        )
    plans = _plans(build)
    if not plans:
        raise _not_deployed()
    inventory = build.inventory()
    with host_access(inventory.hosts[name] for name in plans) as access:
        yield Agents(build, access, plans)


def plan_path(build: BuildDir, host: str) -> Path:
    return build.root / "hosts" / host / PLAN_FILE
