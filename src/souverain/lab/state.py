"""What a lab created on the controller, saved before each resource is created.

`lab down` reads it to undo everything, in reverse, even after a crash half way through `up`.
It lives under /var/lib/souverain/lab/<name>/state.json, next to the hosts' roots.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from souverain.errors import LabError
from souverain.fsutil import atomic_write

LAB_ROOT = Path("/var/lib/souverain/lab")
STATE_FILE = "state.json"
STATE_VERSION = 1


@dataclass
class HostState:
    index: int
    name: str
    address: str
    netns: str
    veth: str
    machine: str
    root: str
    log: str
    pid: int | None = None
    started_at: float | None = None  # time.time() when systemd-nspawn was started
    boot_seconds: float | None = None  # from start until SSH answered and systemd was up
    system_state: str | None = None  # `systemctl is-system-running` once it settled
    failed_units: list[str] = field(default_factory=list)


@dataclass
class LabState:
    name: str
    subnet: str
    gateway: str
    bridge: str
    nft_table: str
    release: str
    image: str
    directory: str  # the deployment directory `up` wrote
    domain: str
    hosts: list[HostState] = field(default_factory=list)
    nat_created: bool = False
    bridge_created: bool = False
    ip_forward_before: str | None = None
    phase: str = "creating"  # creating → up; `down` removes the file last
    version: int = STATE_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LabState:
        data = json.loads(text)
        hosts = [HostState(**host) for host in data.pop("hosts", [])]
        return cls(hosts=hosts, **data)

    def host(self, wanted: str) -> HostState | None:
        """Find a host by name (host1), index (1), address or machine name."""
        for host in self.hosts:
            if wanted in (host.name, str(host.index), host.address, host.machine):
                return host
            if wanted.split(".", 1)[0] == host.name and wanted.endswith(self.domain):
                return host
        return None


def lab_dir(name: str, base: Path = LAB_ROOT) -> Path:
    return base / name


def state_path(name: str, base: Path = LAB_ROOT) -> Path:
    return lab_dir(name, base) / STATE_FILE


def save(state: LabState, base: Path = LAB_ROOT) -> None:
    atomic_write(state_path(state.name, base), state.to_json(), mode=0o600)


def load(name: str, base: Path = LAB_ROOT) -> LabState | None:
    path = state_path(name, base)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        return LabState.from_json(text)
    except (ValueError, TypeError) as error:
        raise LabError(
            f"lab state {path} is unreadable: {error}",
            hint="`souverain lab down` still removes what carries the lab's name prefix",
        ) from error


def known_labs(base: Path = LAB_ROOT) -> list[str]:
    if not base.is_dir():
        return []
    return sorted(p.parent.name for p in base.glob(f"*/{STATE_FILE}"))
