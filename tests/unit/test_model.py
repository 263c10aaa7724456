"""The suite model: good documents pass, each cross-field rule names the field it is about."""

from __future__ import annotations

import pytest

from souverain.errors import ConfigError
from souverain.model.loader import parse_suite
from souverain.scaffold import ScaffoldHost, suite_yaml

MINIMAL = """\
name: acme
hosting: {provider: on-premises, country: FR}
hosts:
  - {name: srv1, address: 192.0.2.10}
tenants:
  - {id: acme, name: ACME, domain: acme.example.org}
components:
  base: {ntp_servers: [ntp.acme.example.org], admin_networks: [10.0.0.0/8]}
"""


def problems(text: str) -> list:
    with pytest.raises(ConfigError) as caught:
        parse_suite(text)
    return caught.value.problems


def test_minimal_suite_gets_secure_sovereign_defaults():
    suite = parse_suite(MINIMAL)
    assert suite.components.chat.federation.mode == "off"
    assert suite.components.mail.spam.external_lookups is False
    assert suite.components.drive.app_store is False
    assert suite.components.pki.mode == "internal"
    assert suite.components.backup.enabled is False
    # One host without a component list carries everything enabled.
    assert suite.placement["mail"] == ["srv1"]
    assert suite.placement["base"] == ["srv1"]
    assert suite.directory_suffix == "dc=acme,dc=example,dc=org"


def test_init_template_is_valid():
    text = suite_yaml(
        name="acme",
        hosts=[ScaffoldHost("srv1", "192.0.2.10")],
        domain="acme.example.org",
        tenant_id="acme",
        tenant_name='ACME: "Mairie"',
    )
    suite = parse_suite(text)
    assert suite.tenants[0].name == 'ACME: "Mairie"'


def test_two_tenants_cannot_share_a_domain():
    text = MINIMAL.replace(
        "  - {id: acme, name: ACME, domain: acme.example.org}",
        "  - {id: acme, name: ACME, domain: acme.example.org}\n"
        "  - {id: other, name: Other, domain: other.example.org,"
        " extra_domains: [acme.example.org]}",
    )
    found = problems(text)
    assert [p.path for p in found] == ["tenants[1].extra_domains[0]"]
    assert "already used by tenants[0]" in found[0].message
    assert found[0].line == 7


def test_hosts_need_unique_names_and_addresses():
    text = MINIMAL.replace(
        "  - {name: srv1, address: 192.0.2.10}",
        "  - {name: srv1, address: 192.0.2.10, components: [proxy]}\n"
        "  - {name: srv1, address: 192.0.2.10, components: [mail]}",
    )
    paths = {p.path for p in problems(text)}
    assert {"hosts[1].name", "hosts[1].address"} <= paths


def test_enabled_component_must_be_placed():
    text = MINIMAL.replace(
        "  - {name: srv1, address: 192.0.2.10}",
        "  - {name: srv1, address: 192.0.2.10, components: [proxy, postgresql, redis,"
        " directory, sso, chat, visio, drive]}\n"
        "  - {name: srv2, address: 192.0.2.11, components: []}",
    )
    found = problems(text)
    assert [p.path for p in found] == ["components.mail"]
    assert "no host carries it" in found[0].message


def test_several_hosts_must_list_their_components():
    text = MINIMAL.replace(
        "  - {name: srv1, address: 192.0.2.10}",
        "  - {name: srv1, address: 192.0.2.10}\n  - {name: srv2, address: 192.0.2.11}",
    )
    assert {p.path for p in problems(text)} == {"hosts[0]", "hosts[1]"}


def test_tenant_cannot_enable_a_component_disabled_suite_wide():
    text = (
        MINIMAL.replace(
            "domain: acme.example.org}", "domain: acme.example.org, components: [mail, drive]}"
        )
        + "  drive: {enabled: false}\n"
    )
    found = problems(text)
    assert [p.path for p in found] == ["tenants[0].components[1]"]
    assert "disabled suite-wide" in found[0].message


def test_dependencies_are_checked():
    text = MINIMAL + "  directory: {enabled: false}\n"
    found = problems(text)
    assert all(p.path == "components.directory.enabled" for p in found)
    assert any("mail is enabled and needs directory" in p.message for p in found)


def test_federation_allowlist_needs_domains():
    text = MINIMAL + "  chat: {federation: {mode: allowlist}}\n"
    found = problems(text)
    assert found[0].path == "components.chat.federation"
    assert "allowlist" in found[0].message


def test_acme_mode_needs_its_settings():
    found = problems(MINIMAL + "  pki: {mode: acme}\n")
    assert found[0].path == "components.pki"


def test_artifact_sources_need_a_location():
    text = MINIMAL + "artifacts:\n  nextcloud: {version: '32.0.2', source: local}\n"
    found = problems(text)
    assert found[0].path == "artifacts.nextcloud"
    assert "path" in found[0].message


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("address: 192.0.2.10", "address: 192.0.2.300", "hosts[0].address"),
        ("domain: acme.example.org", "domain: -acme.example.org", "tenants[0].domain"),
        ("domain: acme.example.org", "domain: localhost", "tenants[0].domain"),
        (
            "admin_networks: [10.0.0.0/8]",
            "admin_networks: [10.0.0.0/33]",
            "components.base.admin_networks[0]",
        ),
        ("country: FR", "country: France", "hosting.country"),
        ("id: acme", "id: ACME", "tenants[0].id"),
    ],
)
def test_bad_values_are_located(old, new, path):
    found = problems(MINIMAL.replace(old, new))
    assert [p.path for p in found] == [path]
    assert found[0].line is not None


def test_a_tenant_id_leaves_room_for_its_system_users():
    """mx-<id> (homeserver) and nc-<id> (drive) must fit in the 32 characters useradd takes."""
    from souverain.model.base import SYSTEM_USER_MAX, TENANT_ID_MAX, TENANT_USER_PREFIX_MAX
    from souverain.model.components import ChatSettings

    assert len(ChatSettings.user_prefix) <= TENANT_USER_PREFIX_MAX
    longest = "t" * TENANT_ID_MAX
    suite = parse_suite(MINIMAL.replace("id: acme", f"id: {longest}"))
    assert len(ChatSettings.user_prefix + suite.tenants[0].id) <= SYSTEM_USER_MAX
    assert len(f"nc-{suite.tenants[0].id}") <= SYSTEM_USER_MAX
    found = problems(MINIMAL.replace("id: acme", f"id: {longest}x"))
    assert [p.path for p in found] == ["tenants[0].id"]
    assert "at most 29 characters" in found[0].message
    assert "mx-<id>" in found[0].message and "32" in found[0].message


def test_other_identifiers_keep_their_32_characters():
    long_name = "h" * 32
    suite = parse_suite(MINIMAL.replace("name: srv1", f"name: {long_name}"))
    assert suite.hosts[0].name == long_name
