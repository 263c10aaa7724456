"""Reading suite.yml: every malformed input gets a located, understandable problem."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from souverain.errors import ConfigError
from souverain.model.loader import load_suite, parse_suite
from tests.unit.test_model import MINIMAL


def problems(text: str) -> list:
    with pytest.raises(ConfigError) as caught:
        parse_suite(text, "suite.yml")
    return caught.value.problems


def test_unknown_key_gets_did_you_mean():
    found = problems(MINIMAL.replace("hosting:", "hostng:"))
    unknown = [p for p in found if "unknown setting" in p.message]
    assert unknown[0].path == "hostng"
    assert unknown[0].hint == "did you mean 'hosting'?"
    assert (unknown[0].line, unknown[0].column) == (2, 1)
    missing = [p for p in found if "missing" in p.message]
    assert missing[0].path == "hosting"


def test_nested_unknown_key_is_located_on_its_line():
    text = MINIMAL.replace("admin_networks:", "admin_network:")
    found = problems(text)
    unknown = next(p for p in found if "unknown" in p.message)
    assert unknown.path == "components.base.admin_network"
    assert unknown.line == 8
    assert unknown.hint == "did you mean 'admin_networks'?"


def test_wrong_type_says_what_was_expected():
    found = problems(MINIMAL + "  base_typo: 1\n".replace("base_typo", "proxy"))
    assert found[0].path == "components.proxy"
    assert "valid dictionary" in found[0].message or "mapping" in found[0].message


def test_missing_required_setting_points_at_its_parent():
    text = MINIMAL.replace("ntp_servers: [ntp.acme.example.org], ", "")
    found = problems(text)
    assert found[0].path == "components.base.ntp_servers"
    assert found[0].line == 8
    assert "NTP" in (found[0].hint or "")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("# only a comment\n", "empty"),
        ("- a\n- b\n", "found a list"),
        ("just a string\n", "found a single value"),
        ("name: [unclosed\n", "YAML syntax error"),
        ("a: 1\n---\nb: 2\n", "several YAML documents"),
        ("name: a\nname: b\n", "duplicate key 'name'"),
        ("a: !!python/object:os.system {}\n", "is not allowed"),
        ("? [a]\n: 1\n", "plain names"),
    ],
)
def test_malformed_documents(text, fragment):
    found = problems(text)
    assert fragment in found[0].message


def test_duplicate_key_is_located():
    found = problems("name: a\nhosting: {}\nname: b\n")
    assert found[0].line == 3
    assert "first defined on line 1" in found[0].message


def test_alias_bomb_is_refused_quickly():
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in range(1, 12):
        ref = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{ref}]")
    start = time.perf_counter()
    found = problems("\n".join(lines) + "\n")
    assert time.perf_counter() - start < 5  # generous: the point is "not exponential"
    assert "expands to more than" in found[0].message


def test_deep_nesting_is_refused():
    text = "a: " + "[" * 200 + "]" * 200 + "\n"
    found = problems(text)
    assert "nested" in found[0].message


def test_merge_keys_and_anchors_are_allowed():
    text = MINIMAL.replace(
        "hosting: {provider: on-premises, country: FR}",
        "hosting: &h {provider: on-premises, country: FR}",
    )
    assert parse_suite(text).hosting.country == "FR"


def test_missing_file_and_binary_file(tmp_path: Path):
    with pytest.raises(ConfigError) as caught:
        load_suite(tmp_path / "suite.yml")
    assert "no suite.yml" in caught.value.problems[0].message
    (tmp_path / "suite.yml").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError) as caught:
        load_suite(tmp_path / "suite.yml")
    assert "not UTF-8" in caught.value.problems[0].message


def test_extra_ca_must_exist_and_be_pem(tmp_path: Path):
    (tmp_path / "suite.yml").write_text(MINIMAL + "trust: {extra_ca: [corp.pem]}\n")
    with pytest.raises(ConfigError) as caught:
        load_suite(tmp_path / "suite.yml")
    assert caught.value.problems[0].path == "trust.extra_ca[0]"
    (tmp_path / "corp.pem").write_text("not a certificate")
    with pytest.raises(ConfigError) as caught:
        load_suite(tmp_path / "suite.yml")
    assert "no PEM certificate" in caught.value.problems[0].message


def test_huge_file_is_refused_before_parsing(tmp_path: Path):
    (tmp_path / "suite.yml").write_text("name: a\n" + "# padding\n" * (2 * 1024 * 1024))
    start = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        load_suite(tmp_path / "suite.yml")
    assert time.perf_counter() - start < 5
    assert "larger than" in caught.value.problems[0].message
