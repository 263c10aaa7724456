"""Numbers a service cannot take are refused, located, with the range and the reason."""

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


def with_quotas(quotas: str) -> str:
    return MINIMAL.replace(TENANT, TENANT[:-1] + f", quotas: {{{quotas}}}}}")


def test_quota_of_ten_to_the_thirty_is_refused_with_range_and_reason():
    found = problems(with_quotas("mail_mb: " + "1" + "0" * 30))
    assert len(found) == 1
    problem = found[0]
    assert (problem.file, problem.line, problem.path) == (
        "suite.yml",
        6,
        "tenants[0].quotas.mail_mb",
    )
    assert "between 10 and 10,485,760" in problem.message
    assert "a number of 31 digits" in problem.message
    assert "Dovecot" in problem.message
    assert problem.message.count("got") == 1


def test_drive_quota_beyond_a_pebibyte_is_refused():
    found = problems(with_quotas("drive_gb: 1048577"))
    assert found[0].path == "tenants[0].quotas.drive_gb"
    assert "between 1 and 1,048,576 (got 1,048,577)" in found[0].message
    assert "Nextcloud" in found[0].message


def test_quotas_at_their_bounds_are_accepted():
    suite = parse_suite(with_quotas("mail_mb: 10485760, drive_gb: 1048576"))
    assert suite.tenants[0].quotas.mail_mb == 10 * 1024 * 1024


@pytest.mark.parametrize(
    ("section", "setting", "value", "reason"),
    [
        ("backup", "retention: {daily: 100000}", "components.backup.retention.daily", "borg"),
        ("backup", "retention: {monthly: -1}", "components.backup.retention.monthly", "borg"),
        (
            "chat",
            "media_retention_days: 99999999",
            "components.chat.media_retention_days",
            "Synapse",
        ),
        ("proxy", "hsts_max_age: 10000000000", "components.proxy.hsts_max_age", "Strict-Transport"),
        (
            "proxy",
            "client_max_body_size_mb: 0",
            "components.proxy.client_max_body_size_mb",
            "nginx",
        ),
        ("directory", "lockout_failures: 1", "components.directory.lockout_failures", "ppolicy"),
        ("mail", "max_message_size_mb: 5000", "components.mail.max_message_size_mb", "Postfix"),
    ],
)
def test_component_numbers_out_of_range(section, setting, value, reason):
    found = problems(MINIMAL + f"  {section}: {{{setting}}}\n")
    assert found[0].path == value
    assert found[0].line == 9
    assert "must be between" in found[0].message
    assert reason in found[0].message
