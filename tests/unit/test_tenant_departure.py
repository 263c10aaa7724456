"""Tenants that left suite.yml: found from the hosts' records, refused until named, and taken
away by base's tool (roles/base/files/souverain-tenant) as their record says.

The tool runs here on a record of temporary paths; its calls to systemctl, PostgreSQL and
the directory are recorded instead of run (this machine has none of them; the lab e2e runs
them for real).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from souverain.errors import UsageError
from souverain.tenants.departure import Departure, HostRecords, departures, refuse_unconfirmed

TOOL = Path(__file__).resolve().parents[2] / "roles/base/files/souverain-tenant"


def tool():
    loader = importlib.machinery.SourceFileLoader("souverain_tenant_tool", str(TOOL))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    module = tool()
    records = tmp_path / "etc/souverain/tenants"
    records.mkdir(parents=True)
    monkeypatch.setattr(module, "RECORDS", records)
    calls: list[list[str]] = []

    def run(argv, *, ok=(0,)):
        calls.append(list(argv))
        return SimpleNamespace(returncode=0, stdout="", stderr="")

    monkeypatch.setattr(module, "run", run)
    return SimpleNamespace(tool=module, root=tmp_path, records=records, calls=calls)


def write_record(host, tenant: str, components: dict) -> Path:
    path = host.records / f"{tenant}.json"
    record = {"tenant": tenant, "host": "h1", "domains": [f"{tenant}.example"],
              "components": {**components, "base": {"paths": [str(path)]}}}  # fmt: skip
    path.write_text(json.dumps(record))
    return path


def test_remove_takes_away_the_tenants_paths_and_its_record_last(host):
    mail = host.root / "var/vmail/acme/ana"
    mail.mkdir(parents=True)
    (mail / "1.msg").write_text("hello")
    pool = host.root / "etc/php/8.4/fpm/pool.d"
    pool.mkdir(parents=True)
    (pool / "souverain-drive-acme.conf").write_text("[nc-acme]")
    (pool / "souverain-drive-acme2.conf").write_text("[nc-acme2]")  # another tenant's
    jitsi = host.root / "etc/jitsi/meet"
    jitsi.mkdir(parents=True)
    (jitsi / "visio.acme.example-config.js").write_text("{}")
    record = write_record(host, "acme", {
        "mail": {"paths": [str(host.root / "var/vmail/acme")]},
        "drive": {"paths": [str(host.root / "etc/php/*/fpm/pool.d/souverain-drive-acme.conf")],
                  "reload": ["php*-fpm.service"]},
        "visio": {"paths": [str(jitsi / "visio.acme.example-config.js")]},
    })  # fmt: skip
    report = host.tool.cmd_remove("acme")
    assert report["ok"], report
    assert not (host.root / "var/vmail/acme").exists()
    assert not (pool / "souverain-drive-acme.conf").exists()
    assert (pool / "souverain-drive-acme2.conf").exists()
    assert not (jitsi / "visio.acme.example-config.js").exists()
    assert not record.exists() and report["removed"][-1] == str(record)
    assert ["systemctl", "daemon-reload"] in host.calls


def test_a_path_that_does_not_name_the_tenant_is_refused_and_nothing_is_removed(host):
    other = host.root / "var/vmail/beta"
    other.mkdir(parents=True)
    record = write_record(host, "acme", {"mail": {"paths": [str(other)]}})
    report = host.tool.cmd_remove("acme")
    assert not report["ok"] and "does not name the tenant" in report["error"]
    assert other.exists() and record.exists()


def test_a_subtree_not_the_tenants_is_refused(host):
    write_record(host, "acme", {"directory": {"subtrees": ["ou=beta,dc=example"]}})
    report = host.tool.cmd_remove("acme")
    assert not report["ok"] and "is not the tenant's" in report["error"]
    assert not any(call[0] == "ldapdelete" for call in host.calls)


def test_units_databases_and_the_subtree_go_in_that_order(host, monkeypatch):
    monkeypatch.setattr(host.tool, "unit_exists", lambda unit: True)
    write_record(host, "acme", {
        "chat": {"units": ["souverain-synapse@acme.service"]},
        "postgresql": {"databases": [{"name": "synapse_acme", "owner": "synapse_acme"}]},
        "directory": {"subtrees": ["ou=acme,dc=example"]},
    })  # fmt: skip

    def run(argv, *, ok=(0,)):
        host.calls.append(list(argv))
        listing = "synapse_acme\nother\n" if "SELECT" in " ".join(argv) else ""
        return SimpleNamespace(returncode=0, stdout=listing, stderr="")

    monkeypatch.setattr(host.tool, "run", run)
    report = host.tool.cmd_remove("acme")
    assert report["ok"], report
    commands = [" ".join(call) for call in host.calls]
    stop = commands.index("systemctl disable --now souverain-synapse@acme.service")
    drop = next(i for i, c in enumerate(commands) if "dropdb --force --if-exists synapse_acme" in c)
    delete = next(i for i, c in enumerate(commands) if c.startswith("ldapdelete"))
    assert stop < drop < delete
    assert "database synapse_acme" in report["removed"]


def test_a_tenant_without_a_record_has_nothing_here(host):
    assert host.tool.cmd_remove("ghost") == {
        "ok": True, "tenant": "ghost", "removed": [], "note": "no record: nothing here",
    }  # fmt: skip


def test_departures_are_the_recorded_tenants_suite_yml_no_longer_has():
    suite = SimpleNamespace(tenants=[SimpleNamespace(id="acme")])
    found = HostRecords(
        {
            "h1": {"acme": {"components": {}}, "beta": {"components": {"mail": {"paths": ["/v"]}}}},
            "h2": {"beta": {"components": {"postgresql": {"databases": [
                {"name": "synapse_beta", "owner": "synapse_beta"}]}}}},
        },
        {},
    )  # fmt: skip
    [gone] = departures(suite, found)  # type: ignore[arg-type]
    assert gone.tenant == "beta" and sorted(gone.records) == ["h1", "h2"]
    assert gone.destroyed() == {"h1": ["mail: /v"], "h2": ["postgresql: database synapse_beta"]}


def test_an_unnamed_departure_is_refused_with_what_it_would_destroy():
    gone = Departure("beta", {"h1": {"components": {"chat": {"units": ["s@beta.service"]}}}})
    with pytest.raises(UsageError) as refused:
        refuse_unconfirmed([gone], confirmed=[])
    assert "tenant beta is no longer in suite.yml" in refused.value.message
    assert "h1: chat: unit s@beta.service" in refused.value.message
    assert "--remove-tenant beta" in (refused.value.hint or "")
    refuse_unconfirmed([gone], confirmed=["beta"])


def test_the_export_of_a_departed_tenant_uses_what_its_records_say_the_backup_kept():
    data = {"components": {"mail": {"paths": ["/var/vmail/beta"], "databases": []}}}
    gone = Departure("beta", {
        "h1": {"components": {"backup": {"paths": [], "data": data}}},
        "h2": {"components": {"web": {"paths": []}}},
    })  # fmt: skip
    assert gone.backup_plans() == {"h1": {"host": "h1", "tenants": {"beta": data}}}


@pytest.mark.parametrize(
    ("path", "theirs"),
    [
        ("/var/vmail/acme", True),
        ("/etc/souverain/tls/tenant-acme.key", True),
        ("/etc/php/*/fpm/pool.d/souverain-drive-acme.conf", True),
        ("/etc/souverain/tenants/acme.json", True),
        ("/var/vmail/acme2", False),
        ("/var/vmail", False),
        ("/acme", False),
        ("/var/vmail/acme/../..", False),
        ("/etc/acme/passwd", False),
    ],
)
def test_only_a_path_ending_in_the_tenants_name_is_its_own(path, theirs):
    assert tool().names_the_tenant(path, "acme") is theirs


def test_list_reports_what_is_named_like_a_tenants_but_has_no_record(host):
    vmail = host.root / "var/vmail"
    for name in ("acme", "oldco", "acme-2"):
        (vmail / name).mkdir(parents=True)
    tls = host.root / "etc/souverain/tls"
    tls.mkdir(parents=True)
    for name in ("tenant-acme.crt", "tenant-gone.crt", "host-srv1.crt"):
        (tls / name).write_text("")
    write_record(host, "acme", {
        "mail": {"paths": [str(vmail / "acme"), str(tls / "tenant-acme.crt")]},
        "chat": {"units": ["souverain-synapse@acme.service"]},
    })  # fmt: skip
    write_record(host, "acme-2", {"mail": {"paths": [str(vmail / "acme-2")]}})

    def run(argv, *, ok=(0,)):
        listing = "souverain-synapse@acme.service loaded\nsouverain-synapse@old.service loaded\n"
        return SimpleNamespace(returncode=0, stdout=listing if "list-units" in argv else "")

    host.tool.run = run
    found = host.tool.orphans(host.tool.records())
    assert found == [
        {"kind": "path", "name": str(tls / "tenant-gone.crt"), "tenant": "gone"},
        {"kind": "path", "name": str(vmail / "oldco"), "tenant": "oldco"},
        {"kind": "unit", "name": "souverain-synapse@old.service", "tenant": "old"},
    ]
