"""souverain.dns: records, zone/JSON output, the roles' DNS templates, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from souverain import dns
from souverain.components import Catalog, Component, Manifest
from souverain.deployment import Deployment
from souverain.dns.records import DnsContext, Record, zone_of
from souverain.errors import RenderError
from souverain.model.loader import load_suite
from souverain.secrets import SecretStore
from tests.unit.layouts import FOUR_HOSTS, ONE_HOST, place
from tests.unit.test_dns_output import THREE_HOSTS, public_key_base64
from tests.unit.test_role_directory_render import render
from tests.unit.test_role_mail_render import shared_with_dns

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


def plugged_in(roles: Path, template: str, name: str = "sso") -> Catalog:
    """A catalog of one suite-wide component whose role has the DNS template ``template``."""
    folder = roles / name
    folder.mkdir(parents=True)
    (folder / "dns.yml.j2").write_text(template)
    manifest = Manifest(description="a test component", order=1, dns="dns.yml.j2")
    return Catalog(roles, [Component(name, folder, manifest)])


PLUGGED_IN = """\
records:
  - name: {{ ("_test." ~ tenant.domain) | quote_yaml }}
    type: TXT
{% set proxy = host_address(placement.proxy[0]) %}
    value: {{ [component, settings.hostname, proxy] | join(" ") | quote_yaml }}
    ttl: 300
{% if secret("no/such/secret") is none %}
  - name: {{ ("_test." ~ tenant.extra_domains[0]) | quote_yaml }}
    type: {{ "2001:db8::1" | address_type }}
    value: "2001:db8::1"
    comment: no secret
{% endif %}
notes:
  - a note
  - a note
"""


def test_a_role_dns_template_adds_tagged_records_to_the_tenant_zones(deployment, tmp_path):
    catalog = plugged_in(tmp_path / "roles", PLUGGED_IN)
    suite = load_suite(deployment.suite_file)
    address = str(suite.host(suite.placement["proxy"][0]).address)
    context = DnsContext(suite, suite.tenants[0], lambda name: None)
    zone = dns.tenant_zone(context, catalog)
    added = [r for r in zone.records if r.name.startswith("_test.")]
    assert added == [
        Record("_test.acme.example.org", "TXT", f"sso auth {address}", ttl=300, component="sso"),
        Record("_test.acme-mail.example.org", "AAAA", "2001:db8::1", component="sso",
               comment="no secret"),
    ]  # fmt: skip
    assert added[0] in zone.by_zone()["acme.example.org"]
    assert added[1] in zone.by_zone()["acme-mail.example.org"]
    assert zone.notes.count("a note") == 1
    assert {r.component for r in zone.records} == {"core", "sso"}


@pytest.mark.parametrize(
    ("template", "error"),
    [
        ("{{ tenant.no_such_field }}", "no_such_field"),
        ("{% if %}", "line 1: "),
        ('{% import "sso/none.j2" as x %}', "sso/none.j2 does not exist"),
        ("records: [", "did not render valid YAML"),
        ("records:\n  - {name: x.org., type: A, value: 192.0.2.1}\n", "records.0.name"),
        ("records:\n  - {name: x.org, type: A, value: 1}\n", "records.0.value"),
        ("records: []\nrecord: []\n", "record: Extra inputs"),
    ],
)
def test_a_broken_dns_template_is_an_error_that_names_it(deployment, tmp_path, template, error):
    catalog = plugged_in(tmp_path / "roles", template)
    suite = load_suite(deployment.suite_file)
    with pytest.raises(RenderError, match=f"sso/dns.yml.j2.*{error}"):
        dns.tenant_zone(DnsContext(suite, suite.tenants[0], lambda name: None), catalog)


def test_a_declared_dns_template_must_exist(deployment, tmp_path):
    catalog = plugged_in(tmp_path / "roles", "")
    (tmp_path / "roles" / "sso" / "dns.yml.j2").unlink()
    suite = load_suite(deployment.suite_file)
    with pytest.raises(RenderError, match=r"dns: sso/dns\.yml\.j2 does not exist"):
        dns.tenant_zone(DnsContext(suite, suite.tenants[0], lambda name: None), catalog)


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
    key = SecretStore.open(deployment).get(shared_with_dns().dkim_secret(suite.tenants[0]))
    dkim = f"v=DKIM1; k=rsa; p={public_key_base64(key)}"
    for domain in ("acme.example.org", "acme-mail.example.org"):
        assert records[(domain, "MX")] == "10 mail.acme.example.org."
        assert records[(domain, "TXT")] == "v=spf1 mx -all"
        assert records[(f"souverain1._domainkey.{domain}", "TXT")] == dkim
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


def zone_on(deployment_dir: Path, hosts: list) -> dns.TenantZone:
    place(deployment_dir / "suite.yml", hosts)
    suite = load_suite(deployment_dir / "suite.yml")
    return dns.tenant_zone(DnsContext(suite, suite.tenants[0], lambda name: None))


def test_each_name_resolves_to_the_host_that_receives_it(deployment_dir: Path):
    """Four hosts: web names at the front, mail at the mail host, TURN at the visio host."""
    zone = zone_on(deployment_dir, FOUR_HOSTS)
    address = {r.name: r.value for r in zone.records if r.type in ("A", "AAAA")}
    front, mail, apps = "192.0.2.10", "192.0.2.11", "192.0.2.13"
    web = "", "auth.", "webmail.", "mta-sts.", "autoconfig.", "matrix.", "chat.", "visio.", "drive."
    assert address == {
        **{f"{name}acme.example.org": front for name in web},
        "mail.acme.example.org": mail,
        "turn.acme.example.org": apps,
    }
    values = {(r.name, r.type): r.value for r in zone.records}
    assert values[("acme.example.org", "MX")] == "10 mail.acme.example.org."
    assert values[("_imaps._tcp.acme.example.org", "SRV")] == "0 1 993 mail.acme.example.org."
    assert values[("_turns._tcp.acme.example.org", "SRV")].endswith(" turn.acme.example.org.")
    assert values[("_caldavs._tcp.acme.example.org", "SRV")].endswith(" drive.acme.example.org.")
    comments = {r.name: r.comment for r in zone.records if r.component == "core"}
    assert comments["drive.acme.example.org"] == "host front, proxied to apps"
    assert comments["webmail.acme.example.org"] == "host front, proxied to mail"
    assert comments["auth.acme.example.org"] == "host front"
    assert comments["mail.acme.example.org"] == "host mail"


@pytest.mark.parametrize("hosts", [ONE_HOST, THREE_HOSTS, FOUR_HOSTS], ids=["1", "3", "4"])
def test_every_target_of_a_record_has_an_address(deployment_dir: Path, hosts: list):
    """MX and SRV records name hosts of the zone that themselves have an address record."""
    zone = zone_on(deployment_dir, hosts)
    addressed = {r.name for r in zone.records if r.type in ("A", "AAAA")}
    targets = {
        r.value.split()[-1].removesuffix(".")
        for r in zone.records
        if r.type in ("MX", "SRV") and r.value.split()[-1] != "."
    }
    assert targets and targets <= addressed


def test_a_name_given_two_hosts_is_noted(deployment_dir: Path):
    """turn.<domain> is coturn's; a web service named turn too would split its clients."""
    suite_file = deployment_dir / "suite.yml"
    suite_file.write_text(
        suite_file.read_text().replace("  drive:\n", "  drive:\n    hostname: turn\n", 1)
    )
    zone = zone_on(deployment_dir, FOUR_HOSTS)
    assert (
        "turn.acme.example.org gets 192.0.2.10 from core and 192.0.2.13 from visio: clients would "
        "reach either host; give one of them another name in suite.yml"
    ) in zone.notes
    assert not any("gets" in note for note in zone_on(deployment_dir, ONE_HOST).notes)
