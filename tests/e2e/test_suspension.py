"""A tenant suspended and resumed on the session lab, with real clients.

The lab's second tenant is suspended (`souverain tenant suspend`, then the deploy the command
names). While it is: its people's passwords open nothing (directory bind, IMAPS, submission,
the SSO portal, the homeserver), its web services show the page saying so, its homeserver is
stopped, and mail sent to it from the other tenant is accepted and stored. The other tenant
works throughout, its homeserver process untouched. Resumed: suite.yml is byte for byte what
it was, its people sign in with the passwords they had, and read both the mail from before
and the mail that came while it was suspended.
"""

from __future__ import annotations

import imaplib
import json
import smtplib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from souverain.cli.cmd_tenant import SUSPENSION_TAGS
from tests.e2e.conftest import (
    RunningLab,
    TenantView,
    deployed_again,
    known_deployed,
    souverain,
)
from tests.e2e.test_chat import chat_host, https
from tests.e2e.test_isolation import (
    directory_bind,
    homeserver_login,
    mail_endpoints,
    message,
    person_dn,
    submission,
)
from tests.e2e.test_mail import imaps

pytestmark = pytest.mark.lab

UID = "iris"  # a person of both tenants (conftest.both_tenants)


def apply(lab: RunningLab) -> float:
    """The deploy `tenant suspend` and `tenant resume` name; its duration."""
    started = time.monotonic()
    result = souverain(
        "-C", str(lab.directory), "deploy", "--tags", SUSPENSION_TAGS, "--json", timeout=1800
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    return time.monotonic() - started


def homeserver_pid(lab: RunningLab, tenant: str) -> str:
    shown = lab.ssh(
        chat_host(lab), f"systemctl show -p MainPID --value souverain-synapse@{tenant}.service"
    )
    return shown.stdout.strip()


def mailbox_holds(lab: RunningLab, tenant: TenantView, message_id: str) -> bool:
    """The message is in the person's maildir on the host (read there: IMAP is closed)."""
    hosts = json.loads((lab.directory / "build/inventory/hosts.yml").read_text())["all"]
    found = lab.ssh(
        next(iter(hosts["children"]["mail"]["hosts"])),
        f"grep -rlF -- {json.dumps(message_id)} /var/vmail/{tenant.id}/{UID}/ 2>/dev/null",
    )
    return found.returncode == 0 and bool(found.stdout.strip())


def send_within(tenant: TenantView, lab: RunningLab, sender: TenantView) -> str:
    """``sender``'s iris writes to ``tenant``'s iris through submission; the Message-ID."""
    client = submission(lab, sender)
    try:
        mail = message(sender.address(UID), tenant.address(UID), sender.domain)
        client.send_message(mail)
    finally:
        client.close()
    return str(mail["Message-ID"])


def signed_in(lab: RunningLab, tenant: TenantView) -> imaplib.IMAP4_SSL:
    client = imaps(mail_endpoints(lab, tenant))
    client.login(tenant.address(UID), tenant.passwords[UID])
    client.select("INBOX", readonly=True)
    return client


def still_open(client: imaplib.IMAP4_SSL) -> bool:
    """Whether the IMAP session answers a NOOP (a session the server ended says BYE, or its
    connection is closed)."""
    try:
        status, _ = client.noop()
    except (imaplib.IMAP4.abort, OSError):
        return False
    return status == "OK"


@pytest.fixture(scope="module")
def suspension(
    lab_session: RunningLab, both_tenants: tuple[TenantView, TenantView]
) -> Iterator[dict[str, Any]]:
    lab = lab_session
    # both_tenants deployed the suite once in this session; an earlier module may have changed
    # a setting since (test_mail does): the suspension does not need the whole suite deployed
    # again for that, only the components that follow it.
    known = known_deployed(lab)
    active, target = both_tenants
    before = {
        "suite": (lab.directory / "suite.yml").read_bytes(),
        "pid": homeserver_pid(lab, active.id),
        "mail": send_within(target, lab, target),
        # A session of each tenant, open while the suspension is deployed.
        "sessions": {tenant.id: signed_in(lab, tenant) for tenant in (active, target)},
    }
    suspended = souverain("-C", str(lab.directory), "tenant", "suspend", target.id)
    assert suspended.returncode == 0, suspended.stderr
    state = {"lab": lab, "active": active, "target": target, "before": before, "known": known}
    state["suspend seconds"] = apply(lab)
    try:
        yield state
    finally:
        # Whatever failed above, the lab leaves this module with the tenant resumed.
        if not state.get("resumed"):
            souverain("-C", str(lab.directory), "tenant", "resume", target.id)
            apply(lab)


@pytest.fixture(scope="module")
def resumed(suspension: dict[str, Any]) -> dict[str, Any]:
    lab, target = suspension["lab"], suspension["target"]
    result = souverain("-C", str(lab.directory), "tenant", "resume", target.id)
    assert result.returncode == 0, result.stderr
    suspension["resumed"] = True
    suspension["resume seconds"] = apply(lab)
    # The components that follow a suspension deployed again as they were: with suite.yml
    # as it was, the lab holds the whole deploy it held before (the modules after reuse it).
    known = suspension["known"]
    suspension["deployed again"] = known is not None and deployed_again(lab, known)
    print(
        f"suspension: suspend deploy {suspension['suspend seconds']:.0f} s, "
        f"resume deploy {suspension['resume seconds']:.0f} s"
    )
    return suspension


# ---- while suspended ----------------------------------------------------------------------


def test_suspended_people_cannot_bind_to_the_directory(suspension):
    lab, target = suspension["lab"], suspension["target"]
    connection = directory_bind(lab, person_dn(lab, target, UID), target.passwords[UID])
    assert not connection.bound
    assert connection.result["description"] == "invalidCredentials", connection.result


def test_suspended_people_cannot_open_their_mailbox_or_send(suspension):
    lab, target = suspension["lab"], suspension["target"]
    client = imaps(mail_endpoints(lab, target))
    with pytest.raises(imaplib.IMAP4.error):
        client.login(target.address(UID), target.passwords[UID])
    client.logout()
    with pytest.raises(smtplib.SMTPAuthenticationError):
        submission(lab, target)


def test_the_suspended_tenants_open_imap_session_is_ended_and_the_other_kept(suspension):
    sessions = suspension["before"]["sessions"]
    assert not still_open(sessions[suspension["target"].id])
    active = sessions[suspension["active"].id]
    assert still_open(active), "the other tenant's session was ended too"
    active.logout()


def test_suspended_web_services_say_so_and_matrix_refuses(suspension):
    lab, target = suspension["lab"], suspension["target"]
    for role in ("portal", "landing", "webmail"):
        service = target.services[role]
        with https(lab, service["fqdn"], service["address"]) as client:
            page = client.get("/")
        assert page.status_code == 503, (role, page.status_code)
        assert "Organisation suspended" in page.text, role
        assert page.headers["strict-transport-security"].startswith("max-age=")
    refused = homeserver_login(lab, target, UID, target.passwords[UID])
    assert refused.status_code == 403, refused.text
    assert refused.json()["errcode"] == "M_FORBIDDEN" and "suspended" in refused.json()["error"]


def test_the_suspended_homeserver_is_stopped_and_stays_so_at_boot(suspension):
    lab, target = suspension["lab"], suspension["target"]
    unit = f"souverain-synapse@{target.id}.service"
    shown = lab.ssh(chat_host(lab), f"systemctl is-active {unit}; systemctl is-enabled {unit}")
    assert shown.stdout.split() == ["inactive", "disabled"], shown.stdout


def test_mail_to_the_suspended_tenant_is_received_and_kept(suspension):
    lab, active, target = suspension["lab"], suspension["active"], suspension["target"]
    message_id = send_within(target, lab, active)
    deadline = time.monotonic() + 60
    while not mailbox_holds(lab, target, message_id):
        assert time.monotonic() < deadline, f"{message_id} never reached the suspended mailbox"
        time.sleep(2)
    suspension["during"] = message_id


def test_the_other_tenant_works_and_its_homeserver_was_not_restarted(suspension):
    lab, active = suspension["lab"], suspension["active"]
    assert homeserver_pid(lab, active.id) == suspension["before"]["pid"]
    client = imaps(mail_endpoints(lab, active))
    client.login(active.address(UID), active.passwords[UID])
    client.logout()
    accepted = homeserver_login(lab, active, UID, active.passwords[UID])
    assert accepted.status_code == 200, accepted.text


# ---- resumed --------------------------------------------------------------------------------


def test_resume_gives_suite_yml_back_byte_for_byte(resumed):
    lab = resumed["lab"]
    assert (lab.directory / "suite.yml").read_bytes() == resumed["before"]["suite"]
    if resumed["known"] is not None:
        assert resumed["deployed again"]


def test_resumed_people_sign_in_and_read_the_mail_of_before_and_during(resumed):
    lab, target = resumed["lab"], resumed["target"]
    connection = directory_bind(lab, person_dn(lab, target, UID), target.passwords[UID])
    assert connection.bound, connection.result
    connection.unbind()
    client = imaps(mail_endpoints(lab, target))
    client.login(target.address(UID), target.passwords[UID])
    client.select("INBOX", readonly=True)
    for message_id in (resumed["before"]["mail"], resumed["during"]):
        _, found = client.search(None, "HEADER", "Message-ID", message_id)
        assert found[0], f"{message_id} is not in the INBOX"
    client.logout()


def test_resumed_homeserver_and_portal_answer_again(resumed):
    lab, target = resumed["lab"], resumed["target"]
    accepted = homeserver_login(lab, target, UID, target.passwords[UID])
    assert accepted.status_code == 200, accepted.text
    service = target.services["landing"]
    with https(lab, service["fqdn"], service["address"]) as client:
        assert client.get("/").status_code == 200
    unit = f"souverain-synapse@{target.id}.service"
    shown = lab.ssh(chat_host(lab), f"systemctl is-active {unit}; systemctl is-enabled {unit}")
    assert shown.stdout.split() == ["active", "enabled"], shown.stdout
