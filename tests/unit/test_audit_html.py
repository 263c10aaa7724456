"""The HTML report: self-contained, and rendered by a real browser (headless Chromium)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from souverain.audit.report import render
from tests.unit.test_audit_support import Rendered, audit_case, render_init

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render_init(tmp_path_factory.mktemp("audit-html") / "suite")


@pytest.fixture(scope="module")
def html(rendered: Rendered, tmp_path_factory: pytest.TempPathFactory) -> str:
    case = {"suite": {"hosting": {"country": "US"}}}
    report = audit_case(rendered, case, tmp_path_factory.mktemp("case"))
    report.lang = "fr"
    return render(report, "html")


def test_html_is_self_contained(html: str) -> None:
    assert not re.search(r"<(script|link|img|iframe)\b", html, re.I)
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html, re.I)
    assert "@import" not in html and "url(" not in html
    assert 'id="summary"' in html and "LOC-01" in html
    assert "alignés sur" in html  # "aligned with", never "compliant"


def test_chromium_renders_the_summary(html: str, tmp_path: Path) -> None:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is needed in CI (Debian package: chromium)")
        pytest.skip("chromium is not installed (Debian package: chromium)")
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert 'id="summary"' in dom
    assert "Synthèse par gravité" in dom
    assert re.search(r'<p class="outcome bad" id="outcome">1 règle\(s\) en échec', dom)
    assert 'id="LOC-01"' in dom
