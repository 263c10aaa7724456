"""Reports of an audit: text (rich), JSON, SARIF 2.1.0, JUnit XML and self-contained HTML."""

from __future__ import annotations

from collections.abc import Callable

from souverain.audit.findings import Report

FORMATS = ("text", "json", "html", "sarif", "junit")


def render(report: Report, fmt: str, *, fail_on: str = "high", color: bool = False) -> str:
    """The report as text in ``fmt``."""
    from souverain.audit.report import documents, text

    renderers: dict[str, Callable[..., str]] = {
        "text": lambda r: text.render_text(r, fail_on=fail_on, color=color),
        "json": documents.render_json,
        "sarif": documents.render_sarif,
        "junit": documents.render_junit,
        "html": lambda r: documents.render_html(r, fail_on=fail_on),
    }
    return renderers[fmt](report)
