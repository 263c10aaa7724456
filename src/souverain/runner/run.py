"""One ansible-runner run of ``playbooks/site.yml`` against the rendered inventory.

Each run gets a fresh private data directory (removed afterwards) and
``suppress_env_files=True``: a reused directory would silently reuse the extra vars of an
earlier run. The vault password reaches Ansible as a file path on the command line, never as a
value; events are turned into progress and the run log as they arrive and never written to disk
by ansible-runner.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from souverain.builddir import BuildDir
from souverain.deployment import Deployment
from souverain.errors import DeployError
from souverain.paths import PROJECT_ROOT
from souverain.runner.ansible_cfg import AnsibleSettings
from souverain.runner.events import RunTracker, TaskResult
from souverain.runner.playbooks import SITE, deploy_inventory
from souverain.runner.runlog import RunLog, Scrubber, new_log_path

CANCEL_POLL_SECONDS = 1  # how soon Ctrl-C stops Ansible
EventSink = Callable[[Mapping[str, Any]], TaskResult | None]


@dataclass(frozen=True)
class DeployOptions:
    limit: str | None = None
    tags: tuple[str, ...] = ()
    check: bool = False
    diff: bool = False
    mitogen: bool | None = None  # None: use it when installed, unless $SOUVERAIN_MITOGEN=0
    playbook: Path = SITE
    departed_tenants: tuple[str, ...] = ()  # confirmed removals (playbooks/site.yml's last play)
    tenant: str | None = None  # deploy --tenant: the inventory is narrowed to it (render/narrow.py)

    def cmdline(self, vault_password_file: Path) -> list[str]:
        args = ["--vault-password-file", str(vault_password_file)]
        if self.departed_tenants:
            extra = {"souverain_departed_tenants": list(self.departed_tenants)}
            args += ["--extra-vars", json.dumps(extra)]
        if self.limit:
            args += ["--limit", self.limit]
        if self.tags:
            args += ["--tags", ",".join(self.tags)]
        if self.check:
            args.append("--check")
        if self.diff:
            args.append("--diff")
        return args


@dataclass
class RunOutcome:
    status: str  # successful | failed | canceled | timeout
    rc: int
    tracker: RunTracker
    log_path: Path
    mitogen: bool
    seconds: float
    ansible_error: str | None = None  # Ansible stopped outside any task (syntax, inventory...)
    tasks_per_host: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "successful" and not self.tracker.failures

    @property
    def canceled(self) -> bool:
        return self.status == "canceled"

    def failure_message(self) -> str:
        first = self.tracker.first_failure
        if first is not None:
            kind = "unreachable" if first.status == "unreachable" else "failed"
            text = f"{first.host} {kind}: role {first.role or '-'}, task {first.task!r}"
            return text + (f": {first.msg}" if first.msg else "")
        if self.canceled:
            return "the deployment was interrupted"
        if self.ansible_error:
            return self.ansible_error
        return f"ansible-playbook ended with status {self.status} (exit {self.rc})"

    def summary(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "status": self.status,
            "seconds": round(self.seconds, 2),
            "mitogen": self.mitogen,
            "log": str(self.log_path),
            "hosts": {name: dict(host.counts) for name, host in self.tracker.hosts.items()},
            "unreachable": self.tracker.unreachable_hosts(),
            "failures": [result.as_dict() for result in self.tracker.failures],
            "notices": list(self.tracker.notices),
            "error": None if self.ok else self.failure_message(),
        }


def _ansible_children() -> list[int]:
    """ansible-playbook processes this process started (ansible-runner's pexpect child)."""
    me = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if stat.rsplit(") ", 1)[-1].split()[1] == me and b"ansible-playbook" in cmdline:
            found.append(int(entry.name))
    return found


class _Interrupt:
    """Ctrl-C during a run: Ansible is asked to stop (SIGINT: it ends its workers and mitogen's
    helpers itself); whatever still runs after a grace period is killed by ansible-runner.

    Raising KeyboardInterrupt instead would leave ansible-playbook running in its own session.
    """

    GRACE_SECONDS = 5.0

    def __init__(self) -> None:
        self.requested = False
        self._since: float | None = None

    def __call__(self, signum: int, frame: object) -> None:
        self.requested = True

    def cancel(self) -> bool:
        """ansible-runner's cancel_callback, polled while Ansible runs."""
        if not self.requested:
            return False
        if self._since is None:
            self._since = time.monotonic()
            for pid in _ansible_children():
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGINT)
        return time.monotonic() - self._since > self.GRACE_SECONDS

    @contextlib.contextmanager
    def installed(self) -> Iterator[_Interrupt]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.signal(signal.SIGINT, self)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


def _ansible_error(stdout: str, scrubber: Scrubber) -> str | None:
    lines = [line.rstrip() for line in stdout.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if line.lstrip().startswith(("ERROR!", "[ERROR]")):
            return scrubber.text("\n".join(lines[index : index + 6]))
    return scrubber.text("\n".join(lines[-6:])) if lines else None


def _environment(cfg: Path) -> dict[str, str]:
    bindir = str(Path(sys.executable).parent)
    return {
        "ANSIBLE_CONFIG": str(cfg),
        "ANSIBLE_NOCOLOR": "1",
        "PATH": os.pathsep.join([bindir, os.environ.get("PATH", "/usr/bin:/bin")]),
    }


def run_playbook(
    deployment: Deployment,
    options: DeployOptions,
    *,
    secrets: frozenset[str],
    sink: EventSink | None = None,
    tracker: RunTracker | None = None,
    command: str = "deploy",
    inventory_dir: Path | None = None,
) -> RunOutcome:
    """Run the playbook; events go to ``sink`` (which updates ``tracker``) and to the log.

    Raises DeployError when the run cannot start; a run that fails returns an outcome with
    ``ok`` false, for the caller to report.
    """
    build = BuildDir(deployment.build_dir)
    inventory = deploy_inventory(build)
    password_file = deployment.vault_password_file
    if not password_file.exists():
        raise DeployError(
            f"no vault password file at {password_file}",
            hint="Run `souverain render` first, or set $SOUVERAIN_VAULT_PASSWORD_FILE.",
        )
    if tracker is None:
        tracker = RunTracker(inventory.host_names, inventory.groups)
    handle: EventSink = sink or tracker.handle
    settings = AnsibleSettings.for_run(mitogen=options.mitogen)
    scrubber = Scrubber(secrets)
    tasks_per_host: dict[str, int] = {}
    started = time.monotonic()
    with RunLog(new_log_path(deployment.runs_dir, command), scrubber) as log:
        log.write(
            "start",
            command=command,
            playbook=str(options.playbook),
            limit=options.limit,
            tags=list(options.tags),
            tenant=options.tenant,
            check=options.check,
            mitogen=settings.uses_mitogen,
        )

        def on_event(event: Mapping[str, Any]) -> bool:
            if str(event.get("event", "")).startswith("runner_on_"):
                event = scrubber.value(event)  # what is shown is scrubbed like what is logged
            result = handle(event)
            if result is not None:
                tasks_per_host[result.host] = tasks_per_host.get(result.host, 0) + 1
                log.write("task", **result.as_dict())
            return False  # nothing of the event goes to disk in the private data dir

        status, rc, stdout = _invoke(
            settings,
            playbook=options.playbook,
            inventory=inventory_dir or build.inventory_dir,
            cmdline=options.cmdline(password_file),
            on_event=on_event,
        )
        error = None
        if status == "failed" and not tracker.failures:
            error = _ansible_error(stdout, scrubber)
        outcome = RunOutcome(
            status=status,
            rc=rc,
            tracker=tracker,
            log_path=log.path,
            mitogen=settings.uses_mitogen,
            seconds=time.monotonic() - started,
            ansible_error=error,
            tasks_per_host=tasks_per_host,
        )
        log.write("end", **outcome.summary())
    return outcome


def _invoke(
    settings: AnsibleSettings,
    *,
    playbook: Path,
    inventory: Path,
    cmdline: list[str],
    on_event: Callable[[Mapping[str, Any]], bool],
) -> tuple[str, int, str]:
    """ansible_runner.run in a fresh private data dir; (status, rc, stdout)."""
    import ansible_runner

    interrupt = _Interrupt()
    private = Path(tempfile.mkdtemp(prefix="souverain-run-"))
    try:
        cfg = settings.write(private)
        with interrupt.installed():
            runner = ansible_runner.run(
                private_data_dir=str(private),
                project_dir=str(PROJECT_ROOT),
                playbook=str(playbook),
                inventory=str(inventory),
                cmdline=shlex.join(cmdline),
                envvars=_environment(cfg),
                settings={"pexpect_timeout": CANCEL_POLL_SECONDS},
                suppress_env_files=True,
                quiet=True,
                event_handler=on_event,
                cancel_callback=interrupt.cancel,
            )
        stdout = ""
        if runner.status == "failed":
            with contextlib.suppress(OSError, AttributeError):
                stdout = runner.stdout.read()
        status = "canceled" if interrupt.requested else str(runner.status)
        return status, int(runner.rc if runner.rc is not None else -1), stdout
    finally:
        shutil.rmtree(private, ignore_errors=True)
