"""Build checks: settings and lines of the rendered files, and their modes in the manifest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from itertools import islice

from souverain.audit.buildview import BuiltFile
from souverain.audit.cache import CachedJudged, JudgementCache
from souverain.audit.context import AuditContext
from souverain.audit.expect import Judged, judge_lines, judge_setting
from souverain.audit.expressions import evaluate
from souverain.audit.findings import CheckResult, Evidence, Verdict
from souverain.audit.parsers import (
    BY_KEYS,
    PARSERS,
    meaningful_lines,
    parse_x509,
    x509_days_left,
)
from souverain.audit.rules import FileCheck, ManifestCheck, Rule

MAX_PASSING_EVIDENCE = 3  # per host: enough to show where a passing setting was read
MAX_FAILING_EVIDENCE = 20


def judge_file(ctx: AuditContext, item: BuiltFile, check: FileCheck) -> list[Judged] | None:
    """Every expectation of ``check`` on one file; None when the file cannot be read."""
    assert ctx.build is not None
    build = ctx.build
    text = build.text(item)
    if text is None:
        return None
    redact = ctx.redact.strict if item.secret else ctx.redact
    fmt = check.format
    judged = []
    if check.settings:
        if fmt in BY_KEYS:
            # Only what can hold a key the check reads (parsers.BY_KEYS): the same entries.
            keys = tuple(sorted({setting.key for setting in check.settings}))
            entries = build.cached(item, (fmt, keys), lambda text: PARSERS[fmt](text, keys))
        elif fmt == "x509":
            # Days left as of the audit's start, the instant the cache key uses too.
            entries = build.cached(item, (fmt, ctx.now), lambda text: parse_x509(text, ctx.now))
        else:
            entries = build.cached(item, fmt, PARSERS[fmt])
        judged += [judge_setting(s, entries, fmt, item.where, redact) for s in check.settings]
    if check.lines:
        lines = build.cached(item, "#lines", meaningful_lines)
        judged += [judge_lines(p, text, item.where, redact, lines) for p in check.lines]
    return judged


def judge_files(
    ctx: AuditContext, check: FileCheck, files: list[BuiltFile]
) -> list[tuple[BuiltFile, Sequence[Judged | CachedJudged] | None]]:
    """:func:`judge_file` of each file, taken from the cache for the files that did not change."""
    assert ctx.build is not None
    cache = ctx.cache
    keys: list[str | None] = [None] * len(files)
    known: dict[int, Sequence[Judged | CachedJudged] | None] = {}
    if cache is not None:
        for index, item in enumerate(files):
            keys[index] = key = _cache_key(ctx, cache, check, item)
            if key is not None:
                found, judged = cache.get(key)
                if found:
                    known[index] = judged
    ctx.build.prefetch([item for index, item in enumerate(files) if index not in known])
    results = []
    for index, item in enumerate(files):
        if index in known:
            results.append((item, known[index]))
            continue
        judged = judge_file(ctx, item, check)
        key = keys[index]
        if cache is not None and key is not None:
            cache.put(key, judged)
        results.append((item, judged))
    return results


def _cache_key(
    ctx: AuditContext, cache: JudgementCache, check: FileCheck, item: BuiltFile
) -> str | None:
    assert ctx.build is not None
    if check.format != "x509":
        return cache.key(check, item, ctx.build.digest(item))
    # A certificate's judgement also depends on the date, through its days left (and only
    # so): they go in the key. Reading them needs the text, which a secret file hides.
    text = None if item.secret else ctx.build.text(item)
    if text is None:
        return None
    days_left = x509_days_left(text, ctx.now)
    return cache.key(check, item, ctx.build.digest(item), f"days_left={days_left}")


def fold(
    kind: str, host: str | None, judged: Sequence[Judged | CachedJudged], what: str
) -> CheckResult:
    """Many judgements (files × expectations) into one result for a host."""
    failed = [j for j in judged if j.ok is False]
    passed = [j for j in judged if j.ok is True]
    if failed:
        evidence = list(islice((e for j in failed for e in j.evidence), MAX_FAILING_EVIDENCE))
        reasons = sorted({j.reason for j in failed})
        summary = f"{what}: {'; '.join(reasons[:3])}"
        return CheckResult(kind, Verdict.FAIL, summary, host, tuple(evidence))
    if passed:
        evidence = list(
            islice((e for j in passed for e in j.evidence if e.ok), MAX_PASSING_EVIDENCE)
        )
        return CheckResult(kind, Verdict.PASS, f"{what}: as expected", host, tuple(evidence))
    return CheckResult(kind, Verdict.NOT_APPLICABLE, f"{what}: nothing to judge", host)


def run_file_check(ctx: AuditContext, rule: Rule, check: FileCheck) -> list[CheckResult]:
    assert ctx.build is not None
    results = []
    for host in ctx.hosts_of(rule.component):
        if check.when is not None and not evaluate(check.when, ctx.expressions(host)):
            results.append(
                CheckResult("build", Verdict.NOT_APPLICABLE, f"applies when {check.when}", host)
            )
            continue
        files = ctx.build.matching(host, check.files)
        if not files:
            results.append(_absent(ctx, rule, check, host))
            continue
        if check.merged:
            results.append(_merged(ctx, check, host, files))
            continue
        judged: list[Judged | CachedJudged] = []
        unreadable: list[BuiltFile] = []
        for item, one in judge_files(ctx, check, files):
            if one is None:
                unreadable.append(item)
            else:
                judged += one
        what = f"{len(files)} file(s) {check.files}"
        if not judged and unreadable:
            results.append(
                CheckResult(
                    "build",
                    Verdict.NOT_CHECKED,
                    f"{check.files}: private key or secret file not readable without the "
                    "vault password",
                    host,
                )
            )
            continue
        results.append(fold("build", host, judged, what))
    return results


def _merged(ctx: AuditContext, check: FileCheck, host: str, files: list[BuiltFile]) -> CheckResult:
    """One configuration over several files: settings across them, lines in any of them."""
    assert ctx.build is not None
    fmt = check.format
    entries = []
    texts: list[tuple[BuiltFile, str]] = []
    ctx.build.prefetch(files)
    for item in sorted(files, key=lambda f: f.dest or ""):
        text = ctx.build.text(item)
        if text is None:
            continue
        texts.append((item, text))
        if check.settings:
            for entry in ctx.build.cached(item, fmt, PARSERS[fmt]):
                entries.append(replace(entry, where=item.where))
    where = f"build/hosts/{host}/files{check.files}"
    judged = [judge_setting(s, entries, fmt, where, ctx.redact) for s in check.settings]
    for pattern in check.lines:
        per_file = [
            judge_lines(pattern, text, item.where, ctx.redact.strict if item.secret else ctx.redact,
                        ctx.build.cached(item, "#lines", meaningful_lines))
            for item, text in texts
        ]  # fmt: skip
        if pattern.must_match is not None:
            hits = [j for j in per_file if j.ok]
            judged.append(hits[0] if hits else Judged(
                (Evidence(f"no line matches /{pattern.must_match}/", where, None, False),),
                False, f"missing /{pattern.must_match}/"))  # fmt: skip
        else:
            misses = [j for j in per_file if j.ok is False]
            judged.append(misses[0] if misses else Judged(
                (Evidence(f"no line matches /{pattern.must_not_match}/", where, None, True),),
                True, "nothing forbidden found"))  # fmt: skip
    return fold("build", host, judged, f"{len(files)} file(s) {check.files}")


def _absent(ctx: AuditContext, rule: Rule, check: FileCheck, host: str) -> CheckResult:
    if check.required:
        return CheckResult(
            "build",
            Verdict.FAIL,
            f"no file {check.files} is rendered for {host}, which carries {rule.component}",
            host,
            (Evidence(f"missing: {check.files}", f"build/hosts/{host}/files", None, False),),
        )
    why = (
        check.why_absent.get(ctx.lang)
        if check.why_absent
        else f"the {rule.component} role renders no {check.files} in this version"
    )
    return CheckResult("build", Verdict.NOT_APPLICABLE, f"{check.files} not rendered: {why}", host)


def _mode_excess(mode: str, allowed: str) -> int:
    return int(mode, 8) & ~int(allowed, 8)


def run_manifest_check(ctx: AuditContext, rule: Rule, check: ManifestCheck) -> list[CheckResult]:
    assert ctx.build is not None
    if check.when is not None and not evaluate(check.when, ctx.expressions()):
        return [CheckResult("build", Verdict.NOT_APPLICABLE, f"applies when {check.when}")]
    files = ctx.build.matching(None, check.manifest)
    if not files:
        return [
            CheckResult("build", Verdict.NOT_APPLICABLE, f"no file {check.manifest} in the build")
        ]
    judged = []
    for item in files:
        problems = []
        if check.secret and not item.secret:
            problems.append("stored in clear in the build (secret: false)")
        if check.mode_max and _mode_excess(item.mode, check.mode_max):
            problems.append(f"mode {item.mode} grants more than {check.mode_max}")
        text = f"{item.dest} mode {item.mode}, {'vault-encrypted' if item.secret else 'clear'}"
        if problems:
            text += f"  ({'; '.join(problems)})"
        ok = not problems
        evidence = Evidence(text, f"build/manifest.json [{item.path}]", None, ok)
        judged.append(Judged((evidence,), ok, "; ".join(problems) or "ok"))
    return [fold("build", None, judged, f"{len(files)} file(s) {check.manifest}")]
