"""The build directory (``build/``) as every stage reads it: the one reader of its layout.

render writes it (render/engine.py, render/build.py); plan, deploy, verify and the audit read
it here and nowhere else:

- ``manifest.json``: one entry per rendered file (path, host, destination, mode, ...);
- ``inventory/hosts.yml``: the Ansible inventory, written as JSON (which YAML reads too):
  each host with its connection variables, and one group per component;
- ``inventory/host_vars/<host>/souverain.json`` and ``inventory/group_vars/all/souverain.json``:
  the variables the roles read (plain JSON; secrets live in encrypted files beside them).

The writers (render/engine.py, render/build.py) take these paths from here too.

Reading fails with BuildReadError, which names the file; each stage turns it into its own
error and advice. Only the standard library is imported: ``validate`` and ``--help`` stay light.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from souverain.errors import BuildReadError

MANIFEST_FILE = "manifest.json"
INVENTORY_DIR = "inventory"
HOSTS_FILE = f"{INVENTORY_DIR}/hosts.yml"
VARS_FILE_NAME = "souverain.json"
GROUP_VARS_FILE = f"{INVENTORY_DIR}/group_vars/all/{VARS_FILE_NAME}"


def host_vars_file(host: str) -> str:
    """Where a host's variables are, relative to the build directory."""
    return f"{INVENTORY_DIR}/host_vars/{host}/{VARS_FILE_NAME}"


def host_secret_vars_file(host: str) -> str:
    """Where a host's secret variables are (vault-encrypted: only Ansible reads them)."""
    return f"{INVENTORY_DIR}/host_vars/{host}/secrets.yml"


class ManifestEntry(TypedDict, total=False):
    """One rendered file as manifest.json lists it (render/engine.py: manifest_entry)."""

    path: str  # relative to the build directory
    host: str | None  # None for files of no host (the inventory...)
    dest: str | None
    sha256: str
    component: str
    tenant: str | None
    mode: str
    owner: str
    group: str
    service: str | None
    secret: bool
    stored_sha256: str


@dataclass(frozen=True)
class HostConnection:
    """How Ansible reaches one host: the ``ansible_*`` variables of the inventory."""

    name: str
    address: str
    port: int = 22
    user: str = "root"
    key_file: str | None = None
    ssh_common_args: str = ""  # ansible_ssh_common_args (known_hosts, strict checking)


@dataclass(frozen=True)
class Inventory:
    hosts: dict[str, HostConnection]  # in inventory order
    groups: dict[str, list[str]]  # component -> its hosts (only hosts of the inventory)

    @property
    def host_names(self) -> list[str]:
        return list(self.hosts)


@dataclass(frozen=True)
class BuildDir:
    """A build directory on disk (``Deployment.build_dir``, or a copy of one)."""

    root: Path

    @classmethod
    def of_inventory(cls, inventory_dir: Path) -> BuildDir:
        """The build an inventory directory belongs to (``$SOUVERAIN_INVENTORY`` in role tests)."""
        return cls(inventory_dir.parent)

    def has(self, relative: str) -> bool:
        """Whether the build holds this file (``HOSTS_FILE``, ``host_vars_file(host)``...)."""
        return (self.root / relative).is_file()

    @property
    def inventory_dir(self) -> Path:
        """What ``ansible-playbook -i`` is given."""
        return self.root / INVENTORY_DIR

    def manifest(self) -> list[ManifestEntry]:
        """Every rendered file, sorted by path."""
        path = self.root / MANIFEST_FILE
        data = _read_json(path, "the manifest")
        return list(data.get("files", []))

    def inventory(self) -> Inventory:
        """Hosts with their connection variables, and component groups."""
        path = self.root / HOSTS_FILE
        data = _read_json(path, "the inventory")
        try:
            everything = data["all"]
        except KeyError as error:
            raise BuildReadError("the inventory", path, str(error)) from None
        hosts = {
            name: _connection(name, variables or {})
            for name, variables in (everything.get("hosts") or {}).items()
        }
        groups = {
            group: [host for host in (members or {}).get("hosts") or {} if host in hosts]
            for group, members in (everything.get("children") or {}).items()
        }
        return Inventory(hosts, groups)

    def host_vars(self, host: str) -> dict[str, Any]:
        """The variables render gave one host (its components' settings, files, openings)."""
        return _read_json(self.root / host_vars_file(host), f"the variables of {host}")

    def group_vars(self) -> dict[str, Any]:
        """The variables every host shares (build directory, suite name)."""
        return _read_json(self.root / GROUP_VARS_FILE, "the shared variables")


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read())
    except (OSError, ValueError) as error:
        raise BuildReadError(what, path, str(error)) from None
    if not isinstance(data, dict):
        raise BuildReadError(what, path, "not a JSON object")
    return data


def _connection(name: str, variables: dict[str, Any]) -> HostConnection:
    key_file = variables.get("ansible_ssh_private_key_file")
    return HostConnection(
        name=name,
        address=str(variables.get("ansible_host") or name),
        port=int(variables.get("ansible_port") or 22),
        user=str(variables.get("ansible_user") or "root"),
        key_file=str(key_file) if key_file else None,
        ssh_common_args=str(variables.get("ansible_ssh_common_args") or ""),
    )
