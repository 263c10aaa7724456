"""`souverain audit` as a user runs it: exit codes, formats, languages, secrets kept out."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from souverain.deployment import Deployment
from souverain.secrets import SecretStore


def _edit_suite(directory: Path, change: dict) -> None:
    from tests.unit.test_audit_support import merge

    yaml = YAML(typ="safe", pure=True)
    path = directory / "suite.yml"
    data = merge(yaml.load(path.read_text()), change)
    path.write_text(json.dumps(data, indent=1))  # JSON is YAML, and keeps "off" a string


def test_init_suite_audits_clean_at_high(souverain, deployment_dir: Path) -> None:
    result = souverain("-C", str(deployment_dir), "audit", "--fail-on", "high")
    assert result.code == 0, result.out + result.err
    assert "Rapport d'audit" in result.out  # French by default


def test_medium_findings_fail_at_medium(souverain, deployment_dir: Path) -> None:
    # The init suite does not pin artifact checksums (LOC-03, medium).
    result = souverain("-C", str(deployment_dir), "audit", "--fail-on", "medium", "--lang", "en")
    assert result.code == 1
    assert "LOC-03" in result.out


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"hosting": {"country": "US"}}, "LOC-01"),
        ({"components": {"chat": {"federation": {"mode": "allowlist",
                                                 "allowlist": ["matrix.org"]}}}}, "MTX-02"),
        ({"components": {"base": {"admin_networks": ["0.0.0.0/0"]}}}, "SSH-04"),
        ({"components": {"sso": {"admin_mfa": False}}}, "IAM-01"),
    ],
)  # fmt: skip
def test_weakened_suite_is_flagged(
    souverain, deployment_dir: Path, change: dict, rule: str
) -> None:
    _edit_suite(deployment_dir, change)
    result = souverain("-C", str(deployment_dir), "audit", "--format", "json", "--fail-on", "low")
    assert result.code == 1
    report = json.loads(result.out)
    verdicts = {f["id"]: f["verdict"] for f in report["findings"]}
    assert verdicts[rule] == "fail"


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"components": {"base": {"admin_networks": ["0.0.0.0/1", "128.0.0.0/1"]}}}, "SSH-04"),
        ({"components": {"base": {"admin_networks": ["2000::/3"]}}}, "SSH-04"),
        ({"components": {"base": {"unattended_security_upgrades": False}}}, "OS-02"),
        ({"components": {"backup": {"enabled": True,
                                    "repository": "ssh://borg@backup.abroad.example.net/./s"}}},
         "LOC-05"),
    ],
)  # fmt: skip
def test_high_weakenings_fail_the_default_audit(
    souverain, deployment_dir: Path, change: dict, rule: str
) -> None:
    # Admin access from the internet, security updates off, backups abroad: high, so the
    # default `--fail-on high` exits 1 on them.
    _edit_suite(deployment_dir, change)
    result = souverain("-C", str(deployment_dir), "audit", "--format", "json")
    assert result.code == 1, result.out + result.err
    findings = {f["id"]: f for f in json.loads(result.out)["findings"]}
    assert findings[rule]["verdict"] == "fail"
    assert findings[rule]["severity"] == "high"


def test_weakened_build_is_flagged_with_no_render(souverain, deployment_dir: Path) -> None:
    assert souverain("-C", str(deployment_dir), "render").code == 0
    build = (deployment_dir / "build").resolve()
    snippet = build / "hosts/srv1/files/etc/nginx/snippets/souverain-tls.conf"
    snippet.write_text(snippet.read_text().replace("TLSv1.2 TLSv1.3;", "TLSv1 TLSv1.2 TLSv1.3;"))
    result = souverain("-C", str(deployment_dir), "audit", "--no-render", "--lang", "en")
    assert result.code == 1
    assert "TLS-01" in result.out and "TLSv1 TLSv1.2" in result.out
    # The default audit renders first, and a render replaces hand edits with what suite.yml
    # says: the audit then reads the files a deploy would place, and they pass.
    assert souverain("-C", str(deployment_dir), "audit").code == 0


def test_bad_input_exits_2(souverain, deployment_dir: Path, tmp_path: Path) -> None:
    (deployment_dir / "suite.yml").write_text("version: 1\nname: [oops\n")
    assert souverain("-C", str(deployment_dir), "audit").code == 2
    assert souverain("-C", str(tmp_path), "audit").code == 2
    assert souverain("audit", "--format", "pdf").code == 2


def test_no_secret_in_any_report(souverain, deployment_dir: Path, tmp_path: Path) -> None:
    assert souverain("-C", str(deployment_dir), "render").code == 0
    secrets = SecretStore.open(Deployment.at(deployment_dir)).all_secret_values()
    assert secrets
    for fmt in ("text", "json", "html", "sarif", "junit"):
        out = tmp_path / f"report.{fmt}"
        result = souverain(
            "-C", str(deployment_dir), "audit", "--format", fmt, "--output", str(out)
        )
        assert result.code == 0
        text = out.read_text()
        assert "REDIS-01" in text
        leaked = [s for s in secrets if len(s) >= 6 and s in text]
        assert not leaked, f"{fmt} report shows a secret"


def test_english_and_formats_parse(souverain, deployment_dir: Path, tmp_path: Path) -> None:
    result = souverain("-C", str(deployment_dir), "audit", "--lang", "en", "--format", "sarif")
    sarif = json.loads(result.out)
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} >= {"SSH-02", "TLS-01", "LOC-01"}
    kinds = {r["kind"] for r in run["results"]}
    assert kinds <= {"pass", "fail", "notApplicable", "open"}
    junit = souverain("-C", str(deployment_dir), "audit", "--format", "junit").out
    root = ET.fromstring(junit)
    assert root.tag == "testsuites"
    assert int(root.get("tests", "0")) == len(run["results"])
    assert root.find("./testsuite/testcase") is not None


def test_audit_help(souverain) -> None:
    result = souverain("audit", "--help")
    assert result.code == 0
    assert "--fail-on" in result.out and "--live" in result.out
