"""ansible-runner events (shaped as recorded from real runs) -> progress and summary."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from souverain.runner.events import CENSORED, RunTracker, result_message, task_result
from souverain.runner.progress import LiveProgress, failure_text, live_table, summary_table

NO_LOG = (
    "the output has been hidden due to the fact that 'no_log: true' was specified for this result"
)


def play(pattern: str) -> dict[str, Any]:
    return {
        "event": "playbook_on_play_start",
        "event_data": {"play": pattern, "play_pattern": pattern},
    }


def task_start(role: str | None, task: str) -> dict[str, Any]:
    return {"event": "playbook_on_task_start", "event_data": {"role": role, "task": task}}


def result(kind: str, host: str, role: str | None, task: str, **res: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "host": host,
        "role": role,
        "task": task,
        "task_action": "ansible.builtin.command",
        "resolved_action": "ansible.builtin.command",
    }
    if res:
        data["res"] = res
    if res.pop("ignore_errors", False):
        data["ignore_errors"] = True
    return {"event": kind, "event_data": data}


def stats(**counts: dict[str, int]) -> dict[str, Any]:
    data = {"processed": {"host1": 1, "host2": 1}, **counts}
    return {"event": "playbook_on_stats", "event_data": data}


def recorded_run() -> list[dict[str, Any]]:
    return [
        {"event": "playbook_on_start", "event_data": {}},
        play("base"),
        task_start(None, "Gathering Facts"),
        result("runner_on_ok", "host1", None, "Gathering Facts", changed=False),
        result("runner_on_ok", "host2", None, "Gathering Facts", changed=False),
        task_start("base", "Install chrony"),
        result("runner_on_ok", "host1", "base", "Install chrony", changed=True),
        result("runner_on_ok", "host2", "base", "Install chrony", changed=False),
        task_start("base", "Set the root password"),
        result("runner_on_ok", "host1", "base", "Set the root password", censored=NO_LOG),
        result("runner_on_ok", "host2", "base", "Set the root password", censored=NO_LOG),
        play("proxy"),
        task_start("proxy", "Check the nginx configuration"),
        result(
            "runner_on_failed",
            "host1",
            "proxy",
            "Check the nginx configuration",
            msg="non-zero return code",
            stderr='nginx: [emerg] unknown directive "ssl_foo"\nnginx: configuration test failed',
            rc=1,
            changed=False,
        ),
        stats(
            ok={"host1": 3, "host2": 3},
            changed={"host1": 1},
            failures={"host1": 1},
        ),
    ]


def test_counts_follow_the_results_and_the_final_stats():
    tracker = RunTracker(["host1", "host2"], {"base": ["host1", "host2"], "proxy": ["host1"]})
    results = [r for r in map(tracker.handle, recorded_run()) if r is not None]
    assert len(results) == 7
    assert tracker.stats_seen
    assert tracker.hosts["host1"].counts["ok"] == 3
    assert tracker.hosts["host1"].counts["changed"] == 1
    assert tracker.hosts["host1"].counts["failed"] == 1
    assert tracker.hosts["host2"].counts == {
        "ok": 3, "changed": 0, "failed": 0, "unreachable": 0, "skipped": 0, "rescued": 0,
        "ignored": 0,
    }  # fmt: skip
    assert tracker.hosts["host1"].state == "failed"
    assert tracker.hosts["host2"].state == "done"
    assert tracker.failed_hosts() == ["host1"]


def test_first_failure_names_host_role_task_and_module_message():
    tracker = RunTracker(["host1", "host2"])
    for event in recorded_run():
        tracker.handle(event)
    first = tracker.first_failure
    assert first is not None
    assert (first.host, first.role, first.task) == (
        "host1",
        "proxy",
        "Check the nginx configuration",
    )
    assert first.msg is not None
    assert first.msg.startswith("non-zero return code")
    assert "configuration test failed" in first.msg


def test_running_task_is_shown_per_host_of_the_play():
    tracker = RunTracker(["host1", "host2"], {"base": ["host1", "host2"], "proxy": ["host1"]})
    tracker.handle(play("proxy"))
    tracker.handle(task_start("proxy", "Install nginx"))
    assert (tracker.hosts["host1"].role, tracker.hosts["host1"].task) == ("proxy", "Install nginx")
    assert tracker.hosts["host1"].state == "running"
    assert tracker.hosts["host2"].task is None  # not in the proxy group
    tracker.handle(
        {"event": "runner_on_start", "event_data": {"host": "host2", "role": "base", "task": "X"}}
    )
    assert tracker.hosts["host2"].task == "X"


def test_no_log_results_carry_no_output():
    event = result("runner_on_ok", "host1", "base", "Set a password", censored=NO_LOG)
    parsed = task_result(event)
    assert parsed is not None
    assert parsed.censored
    assert parsed.as_dict().get("msg") is None
    assert parsed.as_dict()["censored"] is True
    assert result_message({"censored": NO_LOG, "msg": "secret"}) == CENSORED


def test_unreachable_host_does_not_hide_the_others():
    tracker = RunTracker(["host1", "host2"], {"base": ["host1", "host2"]})
    tracker.handle(play("base"))
    tracker.handle(task_start(None, "Gathering Facts"))
    tracker.handle(
        result(
            "runner_on_unreachable", "host2", None, "Gathering Facts",
            msg="Failed to connect to the host via ssh: Connection refused", unreachable=True,
        )
    )  # fmt: skip
    tracker.handle(result("runner_on_ok", "host1", None, "Gathering Facts", changed=False))
    tracker.handle(task_start("base", "Install chrony"))
    tracker.handle(result("runner_on_ok", "host1", "base", "Install chrony", changed=True))
    tracker.handle(stats(ok={"host1": 2}, changed={"host1": 1}, dark={"host2": 1}))
    assert tracker.unreachable_hosts() == ["host2"]
    assert tracker.hosts["host2"].state == "unreachable"
    assert tracker.hosts["host1"].counts["changed"] == 1
    assert tracker.hosts["host1"].state == "done"
    assert tracker.first_failure is not None
    assert tracker.first_failure.status == "unreachable"


def test_ignored_and_rescued_failures_are_not_failures():
    tracker = RunTracker(["host1"])
    tracker.handle(
        result("runner_on_failed", "host1", "base", "Probe", msg="no", ignore_errors=True)
    )
    tracker.handle(result("runner_on_failed", "host1", "base", "Try", msg="no"))
    assert len(tracker.failures) == 1  # the ignored one never counts
    tracker.handle(
        {
            "event": "playbook_on_stats",
            "event_data": {
                "processed": {"host1": 1},
                "ok": {"host1": 4},
                "rescued": {"host1": 1},
                "ignored": {"host1": 1},
            },
        }
    )
    assert tracker.first_failure is None  # a block rescued it
    assert tracker.hosts["host1"].state == "done"


def test_loop_failure_reports_the_failed_item():
    message = result_message(
        {
            "msg": "One or more items failed",
            "results": [
                {"item": "a", "changed": False},
                {"item": "b", "failed": True, "msg": "No package matching 'b'"},
            ],
        }
    )
    assert message == "One or more items failed\nitem 'b': No package matching 'b'"


def render(renderable: Any) -> str:
    console = Console(width=160, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_tables_show_counts_and_the_running_task():
    tracker = RunTracker(["host1", "host2"], {"base": ["host1", "host2"]})
    tracker.handle(play("base"))
    tracker.handle(task_start("base", "Harden sshd"))
    tracker.handle(result("runner_on_ok", "host1", "base", "Harden sshd", changed=True))
    live = render(live_table(tracker, 3.0))
    assert "Harden sshd" in live
    assert "base" in live
    for event in recorded_run()[-1:]:
        tracker.handle(event)
    summary = render(summary_table(tracker))
    assert "host1" in summary and "host2" in summary
    assert "Harden sshd" not in summary


def test_live_progress_prints_failures_as_they_happen():
    console = Console(width=160, record=True, color_system=None, force_terminal=False)
    tracker = RunTracker(["host1", "host2"])
    with LiveProgress(tracker, console, "deploying") as progress:
        for event in recorded_run():
            progress.handle(event)
    text = console.export_text()
    assert "deploying" in text
    assert "FAILED host1 | proxy | Check the nginx configuration" in text
    first = tracker.first_failure
    assert first is not None
    assert "configuration test failed" in render(failure_text(first))


def test_diff_of_a_changed_file_is_shown_not_logged():
    event = result(
        "runner_on_ok",
        "host1",
        "proxy",
        "Place the nginx configuration",
        changed=True,
        diff=[
            {
                "before": "ssl_protocols TLSv1 TLSv1.1 TLSv1.2;\n",
                "after": "ssl_protocols TLSv1.2 TLSv1.3;\n",
                "before_header": "/etc/nginx/nginx.conf",
                "after_header": "/etc/nginx/nginx.conf",
            }
        ],
    )
    parsed = task_result(event)
    assert parsed is not None and parsed.diff is not None
    assert "-ssl_protocols TLSv1 TLSv1.1 TLSv1.2;" in parsed.diff
    assert "+ssl_protocols TLSv1.2 TLSv1.3;" in parsed.diff
    assert "diff" not in parsed.as_dict()
    console = Console(width=160, record=True, color_system=None)
    with LiveProgress(RunTracker(["host1"]), console) as progress:
        progress.handle(event)
    assert "+ssl_protocols TLSv1.2 TLSv1.3;" in console.export_text()


def test_debug_notices_from_roles_are_collected():
    tracker = RunTracker(["host1"])
    event = {
        "event": "runner_on_ok",
        "event_data": {
            "host": "host1",
            "role": "drive",
            "task": "Say why Nextcloud is not installed",
            "resolved_action": "ansible.builtin.debug",
            "res": {"msg": "NOTICE drive: Nextcloud 32.0.2 is not installed: no archive"},
        },
    }
    tracker.handle(event)
    tracker.handle(event)  # the same notice from a second host or loop item is kept once
    assert tracker.notices == ["NOTICE drive: Nextcloud 32.0.2 is not installed: no archive"]
