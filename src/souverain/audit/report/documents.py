"""Reports for tools and people: JSON, SARIF 2.1.0, JUnit XML, HTML (templates/reports/)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jinja2

from souverain import __version__
from souverain.audit.findings import SEVERITIES, Evidence, Finding, Report, Verdict
from souverain.audit.report.i18n import labels

SARIF_KIND = {
    Verdict.PASS: "pass",
    Verdict.FAIL: "fail",
    Verdict.NOT_APPLICABLE: "notApplicable",
    Verdict.NOT_CHECKED: "open",
}
SARIF_LEVEL = {"high": "error", "medium": "warning", "low": "note"}


def render_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"


def _location(item: Evidence, host: str | None) -> dict[str, Any]:
    if item.where.startswith("build/") or item.where == "suite.yml":
        uri = item.where.split(" [", 1)[0]
        physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
        if item.line is not None:
            physical["region"] = {"startLine": item.line}
        return {"physicalLocation": physical}
    return {"logicalLocations": [{"name": item.where, "kind": "resource"}]}


def _sarif_result(finding: Finding, lang: str) -> dict[str, Any]:
    rule = finding.rule
    failing = finding.verdict == Verdict.FAIL
    evidence = [
        (item, result.host)
        for result in finding.results
        for item in result.evidence
        if (item.ok is False) == failing
    ][:20]
    text = f"{rule.title.get(lang)}: {finding.why}"
    result: dict[str, Any] = {
        "ruleId": rule.id,
        "kind": SARIF_KIND[finding.verdict],
        "level": SARIF_LEVEL[rule.severity] if failing else "none",
        "message": {"text": text},
        "properties": {"component": rule.component, "severity": rule.severity},
    }
    locations = [_location(item, host) for item, host in evidence]
    if locations:
        result["locations"] = locations
    return result


def render_sarif(report: Report) -> str:
    lang = report.lang
    rules = []
    for finding in report.findings:
        rule = finding.rule
        rules.append(
            {
                "id": rule.id,
                "name": rule.id.replace("-", ""),
                "shortDescription": {"text": rule.title.get(lang)},
                "fullDescription": {"text": rule.rationale.get(lang)},
                "help": {"text": rule.remediation.get(lang)},
                "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity]},
                "properties": {
                    "component": rule.component,
                    "severity": rule.severity,
                    "references": [ref.label() for ref in rule.references],
                },
            }
        )
    document = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {"name": "souverain-audit", "version": __version__, "rules": rules}
                },
                "results": [_sarif_result(f, lang) for f in report.findings],
                "properties": {
                    "suite": report.suite_name,
                    "mode": report.mode,
                    "statement": report.as_dict()["statement"],
                },
            }
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@cache
def _environment() -> jinja2.Environment:
    from souverain.paths import TEMPLATES_DIR

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR / "reports")),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _context(report: Report, fail_on: str = "high") -> dict[str, Any]:
    words = labels(report.lang)
    failing = report.failures_at_or_above(fail_on)
    outcome = (
        words["outcome_bad"].format(count=len(failing), level=words[fail_on])
        if failing
        else words["outcome_ok"].format(level=words[fail_on])
    )
    by_component: dict[str, list[Finding]] = {}
    for finding in report.findings:
        by_component.setdefault(finding.rule.component, []).append(finding)
    return {
        "report": report,
        "data": report.as_dict(),
        "words": words,
        "lang": report.lang,
        "severities": SEVERITIES,
        "verdicts": [v.value for v in Verdict],
        "outcome": outcome,
        "outcome_ok": not failing,
        "groups": sorted(by_component.items()),
        "version": __version__,
    }


def render_junit(report: Report) -> str:
    return _environment().get_template("junit.xml.j2").render(_context(report))


def render_html(report: Report, *, fail_on: str = "high") -> str:
    return _environment().get_template("report.html.j2").render(_context(report, fail_on))
