"""OpenSCAP's ANSSI-BP-028 profile, evaluated on a host, as evidence for the rules it supports.

Runs only where the host has openscap-scanner and a ComplianceAsCode datastream for its Debian
release (`components.base.openscap.enabled` installs Debian's openscap-scanner and ssg-debian).
Otherwise the result is "not checked", saying exactly what is missing: Debian 13's ssg-debian
0.1.76 ships datastreams for Debian 11 and 12 only, so on Debian 13 hosts this says so until
the package carries one.

The evaluation runs once per host and audit (it takes minutes); every rule that lists the
scanner reads the part of it that concerns it (``select``, a regex on ComplianceAsCode rule
ids). The tailoring (rules.yml constant ``openscap_tailoring``: rules deselected on hosts
carrying a component, with why) is written next to the results in the report.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from souverain.audit.context import AuditContext, HostRunner
from souverain.audit.findings import CheckResult, Evidence, Verdict

CONTENT_DIR = "/usr/share/xml/scap/ssg/content"
PROFILE_PREFIX = "xccdf_org.ssgproject.content_profile_anssi_bp28_"
RULE_PREFIX = "xccdf_org.ssgproject.content_rule_"
TAILORED_PROFILE = "xccdf_fr.souverain_profile_anssi_bp28_{level}_tailored"
EVAL_TIMEOUT = 1500  # seconds, on the host (`timeout`); whole-filesystem rules take minutes
MAX_LISTED = 40  # failing rule ids shown per result

INVENTORY = f"""
. /etc/os-release 2>/dev/null
echo "release=${{VERSION_ID:-unknown}}"
echo "oscap=$(oscap --version 2>/dev/null | head -n 1)"
echo "ssg=$(dpkg-query -W -f='${{Version}}' ssg-debian 2>/dev/null)"
for f in {CONTENT_DIR}/ssg-debian*-ds.xml; do
  [ -e "$f" ] || continue
  echo "ds=$f $(grep -o 'content_profile_anssi_bp28_[a-z]*' "$f" | sort -u | tr '\\n' ' ')"
done
true
"""

# Reads the XCCDF results on the host and prints one JSON line: rule id -> result.
SUMMARY = """
import json, sys, xml.etree.ElementTree as ET
results = {}
for element in ET.parse(sys.argv[1]).iter():
    if element.tag.endswith('}rule-result'):
        for child in element:
            if child.tag.endswith('}result'):
                results[element.get('idref')] = child.text
print('RESULTS ' + json.dumps(results))
"""


@dataclass
class Evaluation:
    """One host's evaluation, or why there is none."""

    not_checked: str | None = None
    profile: str = ""
    datastream: str = ""
    versions: str = ""
    results: dict[str, str] = field(default_factory=dict)  # short rule id -> pass|fail|...
    tailoring: list[str] = field(default_factory=list)  # shown in the report
    problem: str = ""  # oscap's own error output, trimmed


def _inventory(text: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    facts: dict[str, str] = {}
    datastreams: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "ds":
            path, _, profiles = value.partition(" ")
            datastreams[path] = [p.rsplit("_", 1)[-1] for p in profiles.split()]
        elif key:
            facts[key] = value.strip()
    return facts, datastreams


def tailoring_for(ctx: AuditContext, host: str, lang: str) -> list[tuple[str, str]]:
    """(rule id, why) deselected on ``host``, from the rules files' openscap_tailoring."""
    carried = set(ctx.suite.components_of_host(host))
    chosen = []
    for entry in ctx.rules.constants.get("openscap_tailoring", []):
        if entry.get("component") in carried:
            why = entry.get("why", {})
            chosen.append((str(entry["rule"]), str(why.get(lang) or why.get("en") or "")))
    return chosen


def tailoring_xml(datastream: str, level: str, host: str, rules: list[str]) -> str:
    selects = "".join(
        f'    <xccdf:select idref="{RULE_PREFIX}{rule}" selected="false"/>\n' for rule in rules
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<xccdf:Tailoring xmlns:xccdf="http://checklists.nist.gov/xccdf/1.2" '
        'id="xccdf_fr.souverain_tailoring_audit">\n'
        f'  <xccdf:benchmark href="{datastream}"/>\n'
        '  <xccdf:version time="2025-01-01T00:00:00">1</xccdf:version>\n'
        f'  <xccdf:Profile id="{TAILORED_PROFILE.format(level=level)}" '
        f'extends="{PROFILE_PREFIX}{level}">\n'
        f"    <xccdf:title>ANSSI-BP-028 {level}, tailored by souverain for {host}</xccdf:title>\n"
        f"{selects}"
        "  </xccdf:Profile>\n"
        "</xccdf:Tailoring>\n"
    )


def evaluate_host(ctx: AuditContext, host: str, runner: HostRunner) -> Evaluation:
    key = ("openscap", host)
    if key not in ctx.scanner_results:
        ctx.scanner_results[key] = _evaluate(ctx, host, runner)
    return ctx.scanner_results[key]


def _evaluate(ctx: AuditContext, host: str, runner: HostRunner) -> Evaluation:
    settings = ctx.suite.components.base.openscap
    level = settings.profile
    facts, datastreams = _inventory(runner.run(INVENTORY).stdout)
    release = facts.get("release", "unknown")
    major = release.split(".")[0]
    enable = "set components.base.openscap.enabled: true in suite.yml and deploy"
    if not facts.get("oscap"):
        return Evaluation(f"openscap-scanner is not installed on {host} ({enable})")
    if not facts.get("ssg"):
        return Evaluation(f"ssg-debian is not installed on {host} ({enable})")
    wanted = f"{CONTENT_DIR}/ssg-debian{major}-ds.xml"
    shipped = ", ".join(
        sorted(re.sub(r".*ssg-(debian[0-9]+)-ds\.xml", r"\1", path) for path in datastreams)
    )
    if wanted not in datastreams:
        return Evaluation(
            f"ssg-debian {facts['ssg']} has no datastream for Debian {major} "
            f"(it ships {shipped or 'none'}); BP-028 cannot be evaluated on {host}"
        )
    if level not in datastreams[wanted]:
        return Evaluation(
            f"{wanted} has no ANSSI-BP-028 {level} profile "
            f"(it has {', '.join(datastreams[wanted]) or 'none'})"
        )
    tailored = tailoring_for(ctx, host, ctx.lang)
    xml = tailoring_xml(wanted, level, host, [rule for rule, _ in tailored])
    script = (
        "d=$(mktemp -d) && trap 'rm -rf \"$d\"' EXIT && "
        f'printf "%s" {shlex.quote(xml)} > "$d/tailoring.xml" && '
        f'timeout {EVAL_TIMEOUT} oscap xccdf eval --tailoring-file "$d/tailoring.xml" '
        f'--profile {TAILORED_PROFILE.format(level=level)} --results "$d/results.xml" '
        f'{wanted} > /dev/null 2> "$d/err"; echo "rc=$?"; '
        f'[ -s "$d/results.xml" ] && python3 -c {shlex.quote(SUMMARY)} "$d/results.xml"; '
        'tail -c 400 "$d/err"'
    )
    done = runner.run(script)
    evaluation = Evaluation(
        profile=f"{PROFILE_PREFIX}{level}",
        datastream=wanted,
        versions=f"{facts['oscap']}, ssg-debian {facts['ssg']}, Debian {release}",
        tailoring=[f"{rule} deselected: {why}" for rule, why in tailored],
    )
    lines = done.stdout.splitlines()
    for line in lines:
        if line.startswith("RESULTS "):
            raw: dict[str, str] = json.loads(line[len("RESULTS ") :])
            evaluation.results = {
                rule.removeprefix(RULE_PREFIX): str(result) for rule, result in raw.items()
            }
    rc = next((line[3:] for line in lines if line.startswith("rc=")), "?")
    if not evaluation.results:
        errors = ctx.redact(done.stdout + done.stderr).strip()[-400:]
        reason = "timed out" if rc == "124" else f"exit {rc}"
        evaluation.not_checked = f"oscap xccdf eval gave no results on {host} ({reason}): {errors}"
    return evaluation


def judge(ctx: AuditContext, host: str, runner: HostRunner, args: dict[str, Any]) -> CheckResult:
    evaluation = evaluate_host(ctx, host, runner)
    where = f"{host}$ oscap xccdf eval {evaluation.profile or '(anssi_bp28)'}"
    if evaluation.not_checked:
        return CheckResult("scanner", Verdict.NOT_CHECKED, f"OpenSCAP: {evaluation.not_checked}",
                           host)  # fmt: skip
    select = re.compile(str(args.get("select", ".")))
    chosen = {
        rule: result
        for rule, result in evaluation.results.items()
        if select.search(rule) and result != "notselected"  # outside the tailored profile
    }
    counts: dict[str, int] = {}
    for result in chosen.values():
        counts[result] = counts.get(result, 0) + 1
    failing = sorted(rule for rule, result in chosen.items() if result in ("fail", "error"))
    passed = counts.get("pass", 0)
    evidence = [
        Evidence(f"{evaluation.versions}; profile {evaluation.profile}", where),
        Evidence(", ".join(f"{n} {result}" for result, n in sorted(counts.items())) or
                 "no rule of the profile concerns this", where),
    ]  # fmt: skip
    if passed + len(failing):
        score = 100 * passed / (passed + len(failing))
        evidence.append(Evidence(f"score {score:.0f} % ({passed} of {passed + len(failing)})",
                                 where))  # fmt: skip
    evidence += [Evidence(f"tailoring: {item}", where) for item in evaluation.tailoring]
    evidence += [Evidence(f"fail: {rule}", where, None, False) for rule in failing[:MAX_LISTED]]
    if len(failing) > MAX_LISTED:
        evidence.append(Evidence(f"… {len(failing) - MAX_LISTED} more failing rules", where))
    if failing:
        summary = f"OpenSCAP BP-028: {len(failing)} of {len(chosen)} rule(s) fail"
        return CheckResult("scanner", Verdict.FAIL, summary, host, tuple(evidence))
    if passed:
        summary = f"OpenSCAP BP-028: {passed} rule(s) pass, none fails"
        return CheckResult("scanner", Verdict.PASS, summary, host, tuple(evidence))
    summary = (
        "OpenSCAP BP-028: no rule of the profile was applicable or checked "
        "(a datastream for another release reports every rule not applicable)"
    )
    return CheckResult("scanner", Verdict.NOT_CHECKED, summary, host, tuple(evidence))
