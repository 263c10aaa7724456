"""`souverain info`: which host receives each service and which one serves it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from souverain.model.loader import load_suite
from souverain.model.services import tenant_services
from tests.unit.layouts import FOUR_HOSTS, place


@pytest.fixture
def four_hosts(deployment_dir: Path) -> Path:
    place(deployment_dir / "suite.yml", FOUR_HOSTS)
    return deployment_dir


def by_role(services) -> dict:
    return {service.role: service for service in services}


def test_on_one_host_every_service_is_received_and_served_by_it(deployment_dir: Path):
    suite = load_suite(deployment_dir / "suite.yml")
    services = tenant_services(suite, suite.tenants[0])
    assert {(service.host, service.served_by) for service in services} == {("srv1", "srv1")}
    assert not any(service.forwarded for service in services)


def test_the_front_receives_web_names_the_component_host_serves_them(four_hosts: Path):
    suite = load_suite(four_hosts / "suite.yml")
    services = by_role(tenant_services(suite, suite.tenants[0]))
    received_served = {role: (s.host, s.served_by) for role, s in services.items()}
    assert received_served == {
        "landing": ("front", "front"),
        "portal": ("front", "front"),
        "webmail": ("front", "mail"),
        "submission": ("mail", "mail"),
        "submissions": ("mail", "mail"),
        "imaps": ("mail", "mail"),
        "mta-sts": ("front", "mail"),
        "autoconfig": ("front", "mail"),
        "homeserver": ("front", "apps"),
        "element": ("front", "apps"),
        "meet": ("front", "apps"),
        "files": ("front", "apps"),
    }
    assert services["files"].forwarded and not services["imaps"].forwarded


def test_json_gives_the_receiving_and_the_serving_host(four_hosts: Path, souverain):
    result = souverain("-C", str(four_hosts), "info", "--json")
    assert result.code == 0, result.err
    services = {s["role"]: s for s in json.loads(result.out)["tenants"][0]["services"]}
    assert {k: services["files"][k] for k in ("host", "address")} == {
        "host": "front",
        "address": "192.0.2.10",
    }
    assert {k: services["files"][k] for k in ("served_by", "served_by_address")} == {
        "served_by": "apps",
        "served_by_address": "192.0.2.13",
    }
    assert (services["imaps"]["host"], services["imaps"]["served_by"]) == ("mail", "mail")
    assert services["imaps"]["address"] == services["imaps"]["served_by_address"] == "192.0.2.11"


def row(text: str, url: str) -> str:
    """The table line of ``url``."""
    [line] = [line for line in text.splitlines() if f" {url} " in line]
    return line


def test_table_shows_the_front_then_the_host_that_serves(four_hosts: Path, souverain):
    result = souverain("-C", str(four_hosts), "info")
    assert result.code == 0, result.err
    out = result.out
    assert "host → served by" in out
    assert "front (192.0.2.10) → apps" in row(out, "https://drive.acme.example.org/")
    assert "front (192.0.2.10) → mail" in row(out, "https://webmail.acme.example.org/")
    # Served where they are received: one host, no arrow.
    portal = row(out, "https://auth.acme.example.org/")
    assert "front (192.0.2.10)" in portal and "→" not in portal
    imaps = row(out, "imaps://mail.acme.example.org:993")
    assert "mail (192.0.2.11)" in imaps and "→" not in imaps
    assert "the proxy on front receives these requests" in out


def test_table_on_one_host_names_it_once_a_row(deployment_dir: Path, souverain):
    result = souverain("-C", str(deployment_dir), "info")
    assert result.code == 0, result.err
    assert "→" not in result.out and "served by" not in result.out
    assert "srv1 (192.0.2.10) " in row(result.out, "https://drive.acme.example.org/")
    assert result.out.count("srv1") == result.out.count("srv1 (192.0.2.10)") + 1  # hosts table


def test_piped_table_keeps_urls_and_hosts_whole(tmp_path: Path, souverain, monkeypatch):
    """Piped, a long URL and the two hosts behind it stay on one line."""
    from souverain.scaffold import init_deployment

    monkeypatch.delenv("COLUMNS", raising=False)
    target = tmp_path / "suite"
    init_deployment(target, domain="communaute-de-communes.departement.example.org", name="cc")
    place(target / "suite.yml", FOUR_HOSTS)
    result = souverain("-C", str(target), "info")
    assert result.code == 0, result.err
    url = "https://drive.communaute-de-communes.departement.example.org/"
    assert "front (192.0.2.10) → apps" in row(result.out, url)


def test_a_name_that_looks_like_rich_markup_is_printed_as_written(deployment_dir: Path, souverain):
    """A tenant named with square brackets made `info` fail (rich read '[/b]' as a tag)."""
    suite = deployment_dir / "suite.yml"
    suite.write_text(suite.read_text().replace('name: "Acme"', 'name: "Acme [/b] [red]x"', 1))
    result = souverain("-C", str(deployment_dir), "info")
    assert result.code == 0, result.err
    assert "Tenant acme (Acme [/b] [red]x)" in result.out
