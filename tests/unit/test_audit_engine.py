"""The audit engine's parts: parsers, expectations, expressions, redaction, rule files."""

from __future__ import annotations

from pathlib import Path

import pytest

from souverain.audit.expect import value_problem
from souverain.audit.expressions import evaluate
from souverain.audit.parsers import effective, parse_assign, parse_nginx, parse_sshd
from souverain.audit.redact import MASK, Redactor
from souverain.audit.rules import Setting, load_rules, rule_files
from souverain.errors import UsageError


def test_sshd_first_value_wins_and_match_blocks_end_the_global_part() -> None:
    entries = parse_sshd("X11Forwarding no\nx11forwarding yes\nMatch User bob\nPermitTTY no\n")
    [winner] = effective(entries, "X11Forwarding", "sshd")
    assert (winner.value, winner.line) == ("no", 1)
    assert not effective(entries, "PermitTTY", "sshd")


def test_postfix_last_value_wins_and_nginx_checks_every_occurrence() -> None:
    [last] = effective(parse_assign("a = 1\n# a = 3\na = 2\n"), "a", "postfix")
    assert (last.value, last.line) == ("2", 3)
    nginx = parse_nginx("http {\n ssl_protocols TLSv1.2;\n server { ssl_protocols TLSv1; }\n}\n")
    assert [e.value for e in effective(nginx, "ssl_protocols", "nginx")] == ["TLSv1.2", "TLSv1"]


@pytest.mark.parametrize(
    ("setting", "value", "ok"),
    [
        (Setting(key="k", equals="no"), "No", True),
        (Setting(key="k", equals=False), "false", True),
        (Setting(key="k", min=180), "365day", True),
        (Setting(key="k", min=180), "30day", False),
        (Setting(key="k", items_subset=["TLSv1.2", "TLSv1.3"]), "TLSv1.2 TLSv1", False),
        (Setting(key="k", split=":", items_match="GCM"), "A-GCM:B-GCM", True),
        (Setting(key="k", items_exclude="matrix"), ["matrix.org"], False),
        (Setting(key="k", empty=True), [], True),
    ],
)
def test_expectations(setting: Setting, value: object, ok: bool) -> None:
    assert (value_problem(setting, value) is None) == ok


def test_expressions_are_sandboxed_and_strict() -> None:
    servers = "['a.pool.ntp.org', 'ntp.example.org']"
    assert evaluate(f"{servers} | third_party(['pool.ntp.org'])", {}) == ["a.pool.ntp.org"]
    with pytest.raises(UsageError):
        evaluate("nothing_here > 1", {})
    with pytest.raises(UsageError):
        evaluate("''.__class__.__mro__", {})


def test_redaction_masks_known_and_credential_looking_values() -> None:
    redact = Redactor(["s3cr3tValue123", "yes"])
    assert redact("password s3cr3tValue123 yes") == f"password {MASK} yes"
    strict = redact.strict("user default on >Zq9vKx2LmP0aBcD ~* -@admin")
    assert "Zq9vKx2LmP0aBcD" not in strict and "-@admin" in strict


def test_every_rule_file_loads(tmp_path: Path) -> None:
    from souverain.paths import ROLES_DIR

    ruleset = load_rules(ROLES_DIR)
    assert len(ruleset.rules) >= 30
    for rule in ruleset.rules:
        assert rule.title.fr != rule.title.en or rule.id  # both languages present
        assert "conform" not in (rule.title.fr + rule.title.en).lower()


def test_a_broken_rule_file_is_a_usage_error(tmp_path: Path) -> None:
    target = tmp_path / "roles" / "demo" / "audit"
    target.mkdir(parents=True)
    (target.parent / "component.yml").write_text("description: a demo\norder: 10\n")
    (target / "rules.yml").write_text("rules:\n  - id: BAD\n")
    with pytest.raises(UsageError, match="not a valid rules file"):
        load_rules(tmp_path / "roles")


def test_rules_are_found_through_the_catalog(tmp_path: Path) -> None:
    """A rules file in a folder the catalog does not know (no component.yml) is not read."""
    for name, manifest in (("demo", True), ("stray", False)):
        target = tmp_path / "roles" / name / "audit"
        target.mkdir(parents=True)
        if manifest:
            (target.parent / "component.yml").write_text("description: a demo\norder: 10\n")
        (target / "rules.yml").write_text("rules: []\n")
    [(component, path)] = rule_files(tmp_path / "roles")
    assert component.name == "demo" and path == tmp_path / "roles/demo/audit/rules.yml"
