"""Helpers for the audit tests: a rendered `souverain init` suite, edited per case.

Imported by the test_audit_*.py modules; holds no test itself.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from souverain import vault
from souverain.audit.context import RunResult
from souverain.audit.engine import AuditInput, run
from souverain.audit.findings import Report
from souverain.audit.rules import RuleSet, load_rules
from souverain.deployment import Deployment
from souverain.model.suite import Suite
from souverain.paths import ROLES_DIR

FIXTURES = Path(__file__).parent / "fixtures" / "audit"
HOST = "srv1"


def load_cases() -> dict[str, dict[str, Any]]:
    return YAML(typ="safe", pure=True).load((FIXTURES / "cases.yml").read_text())


def rules() -> RuleSet:
    return load_rules(ROLES_DIR)


@dataclass
class Rendered:
    """The init suite, rendered once: its deployment, model data, password and secrets."""

    deployment: Deployment
    data: dict[str, Any]
    password: bytes
    secrets: frozenset[str]


def render_init(root: Path) -> Rendered:
    from souverain.render.pipeline import render_deployment
    from souverain.scaffold import init_deployment
    from souverain.secrets import SecretStore, ensure_password_file, read_password

    init_deployment(root, domain="example.org", name="example")
    deployment = Deployment.at(root)
    ensure_password_file(deployment)
    render_deployment(deployment)
    data = YAML(typ="safe", pure=True).load(deployment.suite_file.read_text())
    return Rendered(
        deployment,
        data,
        read_password(deployment),
        SecretStore.open(deployment).all_secret_values(),
    )


def merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        result = dict(base)
        for key, value in patch.items():
            result[key] = merge(base.get(key), value) if key in base else value
        return result
    return patch


class FakeHost:
    """A deployed host whose commands print canned outputs (matched by substring)."""

    def __init__(self, outputs: dict[str, Any], name: str = HOST) -> None:
        self.name = name
        self.address = "192.0.2.10"
        self.port = 22
        self.outputs = outputs
        self.commands: list[str] = []

    def run(self, command: str) -> RunResult:
        self.commands.append(command)
        for needle, output in self.outputs.items():
            if needle in command:
                # A structured output (a probe's JSON report) is written as JSON.
                text = output if isinstance(output, str) else json.dumps(output)
                return RunResult(0, text + "\n")
        return RunResult(127, "", f"sh: 1: {command.split()[0]}: not found")


def copy_build(rendered: Rendered, target: Path) -> Path:
    source = rendered.deployment.build_dir.resolve()
    shutil.copytree(source, target)
    return target


def edit_build(build: Path, edits: list[dict[str, Any]], password: bytes) -> None:
    manifest_path = build / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entries = {(e["host"], e["dest"]): e for e in manifest["files"] if e.get("dest")}
    for edit in edits:
        dest = edit["file"]
        path = f"hosts/{HOST}/files{dest}"
        entry = entries.get((HOST, dest))
        if "add" in edit or "add_fixture" in edit:
            content = (
                (FIXTURES / edit["add_fixture"]).read_bytes()
                if "add_fixture" in edit
                else edit["add"].encode()
            )
            (build / path).parent.mkdir(parents=True, exist_ok=True)
            (build / path).write_bytes(content)
            manifest["files"].append(
                {"path": path, "host": HOST, "dest": dest, "component": edit["component"],
                 "mode": "0644", "secret": False, "sha256": "", "tenant": None}
            )  # fmt: skip
            continue
        assert entry is not None, f"no rendered file {dest}"
        if "replace" in edit:
            old, new = edit["replace"]
            raw = (build / path).read_bytes()
            text = (vault.decrypt(raw, password) if entry["secret"] else raw).decode()
            assert old in text, f"{old!r} not in {dest}"
            data = text.replace(old, new, 1).encode()
            (build / path).write_bytes(vault.encrypt(data, password) if entry["secret"] else data)
        if "mode" in edit:
            entry["mode"] = edit["mode"]
        if "secret" in edit:
            entry["secret"] = edit["secret"]
    manifest_path.write_text(json.dumps(manifest))


def audit_case(
    rendered: Rendered, case: dict[str, Any], tmp: Path, only: list[str] | None = None
) -> Report:
    """Audit the init suite changed as ``case`` says (see fixtures/audit/cases.yml)."""
    suite = Suite.model_validate(merge(rendered.data, case.get("suite", {})))
    build = copy_build(rendered, tmp / "build")
    edit_build(build, case.get("build", []), rendered.password)
    data = AuditInput(suite, build, rendered.password, rendered.secrets, rules())
    hosts = {HOST: FakeHost(case["live"])} if "live" in case else None
    # Scanners reach real hosts from this machine: the cases judge the rules' own checks,
    # unless a case says `scanners: true` (OpenSCAP, which reads the FakeHost's outputs).
    skip = set() if case.get("scanners") else {"all"}
    return run(data, lang="en", hosts=hosts, only=only, skip_scanners=skip)
