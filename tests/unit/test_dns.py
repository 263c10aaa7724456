"""souverain.dns: records, zone/JSON output, the contributor registry, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest

from souverain import dns
from souverain.deployment import Deployment
from souverain.dns.mail import dkim_public_record, dkim_secret_name
from souverain.dns.records import DnsContext, Record, zone_of
from souverain.model.loader import load_suite
from souverain.secrets import SecretStore
from tests.unit.test_role_directory_render import render

ROLES = ("base", "pki", "proxy", "directory", "sso", "mail")


def extra_domain(data) -> None:
    data["tenants"][0]["extra_domains"] = ["acme-mail.example.org"]
    data["components"]["mail"]["dmarc_policy"] = "reject"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return render(tmp_path_factory.mktemp("dns"), extra_domain, roles=ROLES)


def cli(deployment: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "souverain", "-C", str(deployment.root), "dns", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_zone_line_quotes_and_splits_long_txt():
    record = Record("k._domainkey.example.org", "TXT", "a" * 300 + '"', component="mail")
    line = record.zone_line()
    assert line.startswith("k._domainkey.example.org.\t3600\tIN\tTXT\t")
    assert f'"{"a" * 255}" "{"a" * 45}\\""' in line
    assert Record("example.org", "MX", "10 mail.example.org.", comment="x").zone_line() == (
        "example.org.\t3600\tIN\tMX\t10 mail.example.org.\t; x"
    )


def test_zone_of_picks_the_longest_tenant_domain():
    assert zone_of("mail.sub.example.org", ["example.org", "sub.example.org"]) == "sub.example.org"
    assert zone_of("example.org", ["example.org"]) == "example.org"
    assert zone_of("badexample.org", ["example.org"]) is None


def test_registry_loads_present_contributors_and_skips_missing_ones(monkeypatch):
    assert dns.contributor("core") is not None
    assert dns.contributor("backup") is None
    names = [name for name, _ in dns.sources()]
    assert names[:1] == ["core"] and "mail" in names
    fake = types.ModuleType("souverain.dns.backup")
    fake.records = lambda context: [Record(f"_test.{context.tenant.domain}", "TXT", "x")]
    monkeypatch.setitem(sys.modules, "souverain.dns.backup", fake)
    assert "backup" in [name for name, _ in dns.sources()]


def test_a_plugged_in_contributor_is_tagged_and_zoned(deployment, monkeypatch):
    fake = types.ModuleType("souverain.dns.backup")
    fake.records = lambda context: [Record(f"_test.{context.tenant.domain}", "TXT", "x")]
    monkeypatch.setitem(sys.modules, "souverain.dns.backup", fake)
    suite = load_suite(deployment.suite_file)
    zone = dns.tenant_zone(DnsContext(suite, suite.tenants[0], lambda name: None))
    [added] = [r for r in zone.records if r.name.startswith("_test.")]
    assert added.component == "backup"
    assert added in zone.by_zone()["acme.example.org"]


def test_core_has_an_address_for_every_service_name(deployment):
    suite = load_suite(deployment.suite_file)
    zone = dns.tenant_zone(DnsContext(suite, suite.tenants[0], lambda name: None))
    names = {r.name for r in zone.records if r.type in ("A", "AAAA")}
    assert {"acme.example.org", "mail.acme.example.org", "webmail.acme.example.org",
            "mta-sts.acme.example.org", "autoconfig.acme.example.org"} <= names  # fmt: skip
    assert any("DKIM" in note for note in zone.notes)


def test_cli_prints_every_mail_record_with_the_stored_dkim_key(deployment):
    result = cli(deployment, "--json")
    assert result.returncode == 0, result.stderr
    [tenant] = json.loads(result.stdout)["tenants"]
    records = {(r["name"], r["type"]): r["value"] for r in tenant["records"]}
    suite = load_suite(deployment.suite_file)
    key = SecretStore.open(deployment).get(dkim_secret_name(suite.tenants[0]))
    for domain in ("acme.example.org", "acme-mail.example.org"):
        assert records[(domain, "MX")] == "10 mail.acme.example.org."
        assert records[(domain, "TXT")] == "v=spf1 mx -all"
        assert records[(f"souverain1._domainkey.{domain}", "TXT")] == dkim_public_record(key)
        assert records[(f"_dmarc.{domain}", "TXT")].startswith("v=DMARC1; p=reject;")
        assert records[(f"_smtp._tls.{domain}", "TXT")].startswith("v=TLSRPTv1; rua=mailto:")
        assert records[(f"_submission._tcp.{domain}", "SRV")] == "0 1 587 mail.acme.example.org."
        assert records[(f"_imaps._tcp.{domain}", "SRV")] == "0 1 993 mail.acme.example.org."
    assert records[("_mta-sts.acme.example.org", "TXT")].startswith("v=STSv1; id=")
    assert ("_mta-sts.acme-mail.example.org", "TXT") not in records
    assert "PRIVATE KEY" not in result.stdout


def test_cli_zone_text_groups_records_by_zone(deployment):
    result = cli(deployment)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "; ---- zone acme.example.org." in text and "; ---- zone acme-mail.example.org." in text
    assert "\nacme-mail.example.org.\t3600\tIN\tMX\t10 mail.acme.example.org." in text
    assert 'souverain1._domainkey.acme.example.org.\t3600\tIN\tTXT\t"v=DKIM1; k=rsa; p=' in text


def test_cli_refuses_an_unknown_tenant(deployment):
    result = cli(deployment, "--tenant", "nobody")
    assert result.returncode == 2
    assert "unknown tenant" in result.stderr + result.stdout
    assert cli(deployment, "--tenant", "acme").returncode == 0


def test_cli_help():
    result = subprocess.run(
        [sys.executable, "-m", "souverain", "dns", "--help"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and "--tenant" in result.stdout
