"""Progress written to a file or a pipe: one line per role and host as it starts and as it ends."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from souverain.runner.events import RoleTimeline, RunTracker
from souverain.runner.progress import LineProgress, LiveProgress, run_progress
from tests.unit.test_runner_events import NO_LOG, play, recorded_run, result, task_start


class Clock:
    """The monotonic clock of a run, read by the progress: the test sets ``now``."""

    def __init__(self) -> None:
        self.now = 1000.0  # any origin: only the elapsed time is shown

    def __call__(self) -> float:
        return self.now


class FlushedFile(io.StringIO):
    """A log file that remembers what it held each time it was flushed."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


def piped(file: io.StringIO | None = None) -> Console:
    return Console(file=file or io.StringIO(), width=80, force_terminal=False, color_system=None)


def on_host(kind: str, host: str, role: str | None, task: str) -> dict[str, Any]:
    """runner_on_start: the task starts on this host."""
    return {"event": kind, "event_data": {"host": host, "role": role, "task": task}}


def recap(hosts: dict[str, int], **counts: dict[str, int]) -> dict[str, Any]:
    return {"event": "playbook_on_stats", "event_data": {"processed": hosts, **counts}}


def ran(host: str, role: str | None, task: str, **res: Any) -> list[dict[str, Any]]:
    """A task on a host, as the events of a real run come: its start, then its result."""
    kind = "runner_on_skipped" if res.pop("skipped", False) else "runner_on_ok"
    return [on_host("runner_on_start", host, role, task), result(kind, host, role, task, **res)]


def deploy_run() -> list[tuple[float, dict[str, Any]]]:
    """Two plays (base on two hosts, proxy on one), with what the roles really do: Gathering
    Facts of no role, a role included from the role (place), a handler; host3 is in the
    groups but outside --limit. Each event with its second of the run."""
    timed: list[tuple[float, list[dict[str, Any]]]] = [
        (0.0, [play("base"), task_start(None, "Gathering Facts")]),
        (2.0, ran("host1", None, "Gathering Facts") + ran("host2", None, "Gathering Facts")),
        (2.5, [task_start("base", "Install chrony")]),
        (3.0, [on_host("runner_on_start", "host1", "base", "Install chrony")]),
        (3.5, [on_host("runner_on_start", "host2", "base", "Install chrony")]),
        (9.0, [result("runner_on_ok", "host1", "base", "Install chrony", changed=True)]),
        (9.5, [result("runner_on_ok", "host2", "base", "Install chrony", changed=False)]),
        (10.0, ran("host1", "place", "Place the SSH server configuration", changed=True)),
        (10.5, ran("host2", "place", "Place the SSH server configuration", skipped=True)),
        (12.0, ran("host1", "base", "Restart ssh", changed=True)),  # the handler
        (12.3, [play("proxy"), task_start(None, "Gathering Facts")]),
        (14.0, ran("host1", None, "Gathering Facts")),
        (14.5, ran("host1", "proxy", "Install nginx", changed=True)),
        (40.0, ran("host1", "proxy", "Check the nginx configuration")),
        (48.0, [recap({"host1": 1, "host2": 1}, ok={"host1": 6, "host2": 3},
                      changed={"host1": 4}, skipped={"host2": 1})]),
    ]  # fmt: skip
    return [(at, event) for at, events in timed for event in events]


def tracker() -> RunTracker:
    groups = {"base": ["host1", "host2", "host3"], "proxy": ["host1"]}
    return RunTracker(["host1", "host2", "host3"], groups)


def feed(
    timed: list[tuple[float, dict[str, Any]]], console: Console, stop: float | None = None
) -> LineProgress:
    clock = Clock()
    start = clock.now
    with LineProgress(tracker(), console, "deploying base, proxy", clock=clock) as progress:
        for at, event in timed:
            clock.now = start + at
            progress.handle(event)
        if stop is not None:
            clock.now = start + stop
    return progress


def lines_of(console: Console) -> list[str]:
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue().splitlines()


def test_each_role_starts_and_ends_on_each_host_in_order():
    console = piped()
    feed(deploy_run(), console)
    assert lines_of(console) == [
        "deploying base, proxy",
        "[   3.0 s] host1  base        started",
        "[   3.5 s] host2  base        started",
        "[  14.5 s] host1  base        done in 9.0 s (ok 3, changed 3)",
        "[  14.5 s] host1  proxy       started",
        "[  48.0 s] host1  proxy       done in 25.5 s (ok 2, changed 1)",
        "[  48.0 s] host2  base        done in 7.0 s (ok 1, skipped 1)",  # not 44.5: idle since
    ]


def test_included_roles_and_handlers_count_for_the_role_of_their_play():
    timeline = RoleTimeline()
    for at, event in deploy_run():
        timeline.handle(event, at)
    assert [(s.host, s.role, s.started, s.ended, s.end) for s in timeline.spans] == [
        ("host1", "base", 3.0, 14.5, "done"),
        ("host2", "base", 3.5, 48.0, "done"),
        ("host1", "proxy", 14.5, 48.0, "done"),
    ]
    base = timeline.spans[0].counts
    assert (base["ok"], base["changed"]) == (3, 3)  # chrony, place's file, the handler
    assert not timeline.open


def test_a_failed_task_is_one_line_with_the_first_line_of_its_message():
    console = piped()
    feed(list(enumerate(recorded_run())), console)  # one event a second
    lines = lines_of(console)
    assert lines[-4:] == [
        "[  13.0 s] host1  proxy       started",
        "[  13.0 s] host1  proxy       FAILED task 'Check the nginx configuration': "
        "non-zero return code",
        "[  14.0 s] host1  proxy       failed after 0.0 s (ok 0, failed 1)",
        "[  14.0 s] host2  base        done in 3.0 s (ok 2)",
    ]
    assert not any("configuration test failed" in line for line in lines)


def test_an_unreachable_host_is_one_line():
    console = piped()
    events = [
        play("base"),
        result("runner_on_unreachable", "host2", None, "Gathering Facts", unreachable=True,
               msg="Failed to connect to the host via ssh: Connection refused\nmore"),
    ]  # fmt: skip
    feed(list(enumerate(events)), console)
    assert lines_of(console)[1:] == [
        "[   1.0 s] host2  -           UNREACHABLE task 'Gathering Facts': "
        "Failed to connect to the host via ssh: Connection refused"
    ]


def test_a_no_log_task_that_fails_shows_no_output():
    console = piped()
    event = result(
        "runner_on_failed", "host1", "base", "Set the root password", censored=NO_LOG,
        msg="chpasswd: root:Zq8-secret-4711 rejected",
    )  # fmt: skip
    feed([(0.0, play("base")), (1.5, event)], console)
    text = "\n".join(lines_of(console))
    assert "Zq8-secret-4711" not in text
    assert "FAILED task 'Set the root password': (output hidden: no_log task)" in text


def test_a_rescued_failure_leaves_its_role_done():
    console = piped()
    events = [
        (0.0, play("chat")),
        (1.0, result("runner_on_failed", "host1", "chat", "Switch homeservers", msg="no")),
        (2.0, result("runner_on_ok", "host1", "chat", "Switch back", changed=True)),
        (3.0, recap({"host1": 1}, ok={"host1": 1}, changed={"host1": 1}, rescued={"host1": 1})),
    ]
    feed(events, console)
    assert lines_of(console)[-1] == (
        "[   3.0 s] host1  chat        done in 1.0 s (ok 1, changed 1, failed 1)"
    )


def test_roles_still_running_when_no_recap_comes_are_stopped():
    console = piped()
    feed(deploy_run()[:-1], console, stop=52.0)  # Ctrl-C: Ansible ends without a recap
    assert lines_of(console)[-2:] == [
        "[  52.0 s] host1  proxy       stopped after 37.5 s (ok 2, changed 1)",
        "[  52.0 s] host2  base        stopped after 48.5 s (ok 1, skipped 1)",
    ]


def test_every_line_is_flushed_as_it_is_written():
    """What `tail -f` on the log sees: each line whole, as soon as it is written."""
    file = FlushedFile()
    clock = Clock()
    start = clock.now
    with LineProgress(tracker(), piped(file), "deploying", clock=clock) as progress:
        assert file.flushed[-1] == "deploying\n"
        for at, event in deploy_run():
            clock.now = start + at
            written = len(file.getvalue())
            progress.handle(event)
            if len(file.getvalue()) > written:
                assert file.flushed[-1] == file.getvalue()
                assert file.getvalue().endswith("\n")
    assert len(file.getvalue().splitlines()) == 7


@pytest.fixture
def terminal_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether a console is a terminal is what the test says, not what the CI's variables say."""
    monkeypatch.setenv("TERM", "xterm-256color")
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("terminal_env")
def test_a_console_that_is_no_terminal_gets_lines_and_a_terminal_the_live_table(
    monkeypatch: pytest.MonkeyPatch,
):
    piped_console = piped()
    progress = run_progress(tracker(), piped_console, "deploying")
    assert isinstance(progress, LineProgress)
    with progress:
        for event in recorded_run():
            progress.handle(event)
    piped_text = "\n".join(lines_of(piped_console))
    assert "host1  base        started" in piped_text
    assert "host2  base        done in" in piped_text

    terminal = Console(file=io.StringIO(), width=120, force_terminal=True, color_system=None)
    progress = run_progress(tracker(), terminal, "deploying")
    assert isinstance(progress, LiveProgress)
    with progress:
        for event in recorded_run():
            progress.handle(event)
    terminal_text = "\n".join(lines_of(terminal))
    assert "FAILED host1 | proxy | Check the nginx configuration" in terminal_text
    assert "started" not in terminal_text
    assert "done in" not in terminal_text

    monkeypatch.setenv("TERM", "dumb")  # a terminal that cannot redraw a table in place
    dumb = Console(file=io.StringIO(), force_terminal=True)
    assert isinstance(run_progress(tracker(), dumb), LineProgress)


def fake_run(events_for: Any, calls: list[dict[str, Any]]) -> Any:
    """run_playbook without Ansible: recorded events for the inventory's hosts."""
    from souverain.runner.run import RunOutcome

    def run_playbook(
        deployment, options, *, secrets, sink=None, tracker=None, command="deploy",
        inventory_dir=None,
    ):  # fmt: skip
        calls.append({"sink": sink, "inventory_dir": inventory_dir})
        handle = sink or tracker.handle
        for event in events_for(list(tracker.hosts)):
            handle(event)
        return RunOutcome(
            status="successful", rc=0, tracker=tracker, log_path=Path("runs/deploy.log"),
            mitogen=False, seconds=12.5, tasks_per_host={name: 2 for name in tracker.hosts},
        )  # fmt: skip

    return run_playbook


def two_roles(hosts: list[str]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for role in ("base", "proxy"):
        events.append(play(role))
        for host in hosts:
            events += ran(host, role, f"Configure {role}", changed=True)
    counts = {name: 2 for name in hosts}
    events.append(recap(dict.fromkeys(hosts, 1), ok=counts, changed=counts))
    return events


@pytest.fixture(autouse=True)
def no_hosts_to_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deploys here run no Ansible and reach no host: the hosts' tenant records (read
    before each deploy) are none."""
    monkeypatch.setattr(
        "souverain.tenants.departure.find_departures", lambda inventory, suite: ([], {})
    )


@pytest.mark.usefixtures("terminal_env")
def test_deploy_to_a_pipe_prints_role_lines_and_json_stays_pure(
    souverain, deployment_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("souverain.runner.run.run_playbook", fake_run(two_roles, calls))

    as_json = souverain("-C", str(deployment_dir), "deploy", "--json")
    assert as_json.code == 0, as_json.err
    assert calls[-1]["sink"] is None  # no progress at all: stdout is the JSON document alone
    summary = json.loads(as_json.out)
    assert set(summary) == {
        "ok", "status", "seconds", "mitogen", "log", "hosts", "unreachable", "failures",
        "notices", "error", "components", "not_deployable", "tasks_per_host", "departed", "tenant",
    }  # fmt: skip
    assert summary["ok"] is True
    assert summary["hosts"]["srv1"]["changed"] == 2

    piped_run = souverain("-C", str(deployment_dir), "deploy")  # pytest's capture: no terminal
    assert piped_run.code == 0, piped_run.err
    assert isinstance(calls[-1]["sink"].__self__, LineProgress)
    out = piped_run.out.splitlines()
    roles = [line.split("] ", 1)[1].split() for line in out if line.startswith("[")]
    assert [words[:3] for words in roles] == [
        ["srv1", "base", "started"],
        ["srv1", "base", "done"],
        ["srv1", "proxy", "started"],
        ["srv1", "proxy", "done"],
    ]
    assert any(line.endswith("(ok 1, changed 1)") for line in out)
    header = next(i for i, line in enumerate(out) if line.startswith("deploying "))
    first_role = next(i for i, line in enumerate(out) if line.startswith("["))
    summary_at = next(i for i, line in enumerate(out) if "deploy summary" in line)
    assert header < first_role < summary_at
