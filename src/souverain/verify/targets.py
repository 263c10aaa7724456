"""The hosts to verify, read from the rendered inventory, and an ssh_config to reach them.

verify uses testinfra's ``ssh://`` backend with an ssh_config generated from ``hosts.yml``
(address, port, user, key, known_hosts and StrictHostKeyChecking, exactly as Ansible connects).
Its ``ansible://`` backend would run ``ansible-inventory``, which needs the vault password and
decrypts every host's secrets only to learn how to connect: verify needs no secret at all.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from souverain.errors import VerifyError


@dataclass(frozen=True)
class Target:
    name: str
    address: str
    port: int = 22
    user: str = "root"
    key_file: str | None = None
    options: dict[str, str] = field(default_factory=dict)  # from ansible_ssh_common_args

    @property
    def needs_sudo(self) -> bool:
        return self.user != "root"


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


def read_targets(inventory_dir: Path) -> tuple[dict[str, Target], dict[str, list[str]]]:
    """Targets by host name, and component group -> host names."""
    path = inventory_dir / "hosts.yml"
    try:
        data = json.loads(path.read_text())["all"]
    except (OSError, ValueError, KeyError) as error:
        raise VerifyError(
            f"cannot read the inventory {path}: {error}",
            hint="Run `souverain render` (or `souverain deploy`) first.",
        ) from None
    targets = {}
    for name, hostvars in (data.get("hosts") or {}).items():
        hostvars = hostvars or {}
        targets[name] = Target(
            name=name,
            address=str(hostvars.get("ansible_host") or name),
            port=int(hostvars.get("ansible_port") or 22),
            user=str(hostvars.get("ansible_user") or "root"),
            key_file=hostvars.get("ansible_ssh_private_key_file"),
            options=ssh_options(str(hostvars.get("ansible_ssh_common_args") or "")),
        )
    groups = {
        group: [host for host in (members or {}).get("hosts") or {} if host in targets]
        for group, members in (data.get("children") or {}).items()
    }
    return targets, groups


def ssh_config(targets: list[Target], control_dir: Path) -> str:
    """An ssh_config with one ``Host`` block per target, sharing connections per run."""
    blocks = []
    for target in targets:
        lines = [
            f"Host {target.name}",
            f"  HostName {target.address}",
            f"  Port {target.port}",
            f"  User {target.user}",
            "  BatchMode yes",
            "  ConnectTimeout 10",
            "  ControlMaster auto",
            f"  ControlPath {control_dir}/%C",
            "  ControlPersist 30s",
        ]
        if target.key_file:
            lines += [f"  IdentityFile {target.key_file}", "  IdentitiesOnly yes"]
        lines += [f"  {key} {value}" for key, value in target.options.items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
