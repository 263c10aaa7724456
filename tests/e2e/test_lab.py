"""`souverain lab` for real: hosts boot systemd, answer SSH, reach each other and Debian."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import RunningLab


# The extra labs these tests bring up, named after the session's lab (SOUVERAIN_E2E_LAB) so
# that two sessions on one machine do not meet.
_PREFIX = os.environ.get("SOUVERAIN_E2E_LAB", "e2e")[:4]
SOLO = f"{_PREFIX}solo"
INTERRUPTED = f"{_PREFIX}int"
pytestmark = pytest.mark.lab


LAB_OWNER = re.compile(r"svl[-_]([a-z][a-z0-9]{0,7})(?:-\d+)?\b")


def other_labs(keep: set[str]) -> tuple[set[str], set[str]]:
    """Names of other labs on this machine (another engineer's, run concurrently) and the network
    namespaces their hosts use: a shared machine is not a clean one, CI is."""
    netns_dir = Path("/run/netns")
    owners = {p.name for p in Path("/var/lib/souverain/lab").glob("*") if p.is_dir()}
    for netns in netns_dir.iterdir() if netns_dir.is_dir() else []:
        match = LAB_OWNER.match(netns.name)
        if match:
            owners.add(match.group(1))
    others = owners - keep
    inodes = set()
    for netns in netns_dir.glob("svl-*"):
        match = LAB_OWNER.match(netns.name)
        if match and match.group(1) in others:
            with contextlib.suppress(OSError):
                inodes.add(f"net:[{netns.stat().st_ino}]")
    return others, inodes


def controller_snapshot(keep: set[str]) -> dict[str, list[str]]:
    """What a lab may create on the controller, listed so a before/after comparison is exact.

    Entries that belong to labs outside ``keep`` are left out (other people's labs)."""
    others, foreign_netns = other_labs(keep)

    def ours(text: str) -> bool:
        return not any(m.group(1) in others for m in LAB_OWNER.finditer(text))

    def lines(argv: list[str]) -> list[str]:
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        return sorted(line.strip() for line in out.splitlines() if line.strip() and ours(line))

    links = json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True, text=True,
                                      check=True).stdout)  # fmt: skip
    mountinfo = Path("/proc/self/mountinfo").read_text().splitlines()
    mounts = sorted(p for p in (line.split()[4] for line in mountinfo) if ours(p))
    nspawn, net_namespaces = [], set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if stat.rsplit(") ", 1)[1].startswith("Z"):
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            netns = os.readlink(entry / "ns" / "net")
        except (OSError, IndexError):
            continue
        if netns not in foreign_netns:
            net_namespaces.add(netns)
        command = b" ".join(argv).decode(errors="replace")
        if argv and argv[0].endswith(b"systemd-nspawn") and ours(command):
            nspawn.append(entry.name)
    return {
        "netns": lines(["ip", "netns", "list"]),
        "links": sorted(link["ifname"] for link in links if ours(link["ifname"])),
        "nft tables": lines(["nft", "list", "tables"]),
        "routes": lines(["ip", "-4", "route", "show", "table", "all"]),
        "mounts": mounts,
        "nspawn processes": sorted(nspawn),
        "network namespaces in use": sorted(net_namespaces),
    }


def network_namespaces() -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return listed.stdout.splitlines()


def wait_for_snapshot(
    expected: dict[str, list[str]], keep: set[str], timeout: float = 10
) -> dict[str, list[str]]:
    """The controller's init reaps exited processes on its own time: allow it a moment."""
    deadline = time.monotonic() + timeout
    current = controller_snapshot(keep)
    while current != expected and time.monotonic() < deadline:
        time.sleep(0.5)
        current = controller_snapshot(keep)
    return current


@pytest.fixture(scope="module")
def lab(lab_session: RunningLab) -> RunningLab:
    assert len(lab_session.hosts) >= 2, "these tests need SOUVERAIN_LAB_HOSTS >= 2"
    return lab_session


def test_every_host_runs_systemd_as_pid_1(lab: RunningLab):
    for host, _address in lab.hosts:
        result = lab.ssh(host, "cat /proc/1/comm; systemctl is-system-running; hostname")
        assert result.returncode == 0, result.stderr
        comm, state, hostname = result.stdout.split()
        # Once the suite is deployed on the session lab, a unit that cannot work in a container
        # (audit-rules.service of auditd) leaves the host "degraded": still booted and up.
        assert (comm, hostname) == ("systemd", host)
        assert state in ("running", "degraded"), state


def test_hosts_reach_each_other_by_address_and_name(lab: RunningLab):
    (first, first_address), (second, second_address) = lab.hosts[:2]
    # `ping -c 1 -w 60` stops at the first reply: the 60 s are a guard, not the verdict.
    for source, target in ((first, second_address), (second, first_address), (first, second)):
        result = lab.ssh(source, f"ping -c 1 -w 60 {target}")
        assert result.returncode == 0, f"{source} → {target}: {result.stdout}{result.stderr}"


def test_apt_get_update_succeeds_on_every_host(lab: RunningLab):
    for host, _address in lab.hosts:
        result = lab.ssh(host, "apt-get update -q", timeout=300)
        assert result.returncode == 0, f"{host}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
        assert "Err:" not in result.stdout


def test_controller_cas_are_trusted_on_the_hosts(lab: RunningLab):
    extra = lab.directory / "lab" / "extra-ca.pem"
    if not extra.exists():
        pytest.skip("this controller has no CA of its own under /usr/local/share/ca-certificates")
    first_line = next(line for line in extra.read_text().splitlines() if "BEGIN" not in line)
    result = lab.ssh(lab.hosts[0][0], "cat /etc/ssl/certs/ca-certificates.crt")
    assert first_line in result.stdout


def test_deployment_directory_is_ready(lab: RunningLab):
    key = lab.directory / "lab" / "id_ed25519"
    assert key.stat().st_mode & 0o777 == 0o600
    suite = (lab.directory / "suite.yml").read_text()
    for _name, address in lab.hosts:
        assert address in suite
    assert json.loads((lab.directory / "lab" / "lab.json").read_text())["name"] == lab.name


def test_lab_ssh_passes_the_exit_status_through(lab: RunningLab, souverain_cli):
    host = lab.hosts[1][0]
    result = souverain_cli("-C", str(lab.directory), "lab", "ssh", host, "--", "exit", "7")
    assert result.returncode == 7, result.stderr


def test_status_reports_every_host_running(lab: RunningLab, souverain_cli):
    result = souverain_cli("-C", str(lab.directory), "lab", "status", "--json")
    assert result.returncode == 0, result.stderr
    hosts = json.loads(result.stdout)["hosts"]
    assert [(h["name"], h["running"]) for h in hosts] == [
        (name, True) for name, _address in lab.hosts
    ]
    # "degraded" once the suite is deployed: see test_every_host_runs_systemd_as_pid_1.
    assert all(h["system_state"] in ("running", "degraded") for h in hosts), hosts


def test_a_range_in_use_is_refused(lab: RunningLab, souverain_cli):
    status = souverain_cli("lab", "status", "--name", lab.name, "--json")
    subnet = json.loads(status.stdout)["subnet"]
    result = souverain_cli("lab", "up", "--name", "clash", "--subnet", subnet, "--dir", "/none")
    assert result.returncode == 2
    assert "already in use" in result.stderr


def test_a_second_lab_coexists_and_down_leaves_nothing(
    lab: RunningLab, tmp_path: Path, souverain_cli, start_lab
):
    keep = {lab.name, SOLO}
    before = controller_snapshot(keep)
    second = start_lab(SOLO, tmp_path / "solo", 1)
    reply = second.ssh("host1", f"ping -c 1 -w 60 {lab.hosts[0][1]} >/dev/null && echo ok")
    assert reply.stdout.strip() == "ok", reply.stderr

    # A lost server and its successor: same name and address, nothing of the old one left (its
    # files, the firewall table in its network namespace, its SSH host keys).
    made = second.ssh("host1", "touch /root/lost && cat /etc/ssh/ssh_host_ed25519_key.pub")
    assert made.returncode == 0, made.stderr
    netns = next(line.split()[0] for line in network_namespaces() if f"svl-{SOLO}-1" in line)
    subprocess.run(["ip", "netns", "exec", netns, "nft", "add", "table", "ip", "lost"], check=True)
    replaced = souverain_cli("-C", str(second.directory), "lab", "replace", "host1", "--json")
    assert replaced.returncode == 0, replaced.stderr
    assert json.loads(replaced.stdout)["address"] == second.address("host1")
    # Reached with StrictHostKeyChecking: known_hosts holds the new keys.
    after = second.ssh("host1", "test ! -e /root/lost && cat /etc/ssh/ssh_host_ed25519_key.pub")
    assert after.returncode == 0, after.stdout + after.stderr
    assert after.stdout.strip() and after.stdout != made.stdout, "the host keys were kept"
    tables = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "tables"],
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert "lost" not in tables.stdout
    unknown = souverain_cli("-C", str(second.directory), "lab", "replace", "host9")
    assert unknown.returncode != 0 and "has no host 'host9'" in unknown.stderr, unknown.stderr

    result = souverain_cli("-C", str(second.directory), "lab", "down")
    assert result.returncode == 0, result.stderr
    assert wait_for_snapshot(before, keep) == before
    again = souverain_cli("lab", "down", "--name", SOLO)
    assert again.returncode == 0 and "nothing to remove" in again.stderr
    assert lab.ssh(lab.hosts[0][0], "true").returncode == 0, "the first lab must be untouched"


# What `lab up` says as it reaches each stage: the interrupt is sent when the line appears,
# so it lands in that stage whatever the machine's load (no clock decides where).
UP_STAGES = {
    "network": "network ",  # bridge, NAT table and forwarding being set up
    "roots": "preparing ",  # host roots being copied from the image
    "boot": "booting ",  # containers started, waiting for systemd and SSH
}
STAGE_GUARD_SECONDS = 900  # only if `up` never reaches the stage (building the image included)


def wait_for_line(stream, marker: str, seen: list[str]) -> bool:
    """Read lines until one holds `marker` (True) or the stream ends (False)."""
    found = threading.Event()

    def read() -> None:
        for line in stream:
            seen.append(line)
            if marker in line:
                found.set()
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(STAGE_GUARD_SECONDS)
    return found.is_set()


@pytest.mark.parametrize("stage", sorted(UP_STAGES))
def test_an_interrupted_up_cleans_up_by_itself(
    lab: RunningLab, tmp_path: Path, souverain_cli, stage
):
    keep = {lab.name, INTERRUPTED}
    before = controller_snapshot(keep)
    process = subprocess.Popen(
        [sys.executable, "-m", "souverain", "lab", "up", "--name", INTERRUPTED, "--dir",
         str(tmp_path / "int")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    seen: list[str] = []
    try:
        reached = wait_for_line(process.stderr, UP_STAGES[stage], seen)
        assert reached, f"`lab up` never said {UP_STAGES[stage]!r}:\n{''.join(seen)}"
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = "".join(seen) + (rest or "")
    assert process.returncode == 130, output
    assert "removing what was created" in output, output
    # Before `lab down` runs: what the interrupted `up` left is what `up` itself did not clean.
    assert wait_for_snapshot(before, keep) == before
    down = souverain_cli("lab", "down", "--name", INTERRUPTED)
    assert down.returncode == 0 and "nothing to remove" in down.stderr, down.stderr
