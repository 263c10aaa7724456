"""What each host's backup agent keeps, where it sends it, and what a restore picks."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from souverain.backup.agents import AgentResult, Agents
from souverain.backup.operations import _choose, archive_time, plan_restore
from souverain.model.backup_plan import agents, host_plan, repository_url
from souverain.model.suite import Suite
from souverain.scaffold import LAYOUTS, suite_yaml
from tests.unit.layouts import FOUR_HOSTS

VAULT = {"name": "vault", "address": "192.0.2.14", "components": ["backup"]}
SECOND = {"id": "ecole", "name": "École", "domain": "ecole.example.org",
          "components": ["mail", "chat"]}  # fmt: skip


def _base() -> dict[str, Any]:
    """`init --layout split`'s suite with a fifth host keeping the repositories."""
    text = suite_yaml(
        name="mairie", hosts=list(LAYOUTS["split"]), domain="mairie.example.org",
        tenant_id="mairie", tenant_name="Mairie",
    )  # fmt: skip
    data = yaml.safe_load(text)
    data["hosts"] = [*copy.deepcopy(FOUR_HOSTS), VAULT]
    data["tenants"].append(SECOND)
    data["components"]["backup"] = {"enabled": True}
    return data


BASE = _base()


def suite(backup: dict[str, Any] | None = None, **changes: Any) -> Suite:
    data = copy.deepcopy(BASE)
    data.update(changes)
    if backup is not None:
        data["components"]["backup"] = backup
    return Suite.model_validate(data)


def test_every_host_holding_data_runs_an_agent_and_the_vault_does_not():
    four = suite()
    assert agents(four) == ["front", "mail", "data", "apps"]
    assert four.placement["backup"] == ["front", "mail", "data", "apps", "vault"]
    assert four.listed_placement["backup"] == ["vault"]


def test_each_host_keeps_its_own_part_of_each_tenant():
    four = suite()
    mail = host_plan(four, "mail")["tenants"]
    assert mail["mairie"]["components"]["mail"]["paths"] == ["/var/vmail/mairie"]
    assert mail["ecole"]["components"]["mail"]["user_paths"] == ["/var/vmail/ecole/{user}"]
    data = host_plan(four, "data")["tenants"]
    assert data["mairie"]["databases"] == ["synapse_mairie", "nextcloud_mairie"]
    assert data["ecole"]["databases"] == ["synapse_ecole"]  # ecole has no drive
    assert data["mairie"]["components"]["chat"]["stop"] == []  # Synapse runs on apps
    apps = host_plan(four, "apps")["tenants"]
    assert apps["mairie"]["components"]["chat"]["stop"] == ["souverain-synapse@mairie.service"]
    assert apps["mairie"]["components"]["chat"]["databases"] == []  # PostgreSQL is on data
    assert data["mairie"]["components"]["chat"]["databases"] == [
        {"name": "synapse_mairie", "owner": "synapse_mairie", "collation": "C"}
    ]
    front = host_plan(four, "front")["tenants"]
    assert front["ecole"]["components"] == {
        "directory": {
            "paths": [], "user_paths": [], "stop": [], "databases": [],
            "dump": "/usr/local/lib/souverain/backup/directory",
            "dump_dir": "/var/lib/souverain-backup/dumps/ecole/directory",
        }
    }  # fmt: skip


def test_each_host_has_a_repository_of_its_own():
    four = suite()
    assert repository_url(four, "mail") == "ssh://souverain-borg@192.0.2.14/./mail"
    hosts = copy.deepcopy(BASE["hosts"])
    hosts[-1].update(address="2001:db8::14", ssh_port=2222)
    assert repository_url(suite(hosts=hosts), "apps") == (
        "ssh://souverain-borg@[2001:db8::14]:2222/./apps"
    )


def test_an_external_repository_needs_no_suite_host():
    hosts = copy.deepcopy(FOUR_HOSTS)
    external = suite(
        hosts=hosts,
        backup={"enabled": True, "repository": "ssh://borg@10.0.0.40/./mairie"},
    )
    assert repository_url(external, "mail") == "ssh://borg@10.0.0.40/./mairie/mail"
    assert external.listed_placement["backup"] == []


def test_a_single_host_with_an_external_repository_is_not_its_own_repository():
    one = suite(
        hosts=[{"name": "srv1", "address": "192.0.2.10"}],
        backup={"enabled": True, "repository": "ssh://borg@10.0.0.40/./m"},
    )
    assert one.listed_placement["backup"] == []
    assert one.placement["backup"] == ["srv1"]


def test_backup_with_neither_a_host_nor_a_repository_is_refused():
    with pytest.raises(ValueError, match=r"no host carries it.*repository: ssh://"):
        suite(hosts=copy.deepcopy(FOUR_HOSTS))


def test_a_repository_both_inside_and_outside_is_refused():
    with pytest.raises(ValueError, match="either on a suite host"):
        suite(backup={"enabled": True, "repository": "ssh://borg@10.0.0.4/./m"})


ARCHIVES = [
    {"name": "mairie+2026-12-01T01:40:00Z"},
    {"name": "mairie+2026-12-02T01:35:00Z"},
    {"name": "mairie+2026-12-02T09:00:00Z+before-restore"},
    {"name": "mairie+2026-12-03T01:50:00Z"},
]


@pytest.mark.parametrize(
    ("archive", "at", "chosen"),
    [
        (None, None, "mairie+2026-12-03T01:50:00Z"),  # the latest, not a safety archive
        (None, "2026-12-02T23:59:59Z", "mairie+2026-12-02T01:35:00Z"),
        ("2026-12-01T01:40:00Z", None, "mairie+2026-12-01T01:40:00Z"),  # by its time
        ("mairie+2026-12-02T09:00:00Z+before-restore", None,
         "mairie+2026-12-02T09:00:00Z+before-restore"),  # undoing a restore, by name
        (None, "2026-11-30T00:00:00Z", None),
        ("mairie+1999-01-01T00:00:00Z", None, None),
    ],
)  # fmt: skip
def test_a_restore_picks_its_archive(archive, at, chosen):
    assert _choose(ARCHIVES, archive, at) == chosen


def test_archive_time_is_the_second_part_of_the_name():
    assert archive_time("a-b+2026-12-03T01:50:00Z+before-restore") == "2026-12-03T01:50:00Z"


class ListingAgents(Agents):
    """Agents whose hosts each keep one archive of the tenant (no SSH): what plan_restore
    reads."""

    def run(self, host: str, *args: str) -> AgentResult:
        tenant = args[args.index("--tenant") + 1]
        archives = [{"name": f"{tenant}+2026-12-01T01:30:00Z"}]
        return AgentResult(host, 0, {"ok": True, "tenants": {tenant: archives}})


def _part(
    *, stop: tuple[str, ...] = (), databases: tuple[str, ...] = (), paths: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "paths": list(paths),
        "user_paths": [],
        "dump": False,
        "databases": [{"name": name} for name in databases],
        "stop": list(stop),
    }


def test_a_rebuilt_database_host_stops_the_homeserver_running_on_another_host():
    agents = ListingAgents(
        build=None,  # type: ignore[arg-type]
        access=None,  # type: ignore[arg-type]
        plans={
            "db": {
                "tenants": {"t": {"components": {"postgresql": _part(databases=("synapse_t",))}}}
            },
            "apps": {
                "tenants": {
                    "t": {
                        "components": {
                            "chat": _part(stop=("souverain-synapse@t",), paths=("/media/t",))
                        }
                    }
                }
            },
        },
    )
    rebuilt = plan_restore(agents, "t", only_host="db")
    assert rebuilt.archives == {"db": "t+2026-12-01T01:30:00Z"}
    assert rebuilt.stops == {"apps": ["souverain-synapse@t"]}
    # A tenant's restore stops what the restored hosts name, as before.
    whole = plan_restore(agents, "t")
    assert whole.stops == {"apps": ["souverain-synapse@t"]}
    assert set(whole.archives) == {"db", "apps"}
