"""Placement rules: every layout `validate` accepts can work, every refusal names the entry.

The rules come from the manifests: `singleton` (with `singleton_reason`), the front (the
proxy) and `host_local` (with `host_local_reason`, Redis).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from souverain.components.manifest import Manifest
from souverain.model.components import CATALOG, HOST_LOCAL, SINGLETONS
from souverain.model.loader import parse_suite
from tests.unit.test_model import MINIMAL, problems

ONE_HOST = "  - {name: srv1, address: 192.0.2.10}"

# The layout `souverain init --layout split` writes.
FOUR_HOSTS = (
    "  - {name: front, address: 192.0.2.10, components: [proxy, directory, sso]}\n"
    "  - {name: mail, address: 192.0.2.11, components: [mail]}\n"
    "  - {name: data, address: 192.0.2.12, components: [postgresql]}\n"
    "  - {name: apps, address: 192.0.2.13, components: [redis, chat, visio, drive]}"
)

ONE_HOST_ONLY = (
    "one host serves all its tenants (spreading tenants over several hosts is not supported yet)"
)


def layout(hosts: str) -> str:
    return MINIMAL.replace(ONE_HOST, hosts)


def located(text: str) -> list[tuple[str, int | None, str]]:
    return [(p.path, p.line, p.message) for p in problems(text)]


# ---- what the manifests say ------------------------------------------------------------


def test_the_front_and_the_per_tenant_services_run_on_one_host():
    assert {"proxy", "mail", "chat", "visio", "drive"} <= set(SINGLETONS)
    assert {"postgresql", "redis", "directory", "sso"} <= set(SINGLETONS)


def test_redis_is_the_host_local_service():
    assert HOST_LOCAL == ("redis",)
    assert "drive" in CATALOG.required_by("redis")
    # every component with a Redis database requires a host-local service, so it is checked
    for component in CATALOG:
        if component.manifest.redis_database:
            assert set(component.manifest.requires) & set(HOST_LOCAL), component.name


def test_every_singleton_but_backup_says_why():
    for name in SINGLETONS:
        if name != "backup":
            assert CATALOG.singleton_reason(name) != "it runs on one host only", name


BASE_MANIFEST = {"description": "a component", "order": 1}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"singleton_reason": "why"}, "singleton_reason is set but singleton is false"),
        ({"host_local_reason": "why"}, "host_local_reason is set but host_local is false"),
        ({"placement": "everywhere", "host_local": True}, "cannot be singleton or host_local"),
        ({"placement": "everywhere", "singleton": True}, "cannot be singleton or host_local"),
        ({"singleton": True, "singleton_reason": ""}, "at least 1 character"),
    ],
)
def test_the_manifest_refuses_placement_fields_that_say_nothing(extra, expected):
    with pytest.raises(ValidationError) as caught:
        Manifest.model_validate({**BASE_MANIFEST, **extra})
    assert expected in str(caught.value)


def test_the_manifest_takes_the_placement_fields():
    manifest = Manifest.model_validate(
        {
            **BASE_MANIFEST,
            "singleton": True,
            "singleton_reason": "one server",
            "host_local": True,
            "host_local_reason": "loopback only",
        }
    )
    assert manifest.host_local and manifest.host_local_reason == "loopback only"


# ---- accepted layouts --------------------------------------------------------------------


def test_all_in_one_validates():
    suite = parse_suite(MINIMAL)
    assert all(hosts == ["srv1"] for hosts in suite.placement.values())


def test_the_four_host_layout_validates():
    suite = parse_suite(layout(FOUR_HOSTS))
    assert suite.placement["proxy"] == ["front"]
    assert suite.placement["postgresql"] == ["data"]
    assert suite.placement["redis"] == suite.placement["drive"] == ["apps"]
    assert suite.placement["mail"] == ["mail"]


@pytest.mark.parametrize(
    "hosts",
    [
        # postgresql, directory and sso on other hosts than those that need them (TLS)
        "  - {name: a, address: 192.0.2.10, components: [proxy, mail]}\n"
        "  - {name: b, address: 192.0.2.11, components: [directory]}\n"
        "  - {name: c, address: 192.0.2.12, components: [sso]}\n"
        "  - {name: d, address: 192.0.2.13, components: [postgresql]}\n"
        "  - {name: e, address: 192.0.2.14, components: [redis, drive]}\n"
        "  - {name: f, address: 192.0.2.15, components: [chat, visio]}",
        # a host carrying only base and pki
        "  - {name: a, address: 192.0.2.10, components: [proxy, postgresql, redis, directory,"
        " sso, mail, chat, visio, drive]}\n"
        "  - {name: b, address: 192.0.2.11, components: []}",
    ],
    ids=["every-service-apart", "an-empty-host"],
)
def test_required_components_may_be_on_other_hosts(hosts):
    parse_suite(layout(hosts))


def test_redis_without_drive_may_stand_anywhere():
    text = (
        layout(
            "  - {name: a, address: 192.0.2.10, components: [proxy, directory, sso, mail]}\n"
            "  - {name: b, address: 192.0.2.11, components: [postgresql, redis, chat, visio]}"
        )
        + "  drive: {enabled: false}\n"
    )
    assert parse_suite(text).placement["redis"] == ["b"]


def test_the_lab_with_several_hosts_validates():
    from souverain.scaffold import lab_suite_yaml

    text = lab_suite_yaml(
        [("host1", "10.231.5.11"), ("host2", "10.231.5.12"), ("host3", "10.231.5.13")],
        domain="demo.lab.test",
        private_key_file="lab/id_ed25519",
        known_hosts_file="lab/known_hosts",
        extra_ca_files=[],
        admin_networks=["10.231.5.0/24"],
    )
    assert parse_suite(text).placement["drive"] == ["host1"]


# ---- refused layouts ---------------------------------------------------------------------


def test_the_proxy_on_two_hosts_is_refused():
    hosts = FOUR_HOSTS.replace("components: [mail]", "components: [mail, proxy]")
    assert located(layout(hosts)) == [
        (
            "hosts[1].components[1]",
            5,
            "proxy is on 2 hosts (front, mail): every web name of every tenant points at a "
            "single proxy host (the front); keep it on front only and remove it from mail",
        )
    ]


@pytest.mark.parametrize(
    ("component", "reason"),
    [
        ("mail", ONE_HOST_ONLY),
        (
            "chat",
            "one host runs every tenant's homeserver (spreading tenants over several hosts "
            "is not supported yet)",
        ),
        (
            "visio",
            "one host serves every tenant's meetings (spreading tenants over several hosts "
            "is not supported yet)",
        ),
        (
            "drive",
            "one host runs every tenant's Nextcloud (spreading tenants over several hosts "
            "is not supported yet)",
        ),
        ("postgresql", "one PostgreSQL server holds every database (no replication yet)"),
        ("directory", "one OpenLDAP server holds every tenant's people (no replication yet)"),
        (
            "sso",
            "one LemonLDAP::NG serves every tenant's portal (several are not supported yet)",
        ),
    ],
    ids=["mail", "chat", "visio", "drive", "postgresql", "directory", "sso"],
)
def test_a_service_on_two_hosts_is_refused(component, reason):
    everything = "proxy, postgresql, directory, sso, mail, redis, chat, visio, drive"
    hosts = (
        f"  - {{name: one, address: 192.0.2.10, components: [{everything}]}}\n"
        f"  - {{name: two, address: 192.0.2.11, components: [{component}]}}"
    )
    expected = [
        (
            "hosts[1].components[0]",
            5,
            f"{component} is on 2 hosts (one, two): {reason}; "
            "keep it on one only and remove it from two",
        )
    ]
    if component == "drive":  # and the second drive has no Redis beside it
        expected.append(
            (
                "hosts[1].components[0]",
                5,
                "drive is on two but redis is on one: Redis serves its own host only (no TLS "
                "between hosts); place redis on two, beside drive",
            )
        )
    assert located(layout(hosts)) == expected


def test_each_extra_host_of_a_singleton_is_named():
    hosts = (
        "  - {name: a, address: 192.0.2.10, components: [proxy, postgresql, redis, directory,"
        " sso, chat, visio, drive, mail]}\n"
        "  - {name: b, address: 192.0.2.11, components: [mail]}\n"
        "  - {name: c, address: 192.0.2.12, components: [directory, mail]}"
    )
    found = located(layout(hosts))
    assert [(path, line) for path, line, _ in found] == [
        ("hosts[1].components[0]", 5),
        ("hosts[2].components[0]", 6),
        ("hosts[2].components[1]", 6),
    ]
    assert found[0][2] == (
        f"mail is on 3 hosts (a, b, c): {ONE_HOST_ONLY}; keep it on a only and remove it from b"
    )
    assert found[2][2].endswith("keep it on a only and remove it from c")
    assert found[1][2].startswith("directory is on 2 hosts (a, c): ")


def test_drive_away_from_redis_is_refused():
    hosts = (
        "  - {name: front, address: 192.0.2.10, components: [proxy, directory, sso, mail]}\n"
        "  - {name: data, address: 192.0.2.12, components: [postgresql, redis]}\n"
        "  - {name: apps, address: 192.0.2.13, components: [chat, visio, drive]}"
    )
    assert located(layout(hosts)) == [
        (
            "hosts[2].components[2]",
            6,
            "drive is on apps but redis is on data: Redis serves its own host only (no TLS "
            "between hosts); place redis on apps, beside drive",
        )
    ]


def test_redis_on_two_hosts_is_one_problem_per_extra_host():
    hosts = (
        "  - {name: a, address: 192.0.2.10, components: [proxy, postgresql, directory, sso,"
        " mail, chat, visio, redis]}\n"
        "  - {name: b, address: 192.0.2.11, components: [redis, drive]}"
    )
    assert located(layout(hosts)) == [
        (
            "hosts[1].components[0]",
            5,
            "redis is on 2 hosts (a, b): one Redis server holds the databases of every "
            "tenant; keep it on a only and remove it from b",
        )
    ]


# ---- through the command line --------------------------------------------------------


def placed(deployment_dir: Path, hosts: str) -> None:
    suite = deployment_dir / "suite.yml"
    text = suite.read_text()
    one_host = "  - name: srv1\n    address: 192.0.2.10\n"
    assert one_host in text
    text = text.replace(one_host, hosts + "\n")
    # `init` turns backups on for its one host; these hosts keep no repositories.
    suite.write_text(
        text.replace(
            "    enabled: true                 # every host",
            "    enabled: false                # every host",
        )
    )


@pytest.mark.parametrize(
    ("hosts", "where", "message"),
    [
        (
            FOUR_HOSTS.replace("[postgresql]", "[postgresql, redis]").replace(
                "[redis, chat", "[chat"
            ),
            "[hosts[3].components[2]]",
            "drive is on apps but redis is on data: Redis serves its own host only (no TLS "
            "between hosts); place redis on apps, beside drive",
        ),
        (
            FOUR_HOSTS.replace("[postgresql]", "[postgresql, proxy]"),
            "[hosts[2].components[1]]",
            "proxy is on 2 hosts (front, data): every web name of every tenant points at a "
            "single proxy host (the front); keep it on front only and remove it from data",
        ),
        (
            FOUR_HOSTS.replace("[redis, chat, visio, drive]", "[redis, chat, visio, drive, mail]"),
            "[hosts[3].components[4]]",
            f"mail is on 2 hosts (mail, apps): {ONE_HOST_ONLY}; keep it on mail only and "
            "remove it from apps",
        ),
    ],
    ids=["drive-away-from-redis", "two-proxies", "mail-on-two-hosts"],
)
def test_validate_refuses_the_layout_with_exit_2(souverain, deployment_dir, hosts, where, message):
    placed(deployment_dir, hosts)
    result = souverain("-C", str(deployment_dir), "validate")
    assert result.code == 2
    assert f"{where} {message}" in result.err
    assert "Traceback" not in result.err


def test_validate_accepts_the_four_host_layout(souverain, deployment_dir):
    placed(deployment_dir, FOUR_HOSTS)
    result = souverain("-C", str(deployment_dir), "validate")
    assert result.code == 0, result.err
