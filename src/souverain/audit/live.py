"""The deployed hosts as the live audit runs commands on them, through testinfra.

They are reached the way verify reaches them (``souverain.hostaccess``): the build's inventory
says how Ansible connects to each host (address, port, user, private key, and the known_hosts
file with strict host key checking), so the audit checks the hosts the deploy converged and
nothing else.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from souverain.audit.context import SSH_FAILED, RunResult
from souverain.builddir import Inventory
from souverain.hostaccess import HostAccess, host_access


@dataclass
class TestinfraRunner:
    name: str
    address: str
    port: int
    access: HostAccess = field(repr=False)
    _host: Any = field(default=None, init=False, repr=False)

    def _connect(self) -> Any:
        if self._host is None:
            self._host = self.access.testinfra_host(self.name)
        return self._host

    def run(self, command: str) -> RunResult:
        # sh -c: rules use pipes and globs; testinfra's sudo wraps the whole line.
        try:
            result = self._connect().run("sh -c " + shlex.quote(command))
        except RuntimeError as error:  # testinfra: ssh itself failed (exit 255)
            stderr = getattr(error.args[0], "stderr", "") if error.args else ""
            return RunResult(SSH_FAILED, "", f"ssh to {self.name} failed: {stderr or error}")
        return RunResult(result.rc, result.stdout, result.stderr)


@contextmanager
def inventory_runners(inventory: Inventory) -> Iterator[dict[str, TestinfraRunner]]:
    """A runner per host of the inventory; their connections end with the block."""
    with host_access(inventory.hosts.values()) as access:
        yield {
            name: TestinfraRunner(name, host.address, host.port, access)
            for name, host in inventory.hosts.items()
        }


def reachability(runner: Any) -> str | None:
    """None when the host answers over SSH, else why not (the host's checks are not run)."""
    try:
        result = runner.run("true")
    except Exception as error:  # testinfra raises plain RuntimeError/AssertionError
        return f"cannot reach {runner.name} over SSH: {error}"
    if result.exit_status != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        return (
            f"cannot reach {runner.name} over SSH: {detail[-1] if detail else result.exit_status}"
        )
    return None
