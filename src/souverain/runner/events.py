"""ansible-runner events -> task results and per-host tallies, with no I/O.

Fed one event dict at a time (as ansible-runner's ``event_handler`` receives them), the
tracker knows, per host, the role and task running and the counts so far; the final counts come
from ``playbook_on_stats``. A timeline of the same events knows when each role started and
ended on each host. Recorded events make it testable without a host.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

CENSORED = "(output hidden: no_log task)"
MESSAGE_LIMIT = 2000
DIFF_LINES = 200

RESULT_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}
# playbook_on_stats key -> our count name
STATS_KEYS = {
    "ok": "ok",
    "changed": "changed",
    "failures": "failed",
    "dark": "unreachable",
    "skipped": "skipped",
    "rescued": "rescued",
    "ignored": "ignored",
}
COUNTS = ("ok", "changed", "failed", "unreachable", "skipped", "rescued", "ignored")


@dataclass(frozen=True)
class TaskResult:
    """What one task did on one host."""

    host: str
    role: str | None
    task: str
    action: str | None
    status: str  # ok | failed | unreachable | skipped
    changed: bool
    msg: str | None
    censored: bool = False
    ignored: bool = False  # failed, but the task has ignore_errors
    diff: str | None = None  # with --diff: what the task changed in files (never logged)

    @property
    def is_failure(self) -> bool:
        return self.status == "unreachable" or (self.status == "failed" and not self.ignored)

    def as_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "host": self.host,
            "role": self.role,
            "task": self.task,
            "action": self.action,
            "status": self.status,
            "changed": self.changed,
        }
        if self.censored:
            entry["censored"] = True
        elif self.msg:
            entry["msg"] = self.msg
        if self.ignored:
            entry["ignored"] = True
        return entry


@dataclass
class HostState:
    """One host during and after a run."""

    name: str
    role: str | None = None
    task: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    final: bool = False  # counts come from playbook_on_stats

    @property
    def state(self) -> str:
        if self.counts["unreachable"]:
            return "unreachable"
        if self.counts["failed"]:
            return "failed"
        if self.final:
            return "done"
        return "running" if self.task else "waiting"

    def as_dict(self) -> dict[str, Any]:
        return {"host": self.name, "state": self.state, **self.counts}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_text(item) for item in value)
    return repr(value)


def _tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def result_message(res: Mapping[str, Any]) -> str | None:
    """The module's own words: msg, then the end of stderr; a loop's first failed item."""
    if "censored" in res:
        return CENSORED
    parts: list[str] = []
    if res.get("msg"):
        parts.append(_text(res["msg"]).strip())
    for key in ("stderr", "module_stderr"):
        if res.get(key):
            parts.append(_tail(_text(res[key])))
    items = res.get("results")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, Mapping) and (item.get("failed") or item.get("unreachable")):
                inner = result_message(item)
                if inner:
                    label = item.get("item")
                    prefix = f"item {label!r}: " if isinstance(label, str | int) else ""
                    parts.append(prefix + inner)
                break
    message = "\n".join(part for part in parts if part)
    if len(message) > MESSAGE_LIMIT:
        message = message[:MESSAGE_LIMIT] + " [...]"
    return message or None


def result_diff(res: Mapping[str, Any]) -> str | None:
    """The unified diff of a result run with --diff (Ansible's ``diff`` entries)."""
    entries = res.get("diff")
    if isinstance(entries, Mapping):
        entries = [entries]
    if not isinstance(entries, list):
        return None
    chunks: list[str] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        if isinstance(entry.get("prepared"), str):
            chunks.append(entry["prepared"])
            continue
        before, after = entry.get("before"), entry.get("after")
        if isinstance(before, str) and isinstance(after, str) and before != after:
            chunks.extend(
                difflib.unified_diff(
                    before.splitlines(keepends=True),
                    after.splitlines(keepends=True),
                    fromfile=str(entry.get("before_header") or "before"),
                    tofile=str(entry.get("after_header") or "after"),
                )
            )
    lines = "".join(chunks).splitlines()
    if len(lines) > DIFF_LINES:
        lines = [*lines[:DIFF_LINES], f"[... {len(lines) - DIFF_LINES} more lines]"]
    return "\n".join(lines) or None


def task_result(event: Mapping[str, Any]) -> TaskResult | None:
    """The TaskResult an event carries, or None for events that are not task results."""
    status = RESULT_EVENTS.get(str(event.get("event")))
    if status is None:
        return None
    data = event.get("event_data") or {}
    res = data.get("res") or {}
    if not isinstance(res, Mapping):
        res = {}
    censored = "censored" in res
    action = data.get("resolved_action") or data.get("task_action")
    # A successful task's message matters only for debug tasks (the roles' notices).
    keep_msg = status != "ok" or str(action or "").endswith("debug")
    return TaskResult(
        host=str(data.get("host") or data.get("remote_addr") or "?"),
        role=data.get("role") or None,
        task=str(data.get("task") or data.get("name") or "?"),
        action=action,
        status=status,
        changed=bool(res.get("changed")),
        msg=CENSORED if censored else (result_message(res) if keep_msg else None),
        censored=censored,
        ignored=status == "failed" and bool(data.get("ignore_errors")),
        diff=None if censored else result_diff(res),
    )


NOTICE_PREFIXES = ("NOTICE", "NOT INSTALLED")


def _count(counts: dict[str, int], result: TaskResult) -> None:
    if result.status == "failed" and result.ignored:
        counts["ignored"] += 1
    else:
        counts[result.status] += 1
    if result.status == "ok" and result.changed:
        counts["changed"] += 1


def _is_notice(result: TaskResult) -> bool:
    return (
        result.status == "ok"
        and (result.action or "").endswith("debug")
        and bool(result.msg)
        and str(result.msg).lstrip().startswith(NOTICE_PREFIXES)
    )


class RunTracker:
    """Per-host state of a run, updated by :meth:`handle` for each ansible-runner event."""

    def __init__(self, hosts: Iterable[str] = (), groups: Mapping[str, list[str]] | None = None):
        self.hosts: dict[str, HostState] = {name: HostState(name) for name in hosts}
        self.groups = dict(groups or {})
        self.failures: list[TaskResult] = []
        # Messages roles address to the operator (debug tasks whose message starts with
        # NOTICE or NOT INSTALLED): what was deliberately skipped, and why.
        self.notices: list[str] = []
        self.stats_seen = False
        self.play: str | None = None
        self._active: list[str] = []

    def _host(self, name: str) -> HostState:
        if name not in self.hosts:
            self.hosts[name] = HostState(name)
        return self.hosts[name]

    def handle(self, event: Mapping[str, Any]) -> TaskResult | None:
        """Update the state; return the task result the event carries, if any."""
        kind = event.get("event")
        data = event.get("event_data") or {}
        if kind == "playbook_on_play_start":
            self.play = data.get("play") or data.get("name")
            pattern = str(data.get("play_pattern") or "")
            self._active = [
                host
                for host in self.groups.get(pattern, list(self.hosts))
                if host in self.hosts and self.hosts[host].state not in {"failed", "unreachable"}
            ]
            return None
        if kind == "playbook_on_task_start":
            for name in self._active:
                host = self._host(name)
                if host.state not in {"failed", "unreachable"}:
                    host.role, host.task = data.get("role") or None, data.get("task")
            return None
        if kind == "runner_on_start":
            host = self._host(str(data.get("host")))
            host.role, host.task = data.get("role") or None, data.get("task")
            return None
        if kind == "playbook_on_stats":
            self._apply_stats(data)
            return None
        result = task_result(event)
        if result is None:
            return None
        host = self._host(result.host)
        _count(host.counts, result)
        if _is_notice(result) and result.msg not in self.notices:
            self.notices.append(str(result.msg))
        if result.is_failure:
            self.failures.append(result)
            if result.host in self._active:
                self._active.remove(result.host)
        return result

    def _apply_stats(self, data: Mapping[str, Any]) -> None:
        self.stats_seen = True
        for host_name in data.get("processed") or {}:
            self._host(host_name).counts = dict.fromkeys(COUNTS, 0)
        for key, name in STATS_KEYS.items():
            for host_name, value in (data.get(key) or {}).items():
                self._host(host_name).counts[name] = int(value)
        for host in self.hosts.values():
            host.final = True
            host.role = host.task = None
        # A failure a block rescued is no failure: keep those of hosts that ended failed.
        self.failures = [
            result
            for result in self.failures
            if self.hosts[result.host].counts[
                "unreachable" if result.status == "unreachable" else "failed"
            ]
        ]

    @property
    def first_failure(self) -> TaskResult | None:
        return self.failures[0] if self.failures else None

    def totals(self) -> dict[str, int]:
        return {name: sum(h.counts[name] for h in self.hosts.values()) for name in COUNTS}

    def unreachable_hosts(self) -> list[str]:
        return sorted(name for name, host in self.hosts.items() if host.counts["unreachable"])

    def failed_hosts(self) -> list[str]:
        return sorted(name for name, host in self.hosts.items() if host.counts["failed"])


@dataclass
class RoleSpan:
    """One role on one host: when it started and ended (seconds into the run), and the counts
    of its tasks there."""

    host: str
    role: str
    started: float
    play: int  # the play it started in (1 for the first)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    last: float | None = None  # its last result
    ended: float | None = None  # when its end was known
    end: str | None = None  # done | failed | stopped (no recap came: interrupted, or Ansible died)

    @property
    def seconds(self) -> float:
        """How long it ran: to its last result when done or failed (a host that waits for the
        recap is not running its role), to the stop when stopped."""
        if self.end in {"done", "failed"} and self.last is not None:
            return self.last - self.started
        return (self.started if self.ended is None else self.ended) - self.started


class RoleTimeline:
    """When each role starts and ends on each host, from the same events as :class:`RunTracker`.

    A role starts on a host with its first task there (``runner_on_start``, or its first result
    when no start event came) and ends when the role of a later play starts there, or at the
    recap. Within a play, the roles its role includes (``souverain.suite.place``, ``proxy`` for
    ``web``), its handlers and its tasks of no role count for the play's role instead of ending
    it; tasks of no role before it (Gathering Facts) count for none. A host that runs nothing
    (outside ``--limit``) has no span. No clock of its own: ``at`` comes with each event.
    """

    def __init__(self) -> None:
        self.open: dict[str, RoleSpan] = {}
        self.spans: list[RoleSpan] = []  # in the order they started
        self._play = 0

    def handle(self, event: Mapping[str, Any], at: float) -> list[RoleSpan]:
        """The spans this event ended (``end`` set) or started, in that order."""
        kind = event.get("event")
        data = event.get("event_data") or {}
        if kind == "playbook_on_play_start":
            self._play += 1
            return []
        if kind == "playbook_on_stats":
            ended_badly = {**(data.get("failures") or {}), **(data.get("dark") or {})}
            ended = []
            for span in self.open.values():
                # A failure a block rescued leaves the host done: the role is done too.
                failed = span.counts["failed"] or span.counts["unreachable"]
                end = "failed" if failed and ended_badly.get(span.host) else "done"
                ended.append(self._end(span, at, end))
            self.open.clear()
            return ended
        if kind == "runner_on_start":
            host = str(data.get("host") or data.get("remote_addr") or "?")
            return self._enter(host, data.get("role") or None, at)
        result = task_result(event)
        if result is None:
            return []
        changes = self._enter(result.host, result.role, at)
        span = self.open.get(result.host)
        if span is not None and span.play == self._play:
            _count(span.counts, result)
            span.last = at
        return changes

    def close(self, at: float) -> list[RoleSpan]:
        """End the spans still open when no recap came."""
        ended = [self._end(span, at, "stopped") for span in self.open.values()]
        self.open.clear()
        return ended

    @staticmethod
    def _end(span: RoleSpan, at: float, end: str) -> RoleSpan:
        span.ended, span.end = at, end
        return span

    def _enter(self, host: str, role: str | None, at: float) -> list[RoleSpan]:
        if role is None:
            return []
        span = self.open.get(host)
        if span is not None and (span.play == self._play or span.role == role):
            span.play = self._play
            return []
        changes = [] if span is None else [self._end(span, at, "done")]
        started = RoleSpan(host, role, at, self._play)
        self.open[host] = started
        self.spans.append(started)
        return [*changes, started]
