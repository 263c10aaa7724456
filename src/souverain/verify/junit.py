"""Reading testinfra's JUnit XML back into results per host, and merging suites into one file.

A suite that passed nothing on a host did not check it: its verdict is "not_checked", with the
reasons its tests gave for skipping. A test says its skip is one the deployment declared (Jitsi
left out on purpose, say) by starting the reason with ``expected:``; a host whose checks all
skipped that way is "not checked" as expected, which `verify` reports without failing.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MESSAGE_LIMIT = 500
EXPECTED_SKIP = "expected:"


@dataclass(frozen=True)
class CaseFailure:
    test: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"test": self.test, "message": self.message}


@dataclass(frozen=True)
class CaseSkip:
    test: str
    reason: str

    @property
    def expected(self) -> bool:
        return self.reason.startswith(EXPECTED_SKIP)

    def as_dict(self) -> dict[str, Any]:
        return {"test": self.test, "reason": self.reason, "expected": self.expected}


@dataclass
class HostResult:
    """One component's suite on one host."""

    host: str
    component: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[CaseFailure] = field(default_factory=list)
    skips: list[CaseSkip] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.passed > 0

    @property
    def verdict(self) -> str:
        """failed, passed (something was checked, nothing failed) or not_checked."""
        if self.failed:
            return "failed"
        return "passed" if self.passed else "not_checked"

    @property
    def expected(self) -> bool:
        """Not checked only for reasons the deployment declared (every skip is expected)."""
        return (
            self.verdict == "not_checked"
            and bool(self.skips)
            and all(skip.expected for skip in self.skips)
        )

    @property
    def why_not_checked(self) -> str:
        if self.verdict != "not_checked":
            return ""
        if not self.skips:
            return "no test ran on this host"
        reasons = dict.fromkeys(skip.reason for skip in self.skips)
        return "; ".join(reasons)

    def as_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "component": self.component,
            "result": self.verdict,
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "expected": self.expected,
            "failures": [failure.as_dict() for failure in self.failures],
            "skips": [skip.as_dict() for skip in self.skips],
        }


def case_host(name: str, hosts: list[str]) -> str | None:
    """The host a testinfra case ran on: its id holds ``ssh://<host>`` (longest name wins)."""
    best = None
    for host in hosts:
        marker = f"ssh://{host}"
        at = name.find(marker)
        if at < 0:
            continue
        after = name[at + len(marker) : at + len(marker) + 1]
        if after in {"", "]", "-", ","} and (best is None or len(host) > len(best)):
            best = host
    return best


def _message(element: ET.Element) -> str:
    text = element.get("message") or (element.text or "").strip().splitlines()[-1:]
    if isinstance(text, list):
        text = text[0] if text else ""
    text = " ".join(str(text).split())
    return text[:MESSAGE_LIMIT] + (" [...]" if len(text) > MESSAGE_LIMIT else "")


def results_from_junit(path: Path, component: str, hosts: list[str]) -> dict[str, HostResult]:
    """host -> HostResult for every host of ``hosts`` (cases without a host count for all)."""
    results = {host: HostResult(host, component) for host in hosts}
    root = ET.parse(path).getroot()
    for case in root.iter("testcase"):
        name = case.get("name", "?")
        host = case_host(name, hosts)
        targets = [results[host]] if host else list(results.values())
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        skipped = case.find("skipped")
        for result in targets:
            if problem is not None:
                result.failed += 1
                result.failures.append(CaseFailure(name, _message(problem)))
            elif skipped is not None:
                result.skipped += 1
                result.skips.append(CaseSkip(name, _message(skipped) or "no reason given"))
            else:
                result.passed += 1
    return results


def merge_junit(parts: dict[str, Path], output: Path) -> None:
    """One ``<testsuites>`` document with each component's suite, named after it."""
    merged = ET.Element("testsuites", name="souverain verify")
    for component, path in parts.items():
        root = ET.parse(path).getroot()
        suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
        for suite in suites:
            suite.set("name", component)
            merged.append(suite)
    ET.indent(merged)
    output.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(merged).write(output, encoding="utf-8", xml_declaration=True)
