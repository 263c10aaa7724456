"""Every audit rule has a passing and a failing case, and each gives the expected verdict."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from souverain.audit.findings import Verdict
from tests.unit.test_audit_support import Rendered, audit_case, load_cases, render_init, rules

CASES = load_cases()
RULE_IDS = [rule.id for rule in rules().rules]


def _params() -> list[object]:
    params = []
    for rule_id in RULE_IDS:
        for name, case in (CASES.get(rule_id) or {}).items():
            expected = case.get("verdict", name) if isinstance(case, dict) else name
            params.append(pytest.param(rule_id, name, expected, id=f"{rule_id}-{name}"))
    return params


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render_init(tmp_path_factory.mktemp("audit") / "suite")


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_every_rule_has_a_passing_and_a_failing_case(rule_id: str) -> None:
    cases = CASES.get(rule_id) or {}
    assert {"pass", "fail"} <= set(cases), f"{rule_id}: add pass and fail cases to cases.yml"


def test_cases_name_existing_rules() -> None:
    assert set(CASES) <= set(RULE_IDS)


@pytest.mark.parametrize(("rule_id", "name", "expected"), _params())
def test_rule_case(
    rendered: Rendered, tmp_path: Path, rule_id: str, name: str, expected: str
) -> None:
    case = CASES[rule_id][name] or {}
    report = audit_case(rendered, case, tmp_path, only=[rule_id])
    [finding] = report.findings
    details = [(r.kind, r.verdict.value, r.summary) for r in finding.results]
    assert finding.verdict == Verdict(expected), details
    if finding.verdict == Verdict.FAIL:
        failing = [e for r in finding.results for e in r.evidence if e.ok is False]
        assert failing, f"{rule_id}: a failure must carry evidence"
        assert all(e.where for e in failing)


def test_readme_lists_exactly_the_high_rules() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### What high, medium and low mean", 1)[1].split("\n- **medium", 1)[0]
    listed = re.search(r"High rules: ([^.]*)\.", section.replace("\n", " "))
    assert listed, "README: the high section names its rules after 'High rules:'"
    named = {item.strip() for item in listed.group(1).split(",")}
    assert named == {rule.id for rule in rules().rules if rule.severity == "high"}
