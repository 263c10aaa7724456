"""The audit: every rule, against the model, the build and (with --live) the hosts."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

from souverain.audit.buildview import BuildView
from souverain.audit.cache import CACHE_FILE, JudgementCache
from souverain.audit.check_build import run_file_check, run_manifest_check
from souverain.audit.check_live import run_live_check
from souverain.audit.check_model import run_model_check
from souverain.audit.context import AuditContext, HostRunner
from souverain.audit.expressions import evaluate
from souverain.audit.findings import CheckResult, Finding, Report, Verdict, combine
from souverain.audit.redact import Redactor
from souverain.audit.rules import FileCheck, Rule, RuleSet, load_rules
from souverain.audit.scanners import availability, run_scanner
from souverain.builddir import BuildDir, Inventory
from souverain.deployment import Deployment
from souverain.errors import BuildReadError
from souverain.model.suite import Suite


def evaluate_rule(ctx: AuditContext, rule: Rule) -> Finding:
    if not ctx.is_deployed(rule.component):
        result = CheckResult(
            "model", Verdict.NOT_APPLICABLE, f"{rule.component} is not enabled or placed on no host"
        )
        return Finding(rule, Verdict.NOT_APPLICABLE, (result,))
    if rule.when is not None and not evaluate(rule.when, ctx.expressions()):
        result = CheckResult("model", Verdict.NOT_APPLICABLE, f"applies when {rule.when}")
        return Finding(rule, Verdict.NOT_APPLICABLE, (result,))
    results: list[CheckResult] = [run_model_check(ctx, check) for check in rule.model]
    if ctx.build is not None:
        for check in rule.build:
            if isinstance(check, FileCheck):
                results += run_file_check(ctx, rule, check)
            else:
                results += run_manifest_check(ctx, rule, check)
    if ctx.live:
        for live_check in rule.live:
            results += run_live_check(ctx, rule, live_check)
    elif rule.live and not rule.model and not rule.build:
        results.append(
            CheckResult("live", Verdict.NOT_CHECKED, "checked on deployed hosts only (--live)")
        )
    for scanner in rule.scanners:
        for host in ctx.hosts_of(rule.component):
            if ctx.live and ({scanner.name, "all"} & ctx.skip_scanners):
                why = f"{scanner.name}: turned off (--no-scanner {scanner.name})"
                results.append(CheckResult("scanner", Verdict.NOT_CHECKED, why, host))
                continue
            runner = ctx.hosts.get(host) if ctx.live and host not in ctx.unreachable else None
            args = {**scanner.args, "accept": scanner.accept, "component": rule.component}
            results += run_scanner(ctx, scanner.name, host, runner, args)
    return Finding(rule, combine(results), tuple(results))


@dataclass(frozen=True)
class AuditInput:
    suite: Suite
    build_dir: Path | None
    password: bytes | None
    secrets: frozenset[str]
    rules: RuleSet
    # Where judgements of unchanged files are kept between audits (audit.cache); None: nowhere.
    cache_file: Path | None = None


def run(
    data: AuditInput,
    *,
    lang: str = "fr",
    hosts: dict[str, HostRunner] | None = None,
    unreachable: dict[str, str] | None = None,
    only: list[str] | None = None,
    skip_scanners: set[str] | None = None,
) -> Report:
    """Evaluate every rule (or the ``only`` ids); ``hosts`` given means a live audit."""
    started = time.perf_counter()
    build = BuildView.open(data.build_dir, data.password) if data.build_dir else None
    cache = (
        JudgementCache.open(data.cache_file, data.password, data.secrets)
        if data.cache_file is not None and data.password and build is not None
        else None
    )
    ctx = AuditContext(
        suite=data.suite,
        rules=data.rules,
        build=build,
        redact=Redactor(data.secrets),
        lang=lang,
        live=hosts is not None,
        hosts=dict(hosts or {}),
        unreachable=dict(unreachable or {}),
        cache=cache,
        skip_scanners=set(skip_scanners or ()),
    )
    findings = [
        evaluate_rule(ctx, rule) for rule in data.rules.rules if not only or rule.id in only
    ]
    if cache is not None:
        cache.save(complete=not only)
    hosting = data.suite.hosting
    return Report(
        suite_name=data.suite.name,
        mode="live" if ctx.live else "static",
        lang=lang,
        findings=findings,
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        duration_s=time.perf_counter() - started,
        build_dir=str(data.build_dir or ""),
        hosting={
            "provider": hosting.provider,
            "country": hosting.country,
            "secnumcloud_qualified": hosting.secnumcloud_qualified,
        },
        scanners={
            name: "turned off (--no-scanner)" if {name, "all"} & ctx.skip_scanners else state
            for name, state in availability().items()
        }
        if ctx.live
        else {},
    )


def audit_deployment(
    deployment: Deployment,
    *,
    live: bool = False,
    lang: str = "fr",
    render: bool = True,
    only: list[str] | None = None,
    skip_scanners: set[str] | None = None,
) -> Report:
    """Render when needed (unless told not to), then audit; the CLI's one call."""
    from souverain.model.loader import load_suite
    from souverain.paths import ROLES_DIR
    from souverain.secrets import SecretStore, read_password

    if render:
        from souverain.render.pipeline import render_deployment

        suite = render_deployment(deployment).suite
    else:
        suite = load_suite(deployment.suite_file)
    password = read_password(deployment)
    secrets = SecretStore.open(deployment).all_secret_values()
    data = AuditInput(
        suite,
        deployment.build_dir,
        password,
        secrets,
        load_rules(ROLES_DIR),
        cache_file=deployment.root / CACHE_FILE,
    )
    if not live:
        return run(data, lang=lang, only=only, skip_scanners=skip_scanners)
    from souverain.audit.live import inventory_runners, reachability

    with inventory_runners(_inventory(deployment)) as runners:
        unreachable: dict[str, str] = {}
        for name, runner in runners.items():
            why = reachability(runner)
            if why:
                unreachable[name] = why
        return run(
            data, lang=lang, hosts=dict(runners), unreachable=unreachable, only=only,
            skip_scanners=skip_scanners,
        )  # fmt: skip


def _inventory(deployment: Deployment) -> Inventory:
    """The hosts to audit live; none when the build has no readable inventory (the audit of
    the build then says what is missing)."""
    try:
        return BuildDir(deployment.build_dir).inventory()
    except BuildReadError:
        return Inventory({}, {})
