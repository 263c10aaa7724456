"""Input no service should see: every refusal says file, line, column and field."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from souverain.errors import ConfigError
from souverain.model import limits
from souverain.model.loader import load_suite, parse_suite
from tests.unit.test_model import MINIMAL

TENANT = "  - {id: acme, name: ACME, domain: acme.example.org}"


def problems(text: str) -> list:
    with pytest.raises(ConfigError) as caught:
        parse_suite(text, "suite.yml")
    return caught.value.problems


def file_problems(path: Path) -> list:
    with pytest.raises(ConfigError) as caught:
        load_suite(path)
    return caught.value.problems


def many_tenants(count: int) -> str:
    entries = "".join(
        f"  - {{id: t{i}, name: T{i}, domain: t{i}.example.org}}\n" for i in range(count)
    )
    return MINIMAL.replace(TENANT + "\n", entries)


# ---- numbers of thousands of digits ----------------------------------------------------


def test_integer_of_5000_digits_is_located_without_python_advice():
    text = MINIMAL.replace(TENANT, TENANT[:-1] + ", quotas: {mail_mb: " + "9" * 5000 + "}}")
    found = problems(text)
    assert len(found) == 1
    problem = found[0]
    assert (problem.file, problem.line, problem.column) == ("suite.yml", 6, 72)
    assert problem.path == "tenants[0].quotas.mail_mb"
    assert "5,000 digits" in problem.message
    assert "sys.set_int_max_str_digits" not in problem.message + (problem.hint or "")


def test_integer_of_5000_digits_in_a_list_is_located():
    found = problems(
        MINIMAL.replace("[ntp.acme.example.org]", "[ntp.acme.example.org, 1" + "0" * 4999 + "]")
    )
    assert (found[0].line, found[0].column) == (8, 46)
    assert found[0].path == "components.base.ntp_servers[1]"
    assert "5,000 digits" in found[0].message


# ---- bytes and characters that are not text ---------------------------------------------


def test_nul_byte_gives_line_and_column(tmp_path: Path):
    (tmp_path / "suite.yml").write_bytes(MINIMAL.replace("ACME", "AC\x00ME").encode())
    found = file_problems(tmp_path / "suite.yml")
    assert (found[0].line, found[0].column) == (6, 24)
    assert found[0].file == str(tmp_path / "suite.yml")
    assert "NUL" in found[0].message
    assert "<unicode string>" not in found[0].message


def test_control_character_after_non_ascii_text_is_located_by_character():
    found = problems(MINIMAL.replace("name: ACME", "name: École\x1b"))
    assert (found[0].line, found[0].column) == (6, 27)
    assert "U+001B" in found[0].message


def test_invalid_utf8_gives_line_and_column_of_the_byte(tmp_path: Path):
    raw = MINIMAL.replace("ACME", "Élan").encode("utf-8")
    raw = raw.replace(b"domain: acme", b"domain: \xe9acme")
    (tmp_path / "suite.yml").write_bytes(raw)
    found = file_problems(tmp_path / "suite.yml")
    assert (found[0].line, found[0].column) == (6, 36)
    assert "0xe9" in found[0].message
    assert "UTF-8" in found[0].message


# ---- '<<' merge keys ------------------------------------------------------------------

MERGED = """\
defaults: &defaults
  quotas: {mail_mb: 5}
  nme: x
name: acme
hosting: {provider: on-premises, country: FR}
hosts:
  - {name: srv1, address: 192.0.2.10}
tenants:
  - id: acme
    name: ACME
    domain: acme.example.org
    <<: *defaults
components:
  base: {ntp_servers: [ntp.acme.example.org], admin_networks: [10.0.0.0/8]}
"""


def test_error_in_a_merged_value_points_at_the_merge_and_the_anchor():
    found = {p.path: p for p in problems(MERGED)}
    quota = found["tenants[0].quotas.mail_mb"]
    assert (quota.line, quota.column) == (12, 5)  # the '<<'
    assert "from line 2, column 21" in quota.message  # the anchored value
    unknown = found["tenants[0].nme"]
    assert (unknown.line, unknown.column) == (12, 5)
    assert "from line 3, column 3" in unknown.message
    assert unknown.hint == "did you mean 'name'?"


def test_keys_set_beside_a_merge_win_and_keep_their_own_line():
    text = MERGED.replace("  nme: x\n", "").replace(
        "    <<: *defaults\n", "    <<: *defaults\n    quotas: {mail_mb: 4}\n"
    )
    found = problems(text)
    assert [p.path for p in found if p.path and "quotas" in p.path] == ["tenants[0].quotas.mail_mb"]
    assert found[-1].line == 12
    assert "merged" not in found[-1].message


# ---- counts -----------------------------------------------------------------------------


def test_a_hundred_thousand_tenants_are_refused_fast(tmp_path: Path):
    (tmp_path / "suite.yml").write_text(many_tenants(100_000))
    start = time.perf_counter()
    found = file_problems(tmp_path / "suite.yml")
    assert time.perf_counter() - start < 2  # stops reading at tenant 2,001
    assert found[0].path == "tenants[2000]"
    assert found[0].line == 6 + 2000
    assert "at most 2,000 tenants per suite" in found[0].message
    assert "bench/render.py" in found[0].message


def test_the_tenant_limit_itself_is_accepted():
    suite = parse_suite(many_tenants(limits.TENANTS.most))
    assert len(suite.tenants) == limits.TENANTS.most


def test_too_many_extra_domains_are_refused_with_the_reason():
    extra = ", ".join(f"d{i}.example.org" for i in range(limits.EXTRA_DOMAINS.most + 1))
    found = problems(MINIMAL.replace(TENANT, TENANT[:-1] + f", extra_domains: [{extra}]}}"))
    assert found[0].path == f"tenants[0].extra_domains[{limits.EXTRA_DOMAINS.most}]"
    assert found[0].line == 6
    assert "extra domains per tenant" in found[0].message
    assert "DKIM" in found[0].message


def test_too_many_hosts_are_refused():
    hosts = "".join(
        f"  - {{name: h{i}, address: 192.0.2.{i + 1}, components: [mail]}}\n" for i in range(65)
    )
    found = problems(MINIMAL.replace("  - {name: srv1, address: 192.0.2.10}\n", hosts))
    assert found[0].path == "hosts[64]"
    assert "at most 64 hosts per suite" in found[0].message


def test_a_list_reached_through_an_alias_is_counted_by_the_model():
    entries = "".join(
        f"  - {{id: t{i}, name: T{i}, domain: t{i}.example.org}}\n" for i in range(2001)
    )
    text = "x-spare: &all\n" + entries + MINIMAL.replace("tenants:\n" + TENANT, "tenants: *all")
    found = [p for p in problems(text) if p.path == "tenants"]
    assert "at most 2,000 tenants per suite (found 2,001)" in found[0].message
    assert found[0].line == 1  # an alias has no node of its own: the anchored list


def test_a_mapping_of_200000_keys_is_refused_after_reading_a_thousand():
    text = MINIMAL + "".join(f"key{i}: {i}\n" for i in range(200_000))
    start = time.perf_counter()
    found = problems(text)
    assert time.perf_counter() - start < 2
    assert found[0].line == 9 + 1000 - 5  # MINIMAL has 5 keys; this is the 1,001st
    assert "at most 1,000 keys in any mapping" in found[0].message


def test_any_list_is_capped():
    servers = ", ".join(f"ntp{i}.example.org" for i in range(10_001))
    found = problems(MINIMAL.replace("[ntp.acme.example.org]", f"[{servers}]"))
    assert found[0].path == "components.base.ntp_servers[10000]"
    assert found[0].line == 8
    assert "at most 10,000 items in any list" in found[0].message
