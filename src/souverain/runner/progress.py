"""What the operator sees: a live table per host while Ansible runs, a summary at the end."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from souverain.runner.events import HostState, RunTracker, TaskResult

STATE_STYLE = {
    "waiting": "dim",
    "running": "cyan",
    "done": "green",
    "failed": "bold red",
    "unreachable": "bold magenta",
}


def _count(value: int, style: str) -> Text:
    return Text(str(value), style=style if value else "dim")


def _host_row(host: HostState) -> list[Any]:
    counts = host.counts
    return [
        host.name,
        Text(host.state, style=STATE_STYLE.get(host.state, "")),
        _count(counts["ok"], "green"),
        _count(counts["changed"], "yellow"),
        _count(counts["failed"], "red"),
        _count(counts["unreachable"], "magenta"),
        _count(counts["skipped"], "cyan"),
    ]


def _table(title: str | None) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("host")
    table.add_column("state")
    for column in ("ok", "changed", "failed", "unreachable", "skipped"):
        table.add_column(column, justify="right")
    return table


def live_table(tracker: RunTracker, elapsed: float) -> Table:
    table = _table(f"deploying ({elapsed:.0f} s)")
    table.add_column("role")
    table.add_column("task", overflow="ellipsis", max_width=60)
    for host in tracker.hosts.values():
        running = host.state == "running"
        table.add_row(
            *_host_row(host),
            (host.role or "") if running else "",
            (host.task or "") if running else "",
        )
    return table


def summary_table(tracker: RunTracker, title: str = "deploy summary") -> Table:
    table = _table(title)
    for host in tracker.hosts.values():
        table.add_row(*_host_row(host))
    return table


def failure_text(result: TaskResult) -> Text:
    where = f"{result.host} | {result.role or '-'} | {result.task}"
    kind = "UNREACHABLE" if result.status == "unreachable" else "FAILED"
    text = Text()
    text.append(f"{kind} ", style="bold red")
    text.append(where, style="bold")
    if result.msg:
        text.append("\n    " + result.msg.replace("\n", "\n    "))
    return text


class LiveProgress:
    """Feeds events to a tracker and shows it live; thread-safe against rich's refresh."""

    def __init__(self, tracker: RunTracker, console: Console, header: str | None = None) -> None:
        self.tracker = tracker
        self.console = console
        self.header = header
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._live = Live(
            console=console,
            get_renderable=self._renderable,
            refresh_per_second=4,
            transient=True,
        )

    def _renderable(self) -> Group:
        with self._lock:
            table = live_table(self.tracker, time.monotonic() - self._started)
        return Group(table)

    def handle(self, event: Mapping[str, Any]) -> TaskResult | None:
        with self._lock:
            result = self.tracker.handle(event)
        if result is not None and result.is_failure:
            self._live.console.print(failure_text(result))
        elif result is not None and result.diff:
            self._live.console.print(
                Text(f"--- {result.host} | {result.role or '-'} | {result.task}", style="bold")
            )
            self._live.console.print(result.diff, markup=False, highlight=False)
        return result

    def __enter__(self) -> LiveProgress:
        if self.header:
            self.console.print(self.header)
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.stop()
