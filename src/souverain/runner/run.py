"""One ansible-runner run of ``playbooks/site.yml`` against the rendered inventory.

Each run gets a fresh private data directory (removed afterwards) and
``suppress_env_files=True``: a reused directory would silently reuse the extra vars of an
earlier run. The vault password reaches Ansible as a file path on the command line, never as a
value; events are turned into progress and the run log as they arrive and never written to disk
by ansible-runner.
"""

from __future__ import annotations

import contextlib
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

from souverain.deployment import Deployment
from souverain.errors import DeployError
from souverain.paths import PROJECT_ROOT
from souverain.runner.ansible_cfg import AnsibleSettings
from souverain.runner.events import RunTracker, TaskResult
from souverain.runner.playbooks import SITE, inventory_layout
from souverain.runner.runlog import RunLog, Scrubber, new_log_path

EventSink = Callable[[Mapping[str, Any]], TaskResult | None]


@dataclass(frozen=True)
class DeployOptions:
    limit: str | None = None
    tags: tuple[str, ...] = ()
    check: bool = False
    diff: bool = False
    mitogen: bool | None = None  # None: use it when installed, unless $SOUVERAIN_MITOGEN=0
    playbook: Path = SITE

    def cmdline(self, vault_password_file: Path) -> list[str]:
        args = ["--vault-password-file", str(vault_password_file)]
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
            "error": None if self.ok else self.failure_message(),
        }


class _Interrupt:
    """Ctrl-C during a run: the first asks ansible-runner to cancel, a second one aborts."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

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
) -> RunOutcome:
    """Run the playbook; events go to ``sink`` (which updates ``tracker``) and to the log.

    Raises DeployError when the run cannot start; a run that fails returns an outcome with
    ``ok`` false, for the caller to report.
    """
    import ansible_runner

    inventory = deployment.build_dir / "inventory"
    layout = inventory_layout(inventory)
    password_file = deployment.vault_password_file
    if not password_file.exists():
        raise DeployError(
            f"no vault password file at {password_file}",
            hint="Run `souverain render` first, or set $SOUVERAIN_VAULT_PASSWORD_FILE.",
        )
    if tracker is None:
        tracker = RunTracker(layout.hosts, layout.groups)
    handle: EventSink = sink or tracker.handle
    settings = AnsibleSettings.for_run(mitogen=options.mitogen)
    scrubber = Scrubber(secrets)
    tasks_per_host: dict[str, int] = {}
    log = RunLog(new_log_path(deployment.runs_dir, command), scrubber)
    log.write(
        "start",
        command=command,
        playbook=str(options.playbook),
        limit=options.limit,
        tags=list(options.tags),
        check=options.check,
        mitogen=settings.uses_mitogen,
    )

    def on_event(event: Mapping[str, Any]) -> bool:
        result = handle(event)
        if result is not None:
            tasks_per_host[result.host] = tasks_per_host.get(result.host, 0) + 1
            log.write("task", **result.as_dict())
        return False  # nothing of the event goes to disk in the private data dir

    interrupt = _Interrupt()
    private = Path(tempfile.mkdtemp(prefix="souverain-run-"))
    started = time.monotonic()
    try:
        cfg = settings.write(private)
        with interrupt.installed():
            runner = ansible_runner.run(
                private_data_dir=str(private),
                project_dir=str(PROJECT_ROOT),
                playbook=str(options.playbook),
                inventory=str(inventory),
                cmdline=shlex.join(options.cmdline(password_file)),
                envvars=_environment(cfg),
                suppress_env_files=True,
                quiet=True,
                event_handler=on_event,
                cancel_callback=lambda: interrupt.requested,
            )
        status, rc = str(runner.status), int(runner.rc if runner.rc is not None else -1)
        error = None
        if status == "failed" and not tracker.failures:
            with contextlib.suppress(OSError, AttributeError):
                error = _ansible_error(runner.stdout.read(), scrubber)
    finally:
        shutil.rmtree(private, ignore_errors=True)
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
    log.close()
    return outcome
