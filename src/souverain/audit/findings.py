"""What an audit produces: one finding per rule, made of check results with their evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from souverain.audit.rules import Rule

SEVERITIES = ("high", "medium", "low")


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "not_applicable"
    NOT_CHECKED = "not_checked"


@dataclass(frozen=True)
class Evidence:
    """One observation: what was read, where, and whether it met the expectation."""

    text: str  # the setting as read ("X11Forwarding no"), or a command's trimmed output
    where: str  # "build:hosts/srv1/files/etc/ssh/sshd_config.d/50-souverain.conf"
    line: int | None = None
    ok: bool | None = None  # None: context only, not judged

    def location(self) -> str:
        return f"{self.where}:{self.line}" if self.line is not None else self.where

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "where": self.where, "line": self.line, "ok": self.ok}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one declarative check (or scanner) of a rule, on one host or the model."""

    kind: str  # model | build | live | scanner
    verdict: Verdict
    summary: str  # one line: what was checked and the outcome, or why it was not checked
    host: str | None = None
    evidence: tuple[Evidence, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "verdict": self.verdict.value,
            "summary": self.summary,
            "host": self.host,
            "evidence": [item.as_dict() for item in self.evidence],
        }


def combine(results: list[CheckResult]) -> Verdict:
    """A rule fails if any check fails; passes if some check passed and none failed."""
    verdicts = {result.verdict for result in results}
    if Verdict.FAIL in verdicts:
        return Verdict.FAIL
    if Verdict.PASS in verdicts:
        return Verdict.PASS
    if Verdict.NOT_CHECKED in verdicts:
        return Verdict.NOT_CHECKED
    return Verdict.NOT_APPLICABLE


@dataclass(frozen=True)
class Finding:
    rule: Rule
    verdict: Verdict
    results: tuple[CheckResult, ...]

    @property
    def why(self) -> str:
        """The reason behind a verdict, from the first check that decided it."""
        for result in self.results:
            if result.verdict == self.verdict:
                return result.summary
        return ""

    def as_dict(self, lang: str) -> dict[str, Any]:
        rule = self.rule
        return {
            "id": rule.id,
            "component": rule.component,
            "severity": rule.severity,
            "title": rule.title.get(lang),
            "rationale": rule.rationale.get(lang),
            "remediation": rule.remediation.get(lang),
            "references": [ref.as_dict() for ref in rule.references],
            "verdict": self.verdict.value,
            "why": self.why,
            "results": [result.as_dict() for result in self.results],
        }


@dataclass
class Report:
    suite_name: str
    mode: str  # static | live
    lang: str
    findings: list[Finding] = field(default_factory=list)
    generated_at: str = ""
    duration_s: float = 0.0
    build_dir: str = ""
    hosting: dict[str, Any] = field(default_factory=dict)
    scanners: dict[str, str] = field(default_factory=dict)  # name -> version or why absent

    def counts(self) -> dict[str, dict[str, int]]:
        """severity -> verdict -> number of rules."""
        table = {sev: {v.value: 0 for v in Verdict} for sev in SEVERITIES}
        for finding in self.findings:
            table[finding.rule.severity][finding.verdict.value] += 1
        return table

    def by_component(self) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        for finding in self.findings:
            row = table.setdefault(finding.rule.component, {v.value: 0 for v in Verdict})
            row[finding.verdict.value] += 1
        return dict(sorted(table.items()))

    def failures_at_or_above(self, severity: str) -> list[Finding]:
        limit = SEVERITIES.index(severity)
        return [
            finding
            for finding in self.findings
            if finding.verdict == Verdict.FAIL and SEVERITIES.index(finding.rule.severity) <= limit
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": 1,
            "tool": "souverain audit",
            "statement": STATEMENT[self.lang],
            "suite": self.suite_name,
            "mode": self.mode,
            "lang": self.lang,
            "generated_at": self.generated_at,
            "duration_s": round(self.duration_s, 3),
            "hosting": self.hosting,
            "scanners": self.scanners,
            "summary": self.counts(),
            "components": self.by_component(),
            "findings": [finding.as_dict(self.lang) for finding in self.findings],
        }


STATEMENT = {
    "fr": "Contrôles alignés sur les recommandations de l'ANSSI et le référentiel SecNumCloud "
    "3.2. Ce rapport n'atteste aucune conformité ni qualification : la qualification "
    "SecNumCloud est délivrée par l'ANSSI à des prestataires.",
    "en": "Checks aligned with ANSSI recommendations and the SecNumCloud 3.2 framework. This "
    "report does not attest compliance or qualification: the SecNumCloud qualification is "
    "granted by ANSSI to providers.",
}
