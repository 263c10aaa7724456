"""`backup rollback`: which archives it goes back to, and the release it pins."""

from __future__ import annotations

from typing import Any

import pytest

from souverain.backup.agents import AgentResult, Agents
from souverain.backup.rollback import find_rollback, pinned_text, releases
from souverain.errors import ConfigError, UsageError


class Listing(Agents):
    """Agents that list the archives given, by host and tenant (no SSH)."""

    def __init__(self, archives: dict[str, dict[str, list[str]]]) -> None:
        plans = {
            host: {"tenants": {tenant: {} for tenant in tenants}}
            for host, tenants in archives.items()
        }
        super().__init__(build=None, access=None, plans=plans)  # type: ignore[arg-type]
        self.archives = archives

    def run(self, host: str, *args: str) -> AgentResult:
        assert args[0] == "list"
        tenants = {t: [{"name": n} for n in names] for t, names in self.archives[host].items()}
        return AgentResult(host, 0, {"ok": True, "tenants": tenants})


def test_each_release_names_a_setting_of_its_component(deployment_dir):
    from souverain.model.loader import load_suite

    components = load_suite(deployment_dir / "suite.yml").components
    found = releases()
    assert found["synapse"].keys == ("components", "chat", "synapse_version")
    for release in found.values():
        settings = getattr(components, release.component)
        assert release.setting in type(settings).model_fields, release


def test_the_newest_release_change_is_chosen_with_each_tenants_archive():
    agents = Listing(
        {
            "db": {
                "a": [
                    "a+2026-11-01T01:00:00Z",
                    "a+2026-11-02T09:00:00Z+before-synapse-1-150-0",
                    "a+2026-11-03T09:00:00Z+before-synapse-1-160-0",
                    "a+2026-11-04T09:00:00Z+before-restore",
                ],
                "b": ["b+2026-11-03T09:00:00Z+before-synapse-1-160-0"],
            },
            "apps": {"a": ["a+2026-11-03T09:00:00Z+before-synapse-1-160-0"]},
        }
    )
    rollback = find_rollback(agents)
    assert rollback.back_to == "1.160.0"
    assert rollback.time == "2026-11-03T09:00:00Z"
    assert rollback.release.component == "chat"
    assert rollback.archives == {
        "a": "a+2026-11-03T09:00:00Z+before-synapse-1-160-0",
        "b": "b+2026-11-03T09:00:00Z+before-synapse-1-160-0",
    }


def test_without_an_archived_release_change_there_is_nothing_to_roll_back():
    names = [
        "a+2026-11-01T01:00:00Z",
        "a+2026-11-02T01:00:00Z+before-restore",
        "a+2026-11-02T02:00:00Z+before-synapse-unknown",  # the old release was not known
    ]
    agents = Listing({"db": {"a": names}})
    with pytest.raises(UsageError, match="nothing to roll back"):
        find_rollback(agents)


def _rollback(back_to: str) -> Any:
    from souverain.backup.rollback import Rollback

    return Rollback(releases()["synapse"], back_to, "2026-11-03T09:00:00Z", {})


def test_the_old_release_is_pinned_in_suite_yml_and_nothing_else_changes(deployment_dir):
    from souverain.model.loader import load_suite_text

    suite_file = deployment_dir / "suite.yml"
    before = suite_file.read_text()
    text, pinned = pinned_text(suite_file, _rollback("1.160.0"))
    assert text == before
    added = [line for line in pinned.splitlines() if line not in before.splitlines()]
    assert [line.strip() for line in added][-1] == 'synapse_version: "1.160.0"', added
    assert load_suite_text(suite_file, pinned).components.chat.synapse_version == "1.160.0"
    assert suite_file.read_text() == before, "nothing is written before the data is back"


def test_a_release_the_model_refuses_is_refused_before_anything_is_put_back(deployment_dir):
    with pytest.raises(ConfigError):
        pinned_text(deployment_dir / "suite.yml", _rollback("not a release"))


class Restoring(Agents):
    """Agents that do what restore() asks and record it; tenant 'b' cannot be put back."""

    def __init__(self) -> None:
        super().__init__(build=None, access=None, plans={})  # type: ignore[arg-type]
        self.calls: list[tuple[str, ...]] = []

    def run(self, host: str, *args: str) -> AgentResult:
        self.calls.append((host, *args))
        tenant = args[args.index("--tenant") + 1]
        if args[0] == "restore" and tenant == "b":
            return AgentResult(host, 1, {"ok": False, "errors": {"chat": "borg said no"}})
        return AgentResult(host, 0, {"ok": True, "restored": ["database synapse_x"]})


def test_a_failed_tenant_stops_the_rollback_and_every_homeserver_starts_again():
    from souverain.backup.operations import RestorePlan
    from souverain.backup.rollback import put_back

    def plan(tenant: str) -> RestorePlan:
        return RestorePlan(tenant, ["chat"], None, {"apps": f"{tenant}+t+before-synapse-1-0-0"},
                           stops={"apps": [f"souverain-synapse@{tenant}.service"]})  # fmt: skip

    agents = Restoring()
    reports = put_back(agents, [plan("a"), plan("b"), plan("c")])
    assert [r["ok"] for r in reports] == [True, False]
    started = [call for call in agents.calls if call[1] == "start"]
    assert ("apps", "start", "--tenant", "b", "--component", "chat") in started  # its own
    assert ("apps", "start", "--tenant", "a", "--component", "chat") in started  # put back
    assert not [call for call in agents.calls if "c" in call], "c is left as it is"


def test_put_back_leaves_every_homeserver_stopped_for_the_deploy():
    from souverain.backup.operations import RestorePlan
    from souverain.backup.rollback import put_back

    agents = Restoring()
    plans = [RestorePlan("a", ["chat"], None, {"apps": "a+t+before-synapse-1-0-0"},
                         stops={"apps": ["souverain-synapse@a.service"]})]  # fmt: skip
    [report] = put_back(agents, plans)
    assert report["ok"]
    assert [call[1] for call in agents.calls] == ["run", "stop", "restore"]
