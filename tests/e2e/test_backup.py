"""The restore drill (issue 18), on the session lab: the suite on the first host, the
repositories on the last, two tenants.

With real clients, people of both tenants get passwords, mail and a Matrix room; `souverain
backup run` archives them; tenant A gets more mail after it; then tenant B loses everything
(its people are deleted from the directory, its mailboxes removed, its homeserver database
dropped). `souverain backup restore --tenant B` puts B back: its people sign in with their
old passwords, read their old mail over IMAPS and their room's history in Matrix, and A's
mail written after the backup is still there. One person's mailbox comes back alone with
`--user`. Then `backup check` finds a repository segment damaged on purpose (and the
segment is put back so that the lab stays usable).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    SECOND_TENANT,
    RunningLab,
    forget_deployed,
    souverain,
    whole_suite_deployed,
)
from tests.e2e.test_chat import Matrix, login, read_messages
from tests.e2e.test_mail import Endpoints, imaps, smtp

pytestmark = pytest.mark.lab

PEOPLE = ("bkvera", "bkyann")  # in each tenant; other modules keep their own people


@dataclass
class Tenant:
    """One tenant's names and its people's passwords, as the clients need them."""

    id: str
    mail: Endpoints
    chat: dict[str, str]
    passwords: dict[str, str]

    def address(self, uid: str) -> str:
        return f"{uid}@{self.mail.domain}"


def cli(lab: RunningLab, *args: str, timeout: float = 1800) -> Any:
    return souverain("-C", str(lab.directory), *args, timeout=timeout)


def tenant_of(lab: RunningLab, index: int) -> Tenant:
    result = cli(lab, "info", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)["tenants"][index]
    by_role = {service["role"]: service for service in info["services"]}
    mail = Endpoints(lab)
    mail.tenant, mail.domain = info["id"], info["domain"]
    mail.mail_name, mail.mail_address = by_role["imaps"]["fqdn"], by_role["imaps"]["address"]
    chat = {
        "id": info["id"],
        "domain": by_role["landing"]["fqdn"],
        "homeserver": by_role["homeserver"]["fqdn"],
        "address": by_role["homeserver"]["address"],
    }
    return Tenant(info["id"], mail, chat, {})


def send(tenant: Tenant, sender: str, recipient: str, subject: str) -> str:
    message = EmailMessage()
    message["From"] = tenant.address(sender)
    message["To"] = tenant.address(recipient)
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=tenant.mail.domain)
    message.set_content(f"{subject}\n")
    client = smtp(tenant.mail, 587)
    client.starttls(context=tenant.mail.tls)
    client.ehlo("client.lab.test")
    client.login(tenant.address(sender), tenant.passwords[sender])
    client.send_message(message)
    client.quit()
    return message["Message-ID"]


def inbox_ids(tenant: Tenant, uid: str) -> set[str]:
    """The Message-IDs in the person's INBOX, read over IMAPS with their password."""
    client = imaps(tenant.mail)
    try:
        client.login(tenant.address(uid), tenant.passwords[uid])
        client.select("INBOX", readonly=True)
        _, found = client.search(None, "ALL")
        ids = set()
        for number in found[0].split():
            _, data = client.fetch(number, "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            header = data[0][1].decode().strip()
            ids.add(header.split(":", 1)[1].strip())
        return ids
    finally:
        client.logout()


def wait_for_mail(tenant: Tenant, uid: str, message_id: str) -> None:
    deadline = time.monotonic() + 60
    while message_id not in inbox_ids(tenant, uid):
        assert time.monotonic() < deadline, f"{message_id} never reached {uid}"
        time.sleep(2)


def talk(lab: RunningLab, tenant: Tenant) -> dict[str, str]:
    """The first person creates a room and writes in it; the message as the room keeps it."""
    from nio import RoomCreateResponse, RoomSendResponse

    text = f"avant la sauvegarde {uuid.uuid4().hex[:8]}"
    uid = PEOPLE[0]

    async def run() -> dict[str, str]:
        async with Matrix(lab, tenant.chat, uid) as client:
            await login(client, tenant.passwords[uid])
            created = await client.room_create(name="backup drill")
            assert isinstance(created, RoomCreateResponse), created
            sent = await client.room_send(
                created.room_id, "m.room.message", {"msgtype": "m.text", "body": text}
            )
            assert isinstance(sent, RoomSendResponse), sent
        return {"room_id": created.room_id, "text": text}

    return asyncio.run(run())


def room_history(lab: RunningLab, tenant: Tenant, room_id: str) -> list[str]:
    async def run() -> list[str]:
        async with Matrix(lab, tenant.chat, PEOPLE[0]) as client:
            await login(client, tenant.passwords[PEOPLE[0]])
            return [body for body in await read_messages(client, room_id) if body]

    return asyncio.run(run())


def on_host(lab: RunningLab, host: str, command: str) -> str:
    result = lab.ssh(host, command, timeout=300)
    assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
    return result.stdout


# ---- the drill ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def drill(lab_session: RunningLab) -> dict[str, Any]:
    lab = lab_session
    assert len(lab.hosts) >= 2, "the drill needs the repositories on a host of their own"
    whole_suite_deployed(lab)
    first, second = tenant_of(lab, 0), tenant_of(lab, 1)
    assert second.id == SECOND_TENANT
    suite_host = lab.hosts[0][0]
    facts: dict[str, Any] = {"lab": lab, "a": first, "b": second, "host": suite_host}

    # Data in both tenants, written with real clients.
    for tenant in (first, second):
        for uid in PEOPLE:
            cli(lab, "user", "remove", "--tenant", tenant.id, uid)
            added = cli(lab, "user", "add", "--tenant", tenant.id, uid, "--given-name", "Bk",
                        "--surname", uid, "--email", tenant.address(uid), "--generate",
                        "--json")  # fmt: skip
            assert added.returncode == 0, added.stderr
            tenant.passwords[uid] = json.loads(added.stdout)["password"]
        sent = send(tenant, PEOPLE[1], PEOPLE[0], f"avant {uuid.uuid4().hex[:8]}")
        wait_for_mail(tenant, PEOPLE[0], sent)
        facts[f"{tenant.id}/mail"] = sent
        facts[f"{tenant.id}/room"] = talk(lab, tenant)

    started = time.monotonic()
    ran = cli(lab, "backup", "run", "--json")
    facts["backup_seconds"] = time.monotonic() - started
    assert ran.returncode == 0, ran.stdout + ran.stderr
    facts["run"] = json.loads(ran.stdout)

    # After the backup: tenant A goes on living.
    later = send(first, PEOPLE[1], PEOPLE[0], f"apres {uuid.uuid4().hex[:8]}")
    wait_for_mail(first, PEOPLE[0], later)
    facts["a/later"] = later

    # Tenant B loses everything: people, mailboxes, homeserver database.
    for uid in PEOPLE:
        removed = cli(lab, "user", "remove", "--tenant", second.id, uid)
        assert removed.returncode == 0, removed.stderr
    on_host(lab, suite_host, f"rm -rf /var/vmail/{second.id}")
    database = f"synapse_{second.id.replace('-', '_')}"
    on_host(
        lab, suite_host,
        f"systemctl stop souverain-synapse@{second.id}.service && "
        f"runuser -u postgres -- dropdb {database} && "
        f"systemctl start souverain-synapse@{second.id}.service || true",
    )  # fmt: skip

    started = time.monotonic()
    restored = cli(lab, "backup", "restore", "--tenant", second.id, "--yes", "--json")
    facts["restore_seconds"] = time.monotonic() - started
    assert restored.returncode == 0, restored.stdout + restored.stderr
    facts["restore"] = json.loads(restored.stdout)
    print(
        f"backup drill: backup run {facts['backup_seconds']:.0f} s, "
        f"restore of tenant {second.id} {facts['restore_seconds']:.0f} s"
    )
    return facts


def test_backup_run_archives_each_tenant_on_the_suite_host(drill):
    report = drill["run"]["hosts"][drill["host"]]
    assert sorted(report["archives"]) == sorted([drill["a"].id, drill["b"].id])
    names = {archive["name"].split("+")[1] for archive in report["archives"].values()}
    assert len(names) == 1, "one run, one archive time"


def test_restore_took_a_safety_archive_first(drill):
    listed = cli(drill["lab"], "backup", "list", "--tenant", drill["b"].id, "--json")
    assert listed.returncode == 0, listed.stderr
    archives = json.loads(listed.stdout)["hosts"][drill["host"]]["tenants"][drill["b"].id]
    assert any(a["name"].endswith("+before-restore") for a in archives), archives
    assert set(drill["restore"]["safety"]) == {drill["host"]}


def test_restored_people_sign_in_with_their_old_passwords_and_read_their_old_mail(drill):
    second = drill["b"]
    assert drill[f"{second.id}/mail"] in inbox_ids(second, PEOPLE[0])


def test_restored_people_read_their_room_history(drill):
    room = drill[f"{drill['b'].id}/room"]
    assert room["text"] in room_history(drill["lab"], drill["b"], room["room_id"])


def test_the_other_tenant_keeps_what_it_wrote_after_the_backup(drill):
    first = drill["a"]
    ids = inbox_ids(first, PEOPLE[0])
    assert drill["a/later"] in ids and drill[f"{first.id}/mail"] in ids


def test_one_mailbox_comes_back_alone(drill):
    lab, first = drill["lab"], drill["a"]
    uid = PEOPLE[0]
    on_host(lab, drill["host"], f"rm -rf /var/vmail/{first.id}/{uid}")
    restored = cli(lab, "backup", "restore", "--tenant", first.id, "--user", uid, "--yes",
                   "--json")  # fmt: skip
    assert restored.returncode == 0, restored.stdout + restored.stderr
    # The mailbox is the archived one: the mail from before the backup, not the later one.
    ids = inbox_ids(first, uid)
    assert drill[f"{first.id}/mail"] in ids
    assert drill["a/later"] not in ids


def test_a_restore_without_yes_off_a_terminal_is_refused(drill):
    refused = cli(drill["lab"], "backup", "restore", "--tenant", drill["b"].id)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "--yes" in refused.stderr


# ---- a tenant's data handed back --------------------------------------------------------------


def opened_export(archive: Any, passphrase: str, home: Any) -> Any:
    """The decrypted archive, opened as the organisation would (GnuPG, then tar)."""
    import io
    import subprocess
    import tarfile

    home.mkdir(mode=0o700, exist_ok=True)
    done = subprocess.run(
        ["gpg", "--batch", "--quiet", "--homedir", str(home), "--pinentry-mode", "loopback",
         "--passphrase-fd", "0", "--decrypt", str(archive)],
        input=passphrase.encode() + b"\n", capture_output=True, check=True,
    )  # fmt: skip
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)
    return tarfile.open(fileobj=io.BytesIO(done.stdout), mode="r:gz")


def test_a_tenants_export_holds_its_mail_people_and_rooms_and_nothing_of_the_other(drill, tmp_path):
    lab, first, second = drill["lab"], drill["a"], drill["b"]
    started = time.monotonic()
    done = cli(lab, "tenant", "export", second.id, "--out", str(tmp_path / "exports"), "--json")
    print(f"backup: export of tenant {second.id} {time.monotonic() - started:.0f} s")
    assert done.returncode == 0, done.stdout + done.stderr
    export = json.loads(done.stdout)
    passphrase = Path(export["passphrase_file"]).read_text().strip()
    assert passphrase not in done.stdout + done.stderr
    contents: dict[str, bytes] = {}
    for archive in export["archives"]:
        path = tmp_path / "exports" / export["directory"].rsplit("/", 1)[1] / archive["file"]
        with opened_export(path, passphrase, tmp_path / "gnupg") as opened:
            for member in opened.getmembers():
                handle = opened.extractfile(member) if member.isfile() else None
                contents[member.name] = handle.read() if handle else b""
    assert all(name.startswith(f"{second.id}/") for name in contents), sorted(contents)[:5]
    # The mail received before the drill's backup, in the person's Maildir.
    message_id = drill[f"{second.id}/mail"].encode()
    assert any(
        f"/files/var/vmail/{second.id}/{PEOPLE[0]}/" in name and message_id in data
        for name, data in contents.items()
    ), "the mailbox is not in the export"
    # Its people, as LDIF; none of the other tenant's.
    ldif = next(data for name, data in contents.items() if name.endswith("entries.ldif"))
    assert f"uid={PEOPLE[0]},".encode() in ldif and f"ou={second.id},".encode() in ldif
    assert f"ou={first.id},".encode() not in ldif
    # Its homeserver's database as SQL, the room's message in it.
    database = f"synapse_{second.id.replace('-', '_')}"
    sql = next(data for name, data in contents.items() if name.endswith(f"/{database}.sql"))
    assert drill[f"{second.id}/room"]["text"].encode() in sql
    assert not any(f"synapse_{first.id.replace('-', '_')}" in name for name in contents)
    # Nothing of it stays on the host.
    left = lab.ssh(drill["host"], "ls /var/lib/souverain-backup | grep -c '^export-' || true")
    assert left.stdout.strip() == "0", left.stdout


# ---- the host lost ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def host_lost(drill: dict[str, Any]) -> dict[str, Any]:
    """The suite host is lost after a backup and replaced by a new, empty host at the same
    address; `deploy` and `backup restore --host` bring the suite and both tenants back."""
    lab, host = drill["lab"], drill["host"]
    seconds: dict[str, float] = {}

    def timed(step: str, *args: str) -> Any:
        started = time.monotonic()
        result = cli(lab, *args, timeout=3600)
        seconds[step] = time.monotonic() - started
        assert result.returncode == 0, f"{step}:\n{result.stdout[-4000:]}\n{result.stderr}"
        return result

    timed("backup", "backup", "run", "--json")
    timed("replace", "lab", "replace", host)
    forget_deployed(lab)  # the host is new: nothing of the suite is on it
    blank = lab.ssh(host, "test ! -e /var/vmail && test ! -e /etc/souverain")
    assert blank.returncode == 0, "the new host still holds the suite"
    timed("deploy", "deploy", "--json")
    restored = timed("restore", "backup", "restore", "--host", host, "--yes", "--json")
    print("backup: host lost: " + ", ".join(f"{step} {s:.0f} s" for step, s in seconds.items()))
    return {"seconds": seconds, "restore": json.loads(restored.stdout)}


def test_after_the_host_is_lost_both_tenants_sign_in_and_read_their_mail(drill, host_lost):
    for tenant in (drill["a"], drill["b"]):
        # With the passwords they had: the directory came back with the mailboxes.
        assert drill[f"{tenant.id}/mail"] in inbox_ids(tenant, PEOPLE[0])
        inbox_ids(tenant, PEOPLE[1])


def test_after_the_host_is_lost_both_tenants_read_their_rooms(drill, host_lost):
    for tenant in (drill["a"], drill["b"]):
        room = drill[f"{tenant.id}/room"]
        assert room["text"] in room_history(drill["lab"], tenant, room["room_id"])


def test_check_finds_a_damaged_segment(drill):
    lab = drill["lab"]
    intact = cli(lab, "backup", "check", "--json")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    repository_host = lab.hosts[-1][0]
    repository = f"/var/lib/souverain-borg/{drill['host']}"
    segment = on_host(
        lab, repository_host,
        f"find {repository}/data -type f -size +10k -printf '%s %p\\n' | sort -n | tail -1",
    ).split()[-1]  # fmt: skip
    damage = f"printf 'damaged' | dd of={segment} bs=1 seek=4096 conv=notrunc status=none"
    on_host(lab, repository_host, f"cp -p {segment} /root/segment.kept && {damage}")
    try:
        damaged = cli(lab, "backup", "check", "--json")
        assert damaged.returncode == 1, damaged.stdout + damaged.stderr
        report = json.loads(damaged.stdout)
        assert not report["hosts"][drill["host"]]["ok"]
    finally:
        on_host(lab, repository_host, f"cp -p /root/segment.kept {segment}")
