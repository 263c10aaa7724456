"""SSH to lab hosts: the lab's client key, host keys known before boot, ssh command lines."""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from souverain.lab.commands import run

KEY_NAME = "id_ed25519"
KNOWN_HOSTS_NAME = "known_hosts"
HOST_KEY_TYPES = ("ed25519", "ecdsa", "rsa")


def ensure_client_key(path: Path, *, comment: str) -> Path:
    """Create an ed25519 key pair at ``path`` (0600) unless one is there; return the public key."""
    public = path.with_name(path.name + ".pub")
    if not (path.is_file() and public.is_file()):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        public.unlink(missing_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])
    path.chmod(0o600)
    return public


def generate_host_keys(root: Path, *, comment: str) -> dict[str, str]:
    """Generate the host's SSH host keys inside its root; return "type key" lines by type."""
    ssh_dir = root / "etc/ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True)
    public_keys: dict[str, str] = {}
    for key_type in HOST_KEY_TYPES:
        private = ssh_dir / f"ssh_host_{key_type}_key"
        private.unlink(missing_ok=True)
        private.with_name(private.name + ".pub").unlink(missing_ok=True)
        argv = ["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", comment, "-f", str(private)]
        run(argv)
        fields = private.with_name(private.name + ".pub").read_text().split()
        public_keys[key_type] = f"{fields[0]} {fields[1]}"
    return public_keys


def known_hosts_lines(names: list[str], public_keys: dict[str, str]) -> list[str]:
    """One known_hosts line per key type, valid for every name the host is reached by."""
    pattern = ",".join(names)
    return [f"{pattern} {public_keys[key_type]}" for key_type in HOST_KEY_TYPES]


@dataclass(frozen=True)
class SshAccess:
    """How to reach lab hosts: the key and known_hosts written into the deployment directory."""

    key: Path
    known_hosts: Path

    def argv(
        self, address: str, command: list[str] | None = None, *, tty: bool = False
    ) -> list[str]:
        """ssh's command line; ``command`` is passed as ssh passes it (joined, run by a shell)."""
        options = [
            "-i", str(self.key),
            "-o", "IdentitiesOnly=yes",
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "ConnectTimeout=3",
            "-o", "ServerAliveInterval=10",
            "-o", "LogLevel=ERROR",
        ]  # fmt: skip
        if command is None:
            return ["ssh", *options, f"root@{address}"]
        return ["ssh", *options, "-o", "BatchMode=yes", "-T" if not tty else "-t",
                f"root@{address}", "--", *command]  # fmt: skip

    def run(
        self, address: str, command: list[str], *, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` (quoted for the remote shell); never raises for its exit status."""
        return run(self.argv(address, [shlex.join(command)]), check=False, timeout=timeout)
