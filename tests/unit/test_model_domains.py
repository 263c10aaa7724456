"""Tenant domains: valid IDNA, in A-label form, and apart from the names the suite makes."""

from __future__ import annotations

import pytest

from souverain.errors import ConfigError
from souverain.model.loader import parse_suite
from tests.unit.test_model import MINIMAL

TENANT = "  - {id: acme, name: ACME, domain: acme.example.org}"


def problems(text: str) -> list:
    with pytest.raises(ConfigError) as caught:
        parse_suite(text, "suite.yml")
    return caught.value.problems


def with_domain(domain: str) -> str:
    return MINIMAL.replace("domain: acme.example.org", f"domain: {domain}")


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("école.example.fr", "xn--cole-9oa.example.fr"),
        ("Bücher.DE", "xn--bcher-kva.de"),
        ("ｅｘａｍｐｌｅ.org", "example.org"),  # full-width forms, mapped by UTS 46
        ("東京タワー.jp", "xn--5ck2eqb538s34z.jp"),  # Han with Katakana, as Japanese writes
        ("XN--BCHER-KVA.de", "xn--bcher-kva.de"),
    ],
)
def test_unicode_domains_are_kept_in_their_a_label_form(written, stored):
    assert parse_suite(with_domain(written)).tenants[0].domain == stored


@pytest.mark.parametrize(
    ("written", "fragment"),
    [
        ("xn--zz.example.org", "'xn--zz' in xn--zz.example.org is not a valid internationalised"),
        ("xn--ls8h.example.org", "U+1F4A9"),  # an emoji is not an IDNA 2008 label
        ("p\u0430ypal.example.org", "mixes scripts (CYRILLIC, LATIN)"),
        ("xn--pypal-4ve.example.org", "mixes scripts (CYRILLIC, LATIN)"),
        ("a_b.example.org", "letters, digits and hyphens"),
        ("ex\u00e4mple\u3002_x.org", "not a valid internationalised domain name"),
    ],
)
def test_invalid_idna_is_refused_with_the_reason(written, fragment):
    found = problems(with_domain(written))
    assert len(found) == 1
    assert (found[0].file, found[0].line, found[0].path) == ("suite.yml", 6, "tenants[0].domain")
    assert fragment in found[0].message


def test_an_extra_domain_with_a_bad_a_label_names_its_position():
    text = MINIMAL.replace(
        TENANT, TENANT[:-1] + ", extra_domains: [ok.example.org, xn--a.example]}"
    )
    found = problems(text)
    assert found[0].path == "tenants[0].extra_domains[1]"
    assert "IDNA 2008" in found[0].message


# ---- names the suite makes ----------------------------------------------------------------

TWO_TENANTS = MINIMAL.replace(
    TENANT, TENANT + "\n  - {id: other, name: Other, domain: other.example.org}"
)


@pytest.mark.parametrize(
    ("domain", "component"),
    [
        ("matrix.acme.example.org", "chat homeserver"),
        ("auth.acme.example.org", "sso portal"),
        ("mta-sts.acme.example.org", "mail mta-sts"),
    ],
)
def test_a_tenant_domain_equal_to_another_tenants_service_name_is_refused(domain, component):
    found = problems(TWO_TENANTS.replace("domain: other.example.org", f"domain: {domain}"))
    assert len(found) == 1
    assert (found[0].file, found[0].line, found[0].path) == ("suite.yml", 7, "tenants[1].domain")
    assert f"domain {domain} is tenant acme's {component} name" in found[0].message
    assert "tenants[0]" in found[0].message


def test_the_collision_is_found_whichever_tenant_comes_first():
    text = MINIMAL.replace(
        TENANT,
        "  - {id: other, name: Other, domain: matrix.acme.example.org}\n" + TENANT,
    )
    found = problems(text)
    assert found[0].path == "tenants[0].domain"
    assert "tenant acme's chat homeserver name (tenants[1]" in found[0].message


def test_an_extra_domain_equal_to_the_tenants_own_service_name_is_refused():
    text = MINIMAL.replace(TENANT, TENANT[:-1] + ", extra_domains: [drive.acme.example.org]}")
    found = problems(text)
    assert found[0].path == "tenants[0].extra_domains[0]"
    assert "its own drive files name" in found[0].message
    assert "components.drive.hostname" in found[0].message


def test_two_hostname_settings_giving_one_name_are_refused_naming_both():
    found = problems(MINIMAL + "  visio: {hostname: matrix}\n")
    assert len(found) == 1
    assert (found[0].line, found[0].path) == (9, "components.visio.hostname")
    assert "components.chat.hostname" in found[0].message
    assert "matrix.acme.example.org" in found[0].message


def test_a_hostname_equal_to_a_fixed_name_is_refused():
    found = problems(MINIMAL + "  drive: {hostname: autoconfig}\n")
    assert found[0].path == "components.drive.hostname"
    assert "fixed in roles/mail/component.yml" in found[0].message


# ---- ports ------------------------------------------------------------------------------------


def test_two_port_settings_on_one_host_are_refused_naming_both():
    found = problems(MINIMAL + "  visio: {turn_port: 5349}\n")
    assert [p.path for p in found] == ["components.visio.turns_port"]
    assert found[0].line == 9
    assert "components.visio.turn_port" in found[0].message
    assert "port 5349 of host srv1" in found[0].message


def test_a_port_setting_equal_to_a_fixed_port_of_another_component_is_refused():
    found = problems(MINIMAL + "  visio: {turns_port: 993}\n")
    assert found[0].path == "components.visio.turns_port"
    assert "tcp port 993" in found[0].message
    assert "roles/mail/component.yml" in found[0].message


def test_ssh_port_equal_to_https_is_refused():
    found = problems(
        MINIMAL.replace(
            "admin_networks: [10.0.0.0/8]", "admin_networks: [10.0.0.0/8], ssh_port: 443"
        )
    )
    assert found[0].path == "components.base.ssh_port"
    assert (found[0].line, found[0].file) == (8, "suite.yml")
    assert "tcp port 443" in found[0].message


def test_a_host_ssh_port_is_named_when_it_collides():
    text = MINIMAL.replace("address: 192.0.2.10}", "address: 192.0.2.10, ssh_port: 5432}")
    found = problems(text)
    assert found[0].path == "hosts[0].ssh_port"
    assert found[0].line == 4
    assert "postgresql" in found[0].message


def test_the_same_port_on_two_different_hosts_is_fine():
    text = MINIMAL.replace(
        "  - {name: srv1, address: 192.0.2.10}",
        "  - {name: srv1, address: 192.0.2.10, components: [proxy, postgresql, redis, directory,"
        " sso, mail, chat, drive]}\n"
        "  - {name: srv2, address: 192.0.2.11, ssh_port: 993, components: [visio]}",
    )
    assert parse_suite(text).hosts[1].ssh_port == 993
