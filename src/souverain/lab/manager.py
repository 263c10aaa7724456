"""Bring a lab up, take it down, report on it: the steps, in order, with cleanup on failure."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from souverain.deployment import Deployment
from souverain.errors import LabError, LabRefused
from souverain.lab import checks, deploydir, host, image, network, rootfs, ssh
from souverain.lab import naming as nm
from souverain.lab import state as st
from souverain.lab.commands import run

Say = Callable[[str], None]
BOOT_TIMEOUT = 180.0
NSPAWN_RUN_DIR = Path("/run/systemd/nspawn/propagate")
# ip_forward as it was before the first lab turned it on; restored when the last lab goes.
IP_FORWARD_BEFORE = st.LAB_ROOT / "ip_forward.before"
ROOT_WORKERS = "souverain-lab-root"  # the threads that copy and personalise host roots
UNBORN_WORKER_SECONDS = 5.0  # how long a worker whose start() was interrupted may take to show


def _quiet(_line: str) -> None:
    return None


@dataclass
class UpRequest:
    name: str
    hosts: int = 1
    release: str = "trixie"
    directory: Path | None = None  # default ./lab-<name>
    subnet: str | None = None  # default derived from the name
    boot_timeout: float = BOOT_TIMEOUT


# --- up ---------------------------------------------------------------------------------------


def up(request: UpRequest, *, say: Say = _quiet) -> st.LabState:
    """Create the lab's hosts and network and wait until every host runs; undo all on failure."""
    checks.check_can_run()
    names = nm.LabNames(nm.check_name(request.name))
    nm.check_host_count(request.hosts)
    spec = image.spec_for(request.release)
    deployment = Deployment.at(request.directory or Path(f"lab-{names.name}"))
    _refuse_foreign_directory(deployment)
    _refuse_if_running(names)
    if leftovers(names):
        say(f"removing what an earlier lab {names.name!r} left behind")
        down(names.name)
    subnet = nm.parse_subnet(request.subnet) if request.subnet else nm.default_subnet(names.name)
    checks.check_subnet_free(subnet, lab=names.name)

    with _sigterm_as_interrupt():
        base = image.ensure_image(spec, log=say)
        lab = _plan(names, request, subnet, spec, base, deployment)
        st.save(lab)  # from here on, `lab down` knows everything that may exist
        try:
            _create(lab, names, subnet, base, deployment, say=say)
            _boot(lab, deployment, timeout=request.boot_timeout, say=say)
        except BaseException:
            say("bringing the lab up failed; removing what was created")
            _wait_for_root_workers()
            with contextlib.suppress(Exception):
                down(names.name)
            raise
    lab.phase = "up"
    st.save(lab)
    return lab


def _refuse_foreign_directory(deployment: Deployment) -> None:
    if deployment.suite_file.exists() and not deploydir.lab_file(deployment).exists():
        raise LabRefused(
            f"{deployment.root} already holds a suite.yml that `lab up` did not write",
            hint="choose another directory with --dir",
        )


def _refuse_if_running(names: nm.LabNames) -> None:
    lab = st.load(names.name)
    if lab is None:
        return
    if any(host.is_running(h.pid, h.machine) for h in lab.hosts):
        raise LabRefused(
            f"lab {names.name!r} is already up ({len(lab.hosts)} hosts, {lab.subnet})",
            hint=f"`souverain lab status --name {names.name}`, or `lab down --name {names.name}` "
            "first",
        )


def _plan(
    names: nm.LabNames,
    request: UpRequest,
    subnet: ipaddress.IPv4Network,
    spec: image.ImageSpec,
    base: Path,
    deployment: Deployment,
) -> st.LabState:
    lab_dir = st.lab_dir(names.name)
    hosts = [
        st.HostState(
            index=index,
            name=names.host_name(index),
            address=str(nm.host_address(subnet, index)),
            netns=names.netns(index),
            veth=names.veth(index),
            machine=names.machine(index),
            root=str(lab_dir / names.host_name(index)),
            log=str(lab_dir / f"{names.host_name(index)}.log"),
        )
        for index in range(1, request.hosts + 1)
    ]
    return st.LabState(
        name=names.name,
        subnet=str(subnet),
        gateway=str(nm.gateway_address(subnet)),
        bridge=names.bridge,
        nft_table=names.nft_table,
        release=spec.release,
        image=str(base),
        directory=str(deployment.root),
        domain=names.domain,
        hosts=hosts,
    )


def _create(
    lab: st.LabState,
    names: nm.LabNames,
    subnet: ipaddress.IPv4Network,
    base: Path,
    deployment: Deployment,
    *,
    say: Say,
) -> None:
    gateway = nm.gateway_address(subnet)
    say(f"network {subnet} on bridge {lab.bridge}")
    network.create_bridge(lab.bridge, gateway, subnet.prefixlen)
    network.create_nat(lab.nft_table, subnet, lab.bridge)
    before = network.enable_ip_forward()
    if not IP_FORWARD_BEFORE.exists():
        IP_FORWARD_BEFORE.parent.mkdir(parents=True, exist_ok=True)
        IP_FORWARD_BEFORE.write_text(before + "\n")

    public_key = deploydir.prepare(deployment, lab_name=lab.name)
    extra_cas = rootfs.controller_extra_cas()
    extra_ca_file = deploydir.write_extra_ca(deployment, extra_cas)
    resolv_conf = rootfs.controller_resolv_conf()
    hosts_file = rootfs.hosts_file(
        [(h.address, f"{h.name}.{lab.domain}", h.name) for h in lab.hosts]
    )
    for h in lab.hosts:
        network.create_host_network(
            netns=h.netns,
            veth=h.veth,
            bridge=lab.bridge,
            address=ipaddress.IPv4Address(h.address),
            gateway=gateway,
            prefixlen=subnet.prefixlen,
        )

    def prepare_root(h: st.HostState) -> list[str]:
        rootfs.copy_image(base, Path(h.root))
        public_host_keys = rootfs.personalise(
            Path(h.root),
            hostname=h.name,
            hosts=hosts_file,
            resolv_conf=resolv_conf,
            authorized_key=public_key,
            extra_cas=extra_cas,
        )
        reached_as = [h.address, h.name, f"{h.name}.{lab.domain}"]
        return ssh.known_hosts_lines(reached_as, public_host_keys)

    say(f"preparing {len(lab.hosts)} host root(s) from {base.name}")
    with ThreadPoolExecutor(
        max_workers=min(4, len(lab.hosts)), thread_name_prefix=ROOT_WORKERS
    ) as pool:
        known_hosts = [line for lines in pool.map(prepare_root, lab.hosts) for line in lines]
    deploydir.write_known_hosts(deployment, known_hosts)
    deploydir.write_lab_record(deployment, lab)
    deploydir.write_suite(deployment, lab, extra_ca=extra_ca_file)


def _wait_for_root_workers() -> None:
    """Let every host-root copy still running finish before `down` removes the roots.

    A Ctrl-C can land while the pool is starting a worker, before the pool records it: the
    pool's shutdown then does not wait for that worker, whose copy went on writing the root
    after `down` had removed it (seen with `lab up` interrupted as it prepared the roots).
    A worker whose start() the interrupt cut short is running, or about to, or never will
    (interrupted before the thread was made): wait a moment for it to show, no longer.
    """
    current = threading.current_thread()
    unborn_deadline = time.monotonic() + UNBORN_WORKER_SECONDS
    while True:
        workers = [
            thread
            for thread in threading.enumerate()
            if thread.name.startswith(ROOT_WORKERS) and thread is not current
        ]
        waiting = False
        for thread in workers:
            try:
                thread.join()
            except RuntimeError:  # "cannot join thread before it is started"
                waiting = time.monotonic() < unborn_deadline
        if not waiting:
            return
        time.sleep(0.05)


def _boot(lab: st.LabState, deployment: Deployment, *, timeout: float, say: Say) -> None:
    for h in lab.hosts:
        h.started_at = time.time()
        h.pid = host.start(root=Path(h.root), machine=h.machine, netns=h.netns, log=Path(h.log))
        st.save(lab)
    say(f"booting {len(lab.hosts)} host(s)")
    access = deploydir.access(deployment)
    errors: dict[str, BaseException] = {}

    def wait(h: st.HostState) -> None:
        try:
            _wait_ready(h, access, timeout=timeout)
        except BaseException as error:
            errors[h.name] = error

    threads = [threading.Thread(target=wait, args=(h,), daemon=True) for h in lab.hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)  # keeps the main thread responsive to Ctrl-C
    if errors:
        first = next(iter(errors.values()))
        if isinstance(first, LabError):
            raise first
        raise LabError(f"waiting for the hosts failed: {first}") from first
    for h in lab.hosts:
        if h.system_state == "degraded":
            say(f"{h.name}: degraded, failed units: {', '.join(h.failed_units) or '?'}")


def _wait_ready(h: st.HostState, access: ssh.SshAccess, *, timeout: float) -> None:
    """Until SSH answers and systemd has finished booting (running or degraded)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not host.is_running(h.pid, h.machine):
            raise LabError(
                f"{h.name} stopped while booting:\n{_log_tail(Path(h.log))}",
                hint=f"its console log is {h.log}",
            )
        remaining = max(1.0, deadline - time.monotonic())
        try:
            result = access.run(
                h.address, ["systemctl", "is-system-running", "--wait"], timeout=remaining
            )
        except LabError:
            break
        answer = result.stdout.strip()
        if result.returncode == 255:  # ssh itself: not listening yet
            last = result.stderr.strip() or "ssh failed"
            time.sleep(0.3)
            continue
        if answer in ("running", "degraded"):
            h.system_state = answer
            h.boot_seconds = round(time.time() - (h.started_at or time.time()), 1)
            if answer == "degraded":
                h.failed_units = failed_units(access, h.address)
            return
        last = f"systemd reports {answer or result.stderr.strip()!r}"
        if answer in ("maintenance", "stopping", "offline"):
            break
        time.sleep(0.5)
    raise LabError(
        f"{h.name} ({h.address}) was not up within {timeout:g} s: {last}",
        hint=f"its console log is {h.log}",
    )


def failed_units(access: ssh.SshAccess, address: str) -> list[str]:
    result = access.run(address, ["systemctl", "--failed", "--plain", "--no-legend"], timeout=20)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def _log_tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no console log)"


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while creating, so the cleanup runs for both."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- replace ----------------------------------------------------------------------------------


def replace(
    name: str, wanted: str, *, boot_timeout: float = BOOT_TIMEOUT, say: Say = _quiet
) -> st.HostState:
    """Replace one host by a new, empty one: what losing a server and installing its successor
    at the same name and address looks like. The machine is stopped, its root, its network
    namespace (with the firewall the suite had put there) and its SSH host keys are made anew
    from the lab's image; known_hosts in the deployment directory follows the new keys."""
    checks.check_can_run()
    names = nm.LabNames(nm.check_name(name))
    lab = st.load(names.name)
    if lab is None or lab.phase != "up":
        raise LabError(f"no lab named {name!r} is up on this machine", hint=_known_labs_hint())
    h = lab.host(wanted)
    if h is None:
        known = ", ".join(each.name for each in lab.hosts)
        raise LabRefused(f"lab {lab.name!r} has no host {wanted!r}", hint=f"its hosts: {known}")
    deployment = Deployment.at(lab.directory)
    with _sigterm_as_interrupt():
        base = image.ensure_image(image.spec_for(lab.release), log=say)
        say(f"removing {h.name}: machine, root and network namespace")
        _remove_host(h)
        h.pid, h.started_at, h.boot_seconds, h.system_state, h.failed_units = (
            None, None, None, None, [],
        )  # fmt: skip
        st.save(lab)
        network.create_host_network(
            netns=h.netns,
            veth=h.veth,
            bridge=lab.bridge,
            address=ipaddress.IPv4Address(h.address),
            gateway=ipaddress.IPv4Address(lab.gateway),
            prefixlen=ipaddress.IPv4Network(lab.subnet).prefixlen,
        )
        say(f"preparing a new root for {h.name} from {base.name}")
        rootfs.copy_image(base, Path(h.root))
        public_keys = rootfs.personalise(
            Path(h.root),
            hostname=h.name,
            hosts=rootfs.hosts_file(
                [(each.address, f"{each.name}.{lab.domain}", each.name) for each in lab.hosts]
            ),
            resolv_conf=rootfs.controller_resolv_conf(),
            authorized_key=(deployment.lab_dir / f"{ssh.KEY_NAME}.pub").read_text(),
            extra_cas=rootfs.controller_extra_cas(),
        )
        reached_as = [h.address, h.name, f"{h.name}.{lab.domain}"]
        _replace_known_hosts(deployment, reached_as, ssh.known_hosts_lines(reached_as, public_keys))
        h.started_at = time.time()
        h.pid = host.start(root=Path(h.root), machine=h.machine, netns=h.netns, log=Path(h.log))
        st.save(lab)
        say(f"booting {h.name}")
        _wait_ready(h, deploydir.access(deployment), timeout=boot_timeout)
    st.save(lab)
    return h


def _remove_host(h: st.HostState) -> None:
    if host.is_running(h.pid, h.machine):
        host.stop(h.pid, h.machine)
    for pid in host.find_nspawn(h.machine):  # one the state file did not know
        host.stop(pid, h.machine)
    shutil.rmtree(NSPAWN_RUN_DIR / h.machine, ignore_errors=True)
    stray = network.netns_pids(h.netns)
    if stray:
        host.kill_pids(stray)
    network.remove_netns(h.netns)
    network.remove_link(h.veth)
    root = Path(h.root)
    if root.exists():
        _unmount_below(root)
        run(["rm", "-rf", "--one-file-system", str(root)], timeout=600)


def _replace_known_hosts(deployment: Deployment, names: list[str], lines: list[str]) -> None:
    """known_hosts with the host's lines (those for exactly these names) replaced by ``lines``."""
    path = deployment.lab_dir / ssh.KNOWN_HOSTS_NAME
    pattern = ",".join(names)
    kept = [
        line
        for line in (path.read_text().splitlines() if path.exists() else [])
        if line.strip() and line.split(maxsplit=1)[0] != pattern
    ]
    deploydir.write_known_hosts(deployment, kept + lines)


# --- down -------------------------------------------------------------------------------------


@dataclass
class Leftovers:
    """What exists on the controller for one lab, from its state file and its name prefix."""

    machines: dict[str, int | None] = field(default_factory=dict)  # machine → nspawn PID
    netns: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    nft_tables: list[str] = field(default_factory=list)
    directory: Path | None = None

    def __bool__(self) -> bool:
        return bool(
            any(pid is not None for pid in self.machines.values())
            or self.netns
            or self.links
            or self.nft_tables
            or self.directory
        )


def leftovers(names: nm.LabNames) -> Leftovers:
    lab = st.load(names.name)
    found = Leftovers()
    for h in lab.hosts if lab else []:
        found.machines[h.machine] = h.pid if host.is_running(h.pid, h.machine) else None
    for pid, machine in _nspawn_processes(names):
        found.machines[machine] = pid
    found.netns = [n for n in network.list_netns() if names.owns_indexed(n)]
    found.links = [
        link
        for link in network.list_links()
        if link == names.bridge or names.owns_indexed(link.split("@", 1)[0])
    ]
    if f"ip {names.nft_table}" in network.list_nft_tables():
        found.nft_tables.append(names.nft_table)
    if st.lab_dir(names.name).exists():
        found.directory = st.lab_dir(names.name)
    return found


def _nspawn_processes(names: nm.LabNames) -> list[tuple[int, str]]:
    pattern = re.compile(rf"--machine=({re.escape(names.prefix)}-\d+)$")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not argv or not argv[0].endswith(b"systemd-nspawn"):
            continue
        for arg in argv:
            match = pattern.match(arg.decode(errors="replace"))
            if match:
                found.append((int(entry.name), match.group(1)))
    return found


def down(name: str, *, say: Say = _quiet) -> list[str]:
    """Remove everything lab ``name`` created; idempotent. Returns what was removed."""
    names = nm.LabNames(nm.check_name(name))
    found = leftovers(names)
    removed: list[str] = []
    for machine, pid in found.machines.items():
        if pid is not None:
            say(f"stopping {machine}")
            host.stop(pid, machine)
            removed.append(f"process {pid} ({machine})")
        propagate = NSPAWN_RUN_DIR / machine
        if propagate.is_dir():
            shutil.rmtree(propagate, ignore_errors=True)
    for netns in found.netns:
        stray = network.netns_pids(netns)  # anything still running in the host's namespace
        if stray:
            host.kill_pids(stray)
            removed.append(f"processes {', '.join(map(str, stray))} in {netns}")
        network.remove_netns(netns)
        removed.append(f"netns {netns}")
    for link in sorted(found.links, key=lambda n: n == names.bridge):  # bridge last
        network.remove_link(link.split("@", 1)[0])
        removed.append(f"link {link}")
    for table in found.nft_tables:
        network.remove_nft_table(table)
        removed.append(f"nft table ip {table}")
    if found.directory is not None:
        _unmount_below(found.directory)
        run(["rm", "-rf", "--one-file-system", str(found.directory)], timeout=600)
        removed.append(f"directory {found.directory}")
    _restore_ip_forward()
    return removed


def _unmount_below(directory: Path) -> None:
    """Mounts under the lab's directory (none are expected: nspawn mounts in its own namespace)."""
    prefix = str(directory).rstrip("/") + "/"
    mountpoints = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4]
        if point.startswith(prefix) or point == prefix.rstrip("/"):
            mountpoints.append(point)
    for point in sorted(mountpoints, key=len, reverse=True):
        run(["umount", "-l", point], check=False)


def _restore_ip_forward() -> None:
    if st.known_labs() or not IP_FORWARD_BEFORE.exists():
        return
    network.restore_ip_forward(IP_FORWARD_BEFORE.read_text().strip())
    IP_FORWARD_BEFORE.unlink(missing_ok=True)


# --- status -----------------------------------------------------------------------------------


@dataclass
class HostStatus:
    name: str
    address: str
    machine: str
    running: bool
    system_state: str | None
    boot_seconds: float | None
    failed_units: list[str]


def status(name: str, *, probe: bool = True) -> tuple[st.LabState, list[HostStatus]]:
    names = nm.LabNames(nm.check_name(name))
    lab = st.load(names.name)
    if lab is None:
        raise LabError(f"no lab named {name!r} on this machine", hint=_known_labs_hint())
    access = deploydir.access(Deployment.at(lab.directory))
    report = []
    for h in lab.hosts:
        running = host.is_running(h.pid, h.machine)
        state, failed = None, list(h.failed_units)
        if running and probe and access.key.exists():
            result = access.run(h.address, ["systemctl", "is-system-running"], timeout=10)
            state = result.stdout.strip() or "unreachable"
            failed = failed_units(access, h.address) if state == "degraded" else []
        report.append(
            HostStatus(h.name, h.address, h.machine, running, state, h.boot_seconds, failed)
        )
    return lab, report


def _known_labs_hint() -> str:
    labs = st.known_labs()
    return f"labs here: {', '.join(labs)}" if labs else "there is no lab on this machine"


def resolve_name(name: str | None, directory: Path | None) -> str:
    """--name, else the lab that wrote DIR/lab/lab.json, else the only lab on the machine."""
    if name:
        return nm.check_name(name)
    if directory is not None:
        recorded = deploydir.lab_name_in(directory)
        if recorded:
            return recorded
    labs = st.known_labs()
    if len(labs) == 1:
        return labs[0]
    if not labs:
        raise LabRefused("there is no lab on this machine", hint="`souverain lab up` makes one")
    raise LabRefused(f"several labs here ({', '.join(labs)}): say which with --name")
