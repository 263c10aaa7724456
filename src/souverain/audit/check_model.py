"""Model checks: a rule's expectation as an expression over the suite model."""

from __future__ import annotations

from souverain.audit.context import AuditContext
from souverain.audit.expressions import evaluate, show
from souverain.audit.findings import CheckResult, Evidence, Verdict
from souverain.audit.rules import ModelCheck

WHERE = "suite.yml"


def run_model_check(ctx: AuditContext, check: ModelCheck) -> CheckResult:
    names = ctx.expressions()
    if check.when is not None and not evaluate(check.when, names):
        return CheckResult("model", Verdict.NOT_APPLICABLE, f"applies when {check.when}")
    ok = bool(evaluate(check.expect, names))
    evidence = tuple(
        Evidence(ctx.redact(f"{source} = {show(evaluate(source, names))}"), WHERE, None, ok)
        for source in check.show
    )
    verdict = Verdict.PASS if ok else Verdict.FAIL
    if evidence:
        summary = "; ".join(item.text for item in evidence[:3])
    else:
        summary = f"{'holds' if ok else 'does not hold'}: {check.expect}"
    return CheckResult("model", verdict, summary, None, evidence)
