"""Everything a check may read: the model, the build, the hosts, and how to mask secrets."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from souverain.audit.buildview import BuildView
from souverain.audit.cache import JudgementCache
from souverain.audit.redact import Redactor
from souverain.audit.rules import RuleSet
from souverain.model.suite import EU_EEA_COUNTRIES, Suite

SUITE_WIDE = "suite"
SSH_FAILED = -1  # RunResult.exit_status when the command could not be run at all


@dataclass(frozen=True)
class RunResult:
    exit_status: int
    stdout: str
    stderr: str = ""


class HostRunner(Protocol):
    """A deployed host the live checks can run commands on (testinfra, or a test double)."""

    name: str
    address: str
    port: int

    def run(self, command: str) -> RunResult: ...


@dataclass
class AuditContext:
    suite: Suite
    rules: RuleSet
    build: BuildView | None
    redact: Redactor
    lang: str = "fr"
    live: bool = False
    hosts: dict[str, HostRunner] = field(default_factory=dict)
    unreachable: dict[str, str] = field(default_factory=dict)  # host -> why
    cache: JudgementCache | None = None  # judgements of files unchanged since the last audit
    # The audit's instant: certificates' days left are counted from it.
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    skip_scanners: set[str] = field(default_factory=set)  # scanner names, or "all"
    # What a scanner learnt once per host and several rules read (an OpenSCAP evaluation).
    scanner_results: dict[tuple[str, str], Any] = field(default_factory=dict)

    def hosts_of(self, component: str) -> list[str]:
        if component == SUITE_WIDE:
            return [host.name for host in self.suite.hosts]
        return list(self.suite.placement.get(component, []))

    def is_deployed(self, component: str) -> bool:
        return component == SUITE_WIDE or component in self.suite.placement

    def expressions(self, host: str | None = None) -> dict[str, Any]:
        suite = self.suite
        context: dict[str, Any] = {
            **self.rules.constants,
            "suite": suite,
            "components": suite.components,
            "enabled": suite.components.enabled_names(),
            "placement": suite.placement,
            "eu_eea": sorted(EU_EEA_COUNTRIES),
        }
        if host is not None:
            context["host"] = suite.host(host)
            context["host_components"] = suite.components_of_host(host)
        return context
