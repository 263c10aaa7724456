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
