"""A tenant arrives, then one leaves the suite, on the session lab.

Arrival: `souverain tenant add` then `souverain deploy --tenant` put a third tenant (mail) on
the hosts; its person sends and reads mail with real clients; the other tenants' rendered
files keep their mtimes and their services (and the shared daemons) their process ids; a
second tenant deploy changes nothing.

Departure: its data handed back, then nothing of it left. Runs last in the session (it takes
the lab's second tenant away). The second tenant's person
gets a message; `souverain tenant remove` takes its entry out of suite.yml; `plan --hosts`
shows what its removal destroys; a deploy that does not name it is refused (exit 2) listing
the same, and changes nothing; `deploy --remove-tenant` exports its data (the message is in
the encrypted archive), then every host takes away what its record of the tenant listed:
units, databases and their roles, the directory subtree, files and directories, system
users, the record itself. The other tenant signs in, reads its mail and talks to its
homeserver as before.
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import RunningLab, TenantView, forget_deployed, souverain
from tests.e2e.test_backup import opened_export
from tests.e2e.test_isolation import homeserver_login, mail_endpoints
from tests.e2e.test_mail import imaps
from tests.e2e.test_suspension import send_within

pytestmark = pytest.mark.lab

UID = "iris"  # a person of both tenants (conftest.both_tenants)
NEWCOMER = "third"
# Daemons every tenant shares: a tenant deploy reloads them, never restarts them.
SHARED_UNITS = (
    "nginx.service", "dovecot.service", "postfix@-.service", "slapd.service", "prosody.service",
    "coturn.service", "postgresql@17-main.service", "redis-server.service", "rspamd.service",
)  # fmt: skip


def records_on(lab: RunningLab) -> dict[str, dict[str, Any]]:
    """host -> tenant -> its record, as base's tool reads them on the host."""
    found = {}
    for host, _ in lab.hosts:
        listed = lab.ssh(host, "/usr/local/sbin/souverain-tenant list")
        assert listed.returncode == 0, listed.stdout + listed.stderr
        found[host] = json.loads(listed.stdout)["records"]
    return found


def left_on(lab: RunningLab, host: str, record: dict[str, Any]) -> list[str]:
    """What of ``record`` is still on ``host``."""
    left = []
    for part in record["components"].values():
        for path in part.get("paths", []):
            shown = lab.ssh(host, f"ls -d {path} 2>/dev/null")  # may hold a '*'
            left += shown.stdout.split()
        for unit in part.get("units", []):
            # An instance of a template unit always loads: what matters is that it neither
            # runs nor starts at boot.
            quoted = shlex.quote(unit)
            state = lab.ssh(host, f"systemctl is-active {quoted}; systemctl is-enabled {quoted}")
            active, enabled = [*state.stdout.split(), "", ""][:2]
            if active in ("active", "activating") or enabled in ("enabled", "enabled-runtime"):
                left.append(f"unit {unit} ({active}, {enabled})")
        for user in part.get("users", []):
            if lab.ssh(host, f"getent passwd {shlex.quote(user)}").returncode == 0:
                left.append(f"user {user}")
        for database in part.get("databases", []):
            query = "runuser -u postgres -- psql -tAc " + shlex.quote(
                f"SELECT 1 FROM pg_database WHERE datname = '{database['name']}'"
            )
            if lab.ssh(host, query).stdout.strip() == "1":
                left.append(f"database {database['name']}")
        for subtree in part.get("subtrees", []):
            found = lab.ssh(host, f"slapcat -s {shlex.quote(subtree)} 2>/dev/null | head -1")
            if found.stdout.strip():
                left.append(f"directory subtree {subtree}")
    return left


# ---- arrival: deploy --tenant ---------------------------------------------------------------


def others_state(lab: RunningLab, tenants: list[str]) -> dict[str, dict[str, str]]:
    """host -> {what: state}: each file rendered for ``tenants`` with its mtime (ns), each
    running unit their records list and each shared daemon with its process id."""
    manifest = json.loads((lab.directory / "build" / "manifest.json").read_text())["files"]
    records = records_on(lab)
    state: dict[str, dict[str, str]] = {}
    for host, _ in lab.hosts:
        files = sorted(
            entry["dest"] for entry in manifest
            if entry["host"] == host and entry["tenant"] in tenants
        )  # fmt: skip
        units = sorted(
            unit
            for tenant in tenants
            for part in records[host].get(tenant, {}).get("components", {}).values()
            for unit in part.get("units", [])
            if "*" not in unit
        )
        command = (
            "for unit in " + " ".join(map(shlex.quote, [*units, *SHARED_UNITS])) + "; do "
            'pid=$(systemctl show -P MainPID "$unit"); [ "$pid" != 0 ] && echo "unit $unit $pid"; '
            "done; true"
        )
        if files:
            # Files a component does not place here (Jitsi's, without its packages) are absent.
            command += "; stat -c 'file %n %.9Y' -- " + " ".join(map(shlex.quote, files))
            command += " 2>/dev/null; true"
        shown = lab.ssh(host, command)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        state[host] = {
            " ".join(line.split()[:2]): line.split()[2]
            for line in shown.stdout.splitlines()
            if line.startswith(("unit ", "file ")) and len(line.split()) == 3
        }
    return state


@pytest.fixture(scope="module")
def arrival(lab_session: RunningLab, both_tenants: tuple[TenantView, TenantView]) -> dict:
    lab = lab_session
    staying, leaving = both_tenants
    others = [staying.id, leaving.id]
    domain = f"{NEWCOMER}.{staying.domain}"
    cli = ("-C", str(lab.directory))
    added = souverain(*cli, "tenant", "add", NEWCOMER, "--domain", domain, "--component", "mail")
    assert added.returncode == 0, added.stdout + added.stderr
    assert f"souverain deploy --tenant {NEWCOMER}" in added.stdout
    forget_deployed(lab)  # suite.yml holds a tenant no whole deploy has seen
    before = others_state(lab, others)
    started = time.monotonic()
    done = souverain(*cli, "deploy", "--tenant", NEWCOMER, "--json", timeout=2400)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        pytest.fail(f"deploy --tenant:\n{done.stdout[-4000:]}\n{done.stderr}\n"
                    f"{lab.journals_of(done.stdout)}")  # fmt: skip
    after = others_state(lab, others)
    again = souverain(*cli, "deploy", "--tenant", NEWCOMER, "--json", timeout=2400)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr
    print(f"tenant lifecycle: deploy --tenant {seconds:.0f} s")
    info = json.loads(souverain(*cli, "info", "--json").stdout)
    [shown] = [tenant for tenant in info["tenants"] if tenant["id"] == NEWCOMER]
    newcomer = TenantView(
        id=NEWCOMER, domain=domain, passwords={},
        services={service["role"]: service for service in shown["services"]},
    )  # fmt: skip
    person = souverain(*cli, "user", "add", "--tenant", NEWCOMER, UID, "--given-name", "Iris",
                       "--surname", "Third", "--email", newcomer.address(UID), "--generate",
                       "--json")  # fmt: skip
    assert person.returncode == 0, person.stdout + person.stderr
    newcomer.passwords[UID] = json.loads(person.stdout)["password"]
    return {
        "lab": lab, "summary": json.loads(done.stdout), "again": json.loads(again.stdout),
        "before": before, "after": after, "newcomer": newcomer,
    }  # fmt: skip


def test_a_tenant_deploy_runs_what_the_tenant_needs(arrival):
    summary = arrival["summary"]
    assert summary["ok"] and summary["tenant"] == NEWCOMER, summary
    assert {"base", "pki", "directory", "mail"} <= set(summary["components"])
    assert "chat" not in summary["components"] and "drive" not in summary["components"]
    assert any(host["changed"] for host in summary["hosts"].values()), summary["hosts"]


def test_a_second_tenant_deploy_changes_nothing(arrival):
    again = arrival["again"]
    assert {host: counts["changed"] for host, counts in again["hosts"].items()} == dict.fromkeys(
        again["hosts"], 0
    ), again


def test_the_other_tenants_files_and_processes_are_left_as_they_were(arrival):
    before, after = arrival["before"], arrival["after"]
    watched = [key.split()[0] for state in before.values() for key in state]
    assert "file" in watched and "unit" in watched, before
    for host in before:
        changed = {
            key: (value, after[host].get(key))
            for key, value in before[host].items()
            if after[host].get(key) != value
        }
        assert not changed, f"{host}: {changed}"


def test_the_new_tenants_person_sends_and_reads_mail(arrival):
    lab, newcomer = arrival["lab"], arrival["newcomer"]
    wanted = send_within(newcomer, lab, newcomer)
    deadline = time.monotonic() + 60
    while True:
        reader = imaps(mail_endpoints(lab, newcomer))
        try:
            reader.login(newcomer.address(UID), newcomer.passwords[UID])
            reader.select("INBOX", readonly=True)
            _, found = reader.search(None, "HEADER", "Message-ID", wanted)
        finally:
            reader.logout()
        if found[0].split():
            break
        assert time.monotonic() < deadline, f"{wanted} never reached {newcomer.address(UID)}"
        time.sleep(2)


# ---- departure -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def departure(
    lab_session: RunningLab, both_tenants: tuple[TenantView, TenantView], tmp_path_factory
) -> dict[str, Any]:
    lab = lab_session
    staying, leaving = both_tenants
    message_id = send_within(leaving, lab, staying)
    time.sleep(3)  # delivered by the time the export reads the mailbox (a local delivery)
    before = records_on(lab)
    assert all(leaving.id in records for records in before.values()), before.keys()
    state: dict[str, Any] = {"lab": lab, "staying": staying, "leaving": leaving}
    state["message_id"] = message_id
    state["records"] = {host: records[leaving.id] for host, records in before.items()}
    state["staying_records"] = {host: records[staying.id] for host, records in before.items()}
    removed = souverain("-C", str(lab.directory), "tenant", "remove", leaving.id)
    assert removed.returncode == 0, removed.stderr
    forget_deployed(lab)  # suite.yml no longer holds the second tenant
    planned = souverain("-C", str(lab.directory), "plan", "--hosts", "--json")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    state["plan"] = json.loads(planned.stdout)
    state["refused"] = souverain("-C", str(lab.directory), "deploy", "--json", timeout=600)
    state["after refusal"] = records_on(lab)
    started = time.monotonic()
    done = souverain("-C", str(lab.directory), "deploy", "--remove-tenant", leaving.id, "--json",
                     timeout=3600)  # fmt: skip
    state["seconds"] = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr
    state["summary"] = json.loads(done.stdout)
    print(f"tenant lifecycle: deploy with the removal {state['seconds']:.0f} s")
    return state


def test_a_deploy_that_does_not_name_the_departed_tenant_is_refused_and_changes_nothing(
    departure,
):
    refused, leaving = departure["refused"], departure["leaving"]
    assert refused.returncode == 2, refused.stdout + refused.stderr
    shown = json.loads(refused.stdout)
    assert f"tenant {leaving.id} is no longer in suite.yml" in shown["error"], shown
    assert f"--remove-tenant {leaving.id}" in shown["hint"]
    for host, records in departure["after refusal"].items():
        assert records[leaving.id] == departure["records"][host]


def test_plan_with_hosts_shows_what_the_removal_destroys_and_no_orphan(departure):
    planned, leaving = departure["plan"], departure["leaving"]
    [gone] = planned["departed"]
    assert gone["tenant"] == leaving.id and sorted(gone["hosts"]) == sorted(departure["records"])
    listed = " ".join(item for items in gone["hosts"].values() for item in items)
    assert f"unit souverain-synapse@{leaving.id}.service" in listed
    assert f"database synapse_{leaving.id.replace('-', '_')}" in listed
    assert planned["orphans"] == {} and planned["unread"] == {}


def test_the_departed_tenants_data_was_exported_first(departure, tmp_path: Path):
    [gone] = departure["summary"]["departed"]
    assert gone["tenant"] == departure["leaving"].id
    directory = Path(gone["export"])
    passphrase = (directory / "passphrase").read_text().strip()
    manifest = json.loads((directory / "manifest.json").read_text())
    found = False
    for archive in manifest["archives"]:
        with opened_export(directory / archive["file"], passphrase, tmp_path / "gnupg") as tar:
            for member in tar.getmembers():
                handle = tar.extractfile(member) if member.isfile() else None
                if handle and departure["message_id"].encode() in handle.read():
                    found = True
    assert found, "the message to the departed tenant is not in its export"


def test_nothing_of_the_departed_tenant_is_left_on_any_host(departure):
    lab, leaving = departure["lab"], departure["leaving"]
    left = {host: left_on(lab, host, record) for host, record in departure["records"].items()}
    assert not any(left.values()), left
    for host, records in records_on(lab).items():
        assert leaving.id not in records, host
    # Nor in the shared files that listed it.
    for host, _ in lab.hosts:
        found = lab.ssh(
            host,
            f"grep -rlw -- {shlex.quote(leaving.domain)} /etc/postfix /etc/dovecot "
            "/etc/nginx/sites-enabled /etc/souverain 2>/dev/null",
        )
        assert not found.stdout.strip(), f"{host}: {found.stdout}"


def test_the_other_tenant_works_as_before(departure):
    lab, staying = departure["lab"], departure["staying"]
    client = imaps(mail_endpoints(lab, staying))
    client.login(staying.address(UID), staying.passwords[UID])
    client.logout()
    accepted = homeserver_login(lab, staying, UID, staying.passwords[UID])
    assert accepted.status_code == 200, accepted.text
    records = records_on(lab)
    for host, record in departure["staying_records"].items():
        assert records[host][staying.id] == record, host
