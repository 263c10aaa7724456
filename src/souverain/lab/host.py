"""Start and stop one lab host: systemd-nspawn booting its root in the host's namespace.

The controller has no systemd of its own, so the container is neither registered with machined
nor given a scope unit (--register=no --keep-unit). It runs detached in a session of its own,
output to a log file, and is identified later by its exact --machine argument, never by PID alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from souverain.errors import LabError

STOP_GRACE_SECONDS = 15


def nspawn_argv(*, root: Path, machine: str, netns: str) -> list[str]:
    return [
        "systemd-nspawn",
        f"--directory={root}",
        f"--machine={machine}",
        "--boot",
        "--register=no",
        "--keep-unit",
        f"--network-namespace-path=/run/netns/{netns}",
        "--resolv-conf=off",  # the root carries the controller's resolver already
        "--link-journal=no",  # never touch the controller's /var/log/journal
        "--console=read-only",
        # The host has its own network namespace: CAP_NET_ADMIN there lets the base role load
        # its nftables ruleset without any power over the controller's network.
        "--capability=CAP_NET_ADMIN",
    ]


def start(*, root: Path, machine: str, netns: str, log: Path) -> int:
    """Boot the host in the background; return the PID of systemd-nspawn."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as output:
        process = subprocess.Popen(
            nspawn_argv(root=root, machine=machine, netns=netns),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own session and process group: Ctrl-C does not reach it
            cwd="/",
        )
    return process.pid


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_nspawn_of(pid: int, machine: str) -> bool:
    """True if ``pid`` is the systemd-nspawn running ``machine`` (guards against PID reuse)."""
    argv = _cmdline(pid)
    return bool(argv) and argv[0].endswith("systemd-nspawn") and f"--machine={machine}" in argv


def find_nspawn(machine: str) -> list[int]:
    """Every systemd-nspawn process running ``machine``, e.g. one whose PID was never saved."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and is_nspawn_of(int(entry.name), machine):
            found.append(int(entry.name))
    return sorted(found)


def container_init(nspawn_pid: int) -> int | None:
    """The PID (as the controller sees it) of the container's systemd, a child of nspawn."""
    try:
        children = Path(f"/proc/{nspawn_pid}/task/{nspawn_pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def is_running(pid: int | None, machine: str) -> bool:
    return pid is not None and is_nspawn_of(pid, machine)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop(pid: int, machine: str, *, grace: float = STOP_GRACE_SECONDS) -> None:
    """Ask the host to halt (SIGTERM to nspawn → poweroff), then kill its process group."""
    if not is_nspawn_of(pid, machine):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(pid)
        if not _alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)  # nspawn leads its own process group (start_new_session)
    for _ in range(50):
        _reap(pid)
        if not _alive(pid):
            return
        time.sleep(0.1)
    raise LabError(f"systemd-nspawn for {machine} (PID {pid}) does not die")


def kill_pids(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
