"""What the operator sees while Ansible runs, and a summary at the end.

On a terminal, a live table per host. Written to a file or a pipe (CI logs, ``| tee``, cron),
where a live table shows nothing until the end, one plain line per role and host as it starts
and as it ends, and one per failed task, each flushed as it is written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from souverain.runner.events import HostState, RoleSpan, RoleTimeline, RunTracker, TaskResult

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


def print_diff(console: Console, result: TaskResult) -> None:
    console.print(Text(f"--- {result.host} | {result.role or '-'} | {result.task}", style="bold"))
    console.print(result.diff, markup=False, highlight=False)


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
            print_diff(self._live.console, result)
        return result

    def __enter__(self) -> LiveProgress:
        if self.header:
            self.console.print(self.header)
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.stop()


ROLE_WIDTH = 10  # the longest role name, postgresql: a longer one shifts its own line only


def counts_text(counts: Mapping[str, int]) -> str:
    """``ok 14, changed 3``: ok always, the other counts when not zero."""
    shown = ("changed", "failed", "unreachable", "skipped", "ignored")
    return ", ".join([f"ok {counts['ok']}", *(f"{k} {counts[k]}" for k in shown if counts[k])])


def span_text(span: RoleSpan) -> str:
    if span.end is None:
        return "started"
    if span.end == "done":
        return f"done in {span.seconds:.1f} s ({counts_text(span.counts)})"
    return f"{span.end} after {span.seconds:.1f} s ({counts_text(span.counts)})"


def failure_line(result: TaskResult) -> str:
    """The task and the first line of its message (no_log tasks' events carry none)."""
    kind = "UNREACHABLE" if result.status == "unreachable" else "FAILED"
    first = (result.msg or "").strip().split("\n", 1)[0].strip()
    return f"{kind} task {result.task!r}" + (f": {first}" if first else "")


class LineProgress:
    """Feeds events to a tracker and writes a line per role and host as it starts and ends.

    For a console that is no terminal: every line is flushed as it is written, so that
    ``tail -f`` on a log follows the run. ``clock`` gives the elapsed time (tests fake it).
    """

    def __init__(
        self,
        tracker: RunTracker,
        console: Console,
        header: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tracker = tracker
        self.console = console
        self.header = header
        self.timeline = RoleTimeline()
        self._clock = clock
        self._started = clock()
        self._host_width = max((len(name) for name in tracker.hosts), default=0)

    def _elapsed(self) -> float:
        return self._clock() - self._started

    def _line(self, at: float, host: str, role: str | None, what: str) -> None:
        where = f"{host.ljust(self._host_width)}  {(role or '-').ljust(ROLE_WIDTH)}"
        self.console.print(
            f"[{at:6.1f} s] {where}  {what}", markup=False, highlight=False, soft_wrap=True
        )
        self.console.file.flush()

    def _spans(self, spans: list[RoleSpan]) -> None:
        for span in spans:
            at = span.started if span.ended is None else span.ended
            self._line(at, span.host, span.role, span_text(span))

    def handle(self, event: Mapping[str, Any]) -> TaskResult | None:
        result = self.tracker.handle(event)
        at = self._elapsed()
        self._spans(self.timeline.handle(event, at))
        if result is not None and result.is_failure:
            self._line(at, result.host, result.role, failure_line(result))
        elif result is not None and result.diff:
            print_diff(self.console, result)
            self.console.file.flush()
        return result

    def __enter__(self) -> LineProgress:
        if self.header:
            self.console.print(self.header, markup=False, highlight=False, soft_wrap=True)
            self.console.file.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        self._spans(self.timeline.close(self._elapsed()))


def run_progress(
    tracker: RunTracker, console: Console, header: str | None = None
) -> LiveProgress | LineProgress:
    """The live table on a terminal that can redraw; lines anywhere else (file, pipe, TERM=dumb)."""
    if console.is_terminal and not console.is_dumb_terminal:
        return LiveProgress(tracker, console, header)
    return LineProgress(tracker, console, header)
