"""Connections to the deployed hosts, through testinfra's SSH backend.

The build's inventory (build/inventory/hosts.yml) says how Ansible reaches each host: address,
port, user, private key, and the known_hosts file with strict host key checking. The audit
uses exactly that, so it checks the hosts the deploy converged and nothing else.
"""

from __future__ import annotations

import shlex
import tempfile
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from souverain.audit.context import SSH_FAILED, RunResult
from souverain.builddir import Inventory

CONNECT_ARGS = "-o BatchMode=yes -o ConnectTimeout=10"


@dataclass
class TestinfraRunner:
    name: str
    address: str
    port: int
    user: str
    identity_file: str | None = None
    ssh_args: str = ""
    _host: Any = field(default=None, init=False, repr=False)

    def _connect(self) -> Any:
        if self._host is None:
            import testinfra

            # One multiplexed connection per host: dozens of short connections in a row trip
            # sshd's MaxStartups and per-source penalties (OpenSSH 9.8+).
            options: dict[str, Any] = {
                "ssh_extra_args": f"{self.ssh_args} {CONNECT_ARGS}".strip(),
                "controlpath": f"{_control_dir()}/{self.name}",
            }
            if self.identity_file:
                options["ssh_identity_file"] = self.identity_file
            if self.user != "root":
                options["sudo"] = True
            self._host = testinfra.get_host(
                f"ssh://{self.user}@{self.address}:{self.port}", **options
            )
        return self._host

    def run(self, command: str) -> RunResult:
        # sh -c: rules use pipes and globs; testinfra's sudo wraps the whole line.
        try:
            result = self._connect().run("sh -c " + shlex.quote(command))
        except RuntimeError as error:  # testinfra: ssh itself failed (exit 255)
            stderr = getattr(error.args[0], "stderr", "") if error.args else ""
            return RunResult(SSH_FAILED, "", f"ssh to {self.name} failed: {stderr or error}")
        return RunResult(result.rc, result.stdout, result.stderr)


@cache
def _control_dir() -> str:
    """A private directory for the SSH control sockets of this run (short path: sun_path)."""
    return tempfile.mkdtemp(prefix="souverain-ssh-")


def runners_from_inventory(inventory: Inventory) -> dict[str, TestinfraRunner]:
    return {
        name: TestinfraRunner(
            name=name,
            address=host.address,
            port=host.port,
            user=host.user,
            identity_file=host.key_file,
            ssh_args=host.ssh_common_args,
        )
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
