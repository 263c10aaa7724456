"""The terminal report: a rich table of rules, then the failures with their evidence."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from souverain.audit.findings import Report, Verdict
from souverain.audit.report.i18n import labels

STYLE = {
    Verdict.PASS: "green",
    Verdict.FAIL: "bold red",
    Verdict.NOT_APPLICABLE: "dim",
    Verdict.NOT_CHECKED: "yellow",
}
MAX_EVIDENCE = 6


def render_text(report: Report, *, fail_on: str, color: bool) -> str:
    words = labels(report.lang)
    buffer = io.StringIO()
    out = Console(file=buffer, force_terminal=color, no_color=not color, width=120,
                  highlight=False)  # fmt: skip
    mode = words[report.mode]
    out.print(f"[bold]{words['title']}[/] — {report.suite_name} — {words['mode']}: {mode}")
    table = Table(show_lines=False, pad_edge=False)
    for column in (
        words["rule"],
        words["severity"],
        words["component"],
        words["verdict"],
        words["why"],
    ):
        table.add_column(column, overflow="fold")
    for finding in report.findings:
        verdict = finding.verdict
        table.add_row(
            f"{finding.rule.id} {finding.rule.title.get(report.lang)}",
            words[finding.rule.severity],
            finding.rule.component,
            f"[{STYLE[verdict]}]{words[verdict.value]}[/]",
            finding.why,
        )
    out.print(table)
    for finding in report.findings:
        if finding.verdict != Verdict.FAIL:
            continue
        out.print(f"\n[bold red]{finding.rule.id}[/] {finding.rule.title.get(report.lang)}")
        shown = 0
        for result in finding.results:
            for item in result.evidence:
                if item.ok is False and shown < MAX_EVIDENCE:
                    out.print(f"  {item.location()}: {item.text}", markup=False)
                    shown += 1
        out.print(f"  → {finding.rule.remediation.get(report.lang)}", markup=False)
    counts = report.counts()
    line = ", ".join(
        f"{words[sev]}: {counts[sev]['fail']} {words['fail']} / {sum(counts[sev].values())}"
        for sev in counts
    )
    out.print(f"\n{line}")
    failing = report.failures_at_or_above(fail_on)
    level = words[fail_on]
    if failing:
        out.print(words["outcome_bad"].format(count=len(failing), level=level))
    else:
        out.print(words["outcome_ok"].format(level=level))
    return buffer.getvalue()
