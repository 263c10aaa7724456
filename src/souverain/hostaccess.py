"""How verify and the live audit reach the deployed hosts: testinfra's ``ssh://`` backend with
one ssh_config written from the rendered inventory.

The ssh_config carries what the inventory tells Ansible (address, port, user, private key,
known_hosts and StrictHostKeyChecking from ``ansible_ssh_common_args``), so testinfra checks
exactly the hosts the deploy converged. testinfra's ``ansible://`` backend would run
``ansible-inventory``, which needs the vault password and decrypts every host's secrets only
to learn how to connect: reaching a host needs no secret at all.

Each host gets one shared (multiplexed) connection for the whole run: dozens of short
connections in a row trip sshd's MaxStartups and per-source penalties (OpenSSH 9.8+).
"""

from __future__ import annotations

import shlex
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from souverain.builddir import HostConnection

SSH_CONFIG_FILE = "ssh_config"
CLOSE_TIMEOUT_SECONDS = 10


def ssh_options(common_args: str) -> dict[str, str]:
    """``-o Key=Value`` pairs of ansible_ssh_common_args (other flags are not config)."""
    words = shlex.split(common_args)
    options: dict[str, str] = {}
    for index, word in enumerate(words):
        value = None
        if word == "-o" and index + 1 < len(words):
            value = words[index + 1]
        elif word.startswith("-o") and len(word) > 2:
            value = word[2:]
        if value and "=" in value:
            key, _, setting = value.partition("=")
            options[key.strip()] = setting.strip()
    return options


def needs_sudo(host: HostConnection) -> bool:
    """Whether commands must be raised to root on this host (Ansible's become)."""
    return host.user != "root"


def ssh_config(hosts: Iterable[HostConnection], control_dir: Path) -> str:
    """An ssh_config with one ``Host`` block per host, sharing connections per run."""
    blocks = []
    for host in hosts:
        lines = [
            f"Host {host.name}",
            f"  HostName {host.address}",
            f"  Port {host.port}",
            f"  User {host.user}",
            "  BatchMode yes",
            "  ConnectTimeout 10",
            "  ControlMaster auto",
            f"  ControlPath {control_dir}/%C",
            "  ControlPersist 30s",
        ]
        if host.key_file:
            lines += [f"  IdentityFile {host.key_file}", "  IdentitiesOnly yes"]
        options = ssh_options(host.ssh_common_args)
        lines += [f"  {key} {value}" for key, value in options.items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


@dataclass(frozen=True)
class HostAccess:
    """The hosts of one run, reachable by name through ``config_file``."""

    hosts: dict[str, HostConnection]
    config_file: Path

    @staticmethod
    def hostspec(name: str) -> str:
        return f"ssh://{name}"

    def sudo(self, names: Iterable[str]) -> bool:
        return any(needs_sudo(self.hosts[name]) for name in names)

    def pytest_options(self, names: list[str]) -> list[str]:
        """testinfra's pytest plugin options to run a suite against these hosts."""
        options = [
            f"--hosts={','.join(self.hostspec(name) for name in names)}",
            f"--ssh-config={self.config_file}",
        ]
        if self.sudo(names):
            options.append("--sudo")
        return options

    def testinfra_host(self, name: str) -> Any:
        """A testinfra Host for one host (testinfra is imported only when a host is reached)."""
        import testinfra

        return testinfra.get_host(
            self.hostspec(name),
            ssh_config=str(self.config_file),
            sudo=needs_sudo(self.hosts[name]),
        )

    def close(self) -> None:
        """Stop the shared connections (before their socket directory goes)."""
        for name in self.hosts:
            try:
                subprocess.run(
                    ["ssh", "-F", str(self.config_file), "-O", "exit", name],
                    capture_output=True,
                    check=False,
                    timeout=CLOSE_TIMEOUT_SECONDS,
                    stdin=subprocess.DEVNULL,
                )
            except (OSError, subprocess.TimeoutExpired):
                continue  # no ssh, or a master that hangs: its socket goes with the directory


@contextmanager
def host_access(hosts: Iterable[HostConnection]) -> Iterator[HostAccess]:
    """An ssh_config for ``hosts`` in a private directory that also holds the sockets of the
    shared connections (a short path: sockets have ~100 bytes of name); closed on exit."""
    chosen = {host.name: host for host in hosts}
    with tempfile.TemporaryDirectory(prefix="souverain-ssh-") as directory:
        config_file = Path(directory) / SSH_CONFIG_FILE
        config_file.write_text(ssh_config(chosen.values(), Path(directory)))
        access = HostAccess(chosen, config_file)
        try:
            yield access
        finally:
            access.close()
