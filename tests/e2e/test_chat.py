"""Chat on a lab host: Synapse per tenant deployed at an older pinned release, directory
users talk through a real Matrix client (matrix-nio), then the pin moves to the model's
default and the re-deploy upgrades in place with the rooms intact. On the upgraded suite:
OIDC logins through the tenant's portal end in the same account as password logins, calls
get the suite's own TURN server, federation is absent when off, and messages survive a
re-deploy with a changed setting.

The order is fixed by the fixtures: the first test that needs `chat` deploys the older
release, makes the conversation on it and upgrades; every test then runs on the upgraded
suite. The lab has no DNS for the tenant's names: the Matrix client resolves them to the
proxy's address itself (TLS SNI and Host stay the real names); nothing on this machine is
edited. Works whether or not test_deploy.py deployed the session lab first.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import shlex
import socket
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from souverain.model.components import ChatSettings
from tests.e2e.conftest import (
    RunningLab,
    changed_count,
    known_deployed,
    run_playbooks,
    souverain,
)
from tests.e2e.test_identity import Forms, Portal

pytestmark = pytest.mark.lab

PLAYBOOKS = ("base", "pki", "proxy", "postgresql", "directory", "sso", "chat", "visio", "backup")
PEOPLE = ("chatada", "chatbob", "chatcy")
# The upgrade starts from an older release than the model's default: three minor releases
# back, published for Python 3.13 (Debian 13), with the same database schema generation
# (94), so that the test also runs on a lab whose database a newer release already made.
# Move it along when the default moves.
OLDER_SYNAPSE = "1.160.0"
DEFAULT_SYNAPSE = ChatSettings.model_fields["synapse_version"].default
PIN_AFTER = "    url_previews: false\n"


def render(deployment: Path) -> None:
    rendered = souverain("-C", str(deployment), "render")
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr


def pin_synapse(deployment: Path, version: str | None) -> None:
    """Set components.chat.synapse_version in suite.yml, or remove it (None: the default)."""
    suite_file = deployment / "suite.yml"
    lines = [
        line
        for line in suite_file.read_text().splitlines(keepends=True)
        if not line.startswith("    synapse_version:")
    ]
    text = "".join(lines)
    assert PIN_AFTER in text, "the lab suite.yml changed shape"
    if version:
        text = text.replace(PIN_AFTER, PIN_AFTER + f'    synapse_version: "{version}"\n')
    suite_file.write_text(text)
    render(deployment)


def chat_host(lab: RunningLab) -> str:
    hosts = json.loads((lab.directory / "build/inventory/hosts.yml").read_text())["all"]
    return next(iter(hosts["children"]["chat"]["hosts"]))


def postgresql_host(lab: RunningLab) -> str:
    hosts = json.loads((lab.directory / "build/inventory/hosts.yml").read_text())["all"]
    return next(iter(hosts["children"]["postgresql"]["hosts"]))


def running_release(lab: RunningLab, tenant: str) -> str:
    """The release the tenant's homeserver process runs, asked on its socket (the proxy does
    not pass /_synapse/admin on)."""
    probe = (
        "import http.client, json, socket\n"
        "c = http.client.HTTPConnection('localhost')\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        f"s.connect('/run/souverain-synapse/{tenant}/synapse.sock')\n"
        "c.sock = s\n"
        "c.request('GET', '/_synapse/admin/v1/server_version')\n"
        "print(json.load(c.getresponse())['server_version'])\n"
    )
    result = lab.ssh(chat_host(lab), "python3 -c " + shlex.quote(probe))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def applied_deltas(lab: RunningLab, tenant: str) -> int:
    """How many schema deltas Synapse has applied to the tenant's database."""
    query = "SELECT count(*) FROM applied_schema_deltas"
    database = "synapse_" + tenant.replace("-", "_")
    result = lab.ssh(
        postgresql_host(lab),
        f"runuser -u postgres -- psql -tAq -d {database} -c {shlex.quote(query)}",
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip())


def forget_synapse(lab: RunningLab) -> None:
    """When an earlier module deployed chat on the session lab, its databases were made by a
    newer release than OLDER_SYNAPSE: the homeservers stop, their databases are dropped and
    Synapse's virtualenvs removed, so that the upgrade starts from what the older release
    makes. The deployment then recreates the empty databases."""
    host = chat_host(lab)
    if lab.ssh(host, "test -e /opt/souverain-synapse").returncode != 0:
        return
    print("chat: Synapse was already deployed on the session lab; starting again without it")
    stopped = lab.ssh(
        host, "systemctl stop 'souverain-synapse@*.service' && rm -rf /opt/souverain-synapse"
    )
    assert stopped.returncode == 0, stopped.stderr
    database = "synapse_" + tenant_info(lab)["id"].replace("-", "_")
    dropped = lab.ssh(postgresql_host(lab), f"runuser -u postgres -- dropdb --if-exists {database}")
    assert dropped.returncode == 0, dropped.stderr


@pytest.fixture(scope="module")
def older(lab_session: RunningLab) -> Iterator[RunningLab]:
    """The suite deployed with the older Synapse pinned, where the upgrade starts. The pin
    goes at the end in any case, so later modules deploy the model's default."""
    # When the whole suite is deployed, only the homeservers and their databases are made
    # again; on a lab of its own the module deploys what chat needs.
    playbooks = ("postgresql", "chat") if known_deployed(lab_session) else PLAYBOOKS
    pin_synapse(lab_session.directory, OLDER_SYNAPSE)
    forget_synapse(lab_session)
    try:
        first, seconds = run_playbooks(lab_session.directory, *playbooks)
        assert first.returncode == 0, first.stdout[-5000:]
        print(f"chat: deploy with Synapse {OLDER_SYNAPSE} {seconds:.0f} s")
        assert running_release(lab_session, tenant_info(lab_session)["id"]) == OLDER_SYNAPSE
        yield lab_session
    finally:
        pin_synapse(lab_session.directory, None)


@pytest.fixture(scope="module")
def upgrade(older: RunningLab, conversation: dict[str, str]) -> dict:
    """The pin removed (the model's default) and the suite re-deployed: the upgrade."""
    tenant = tenant_info(older)["id"]
    before = applied_deltas(older, tenant)
    pin_synapse(older.directory, None)
    upgraded, seconds = run_playbooks(older.directory, "chat")
    assert upgraded.returncode == 0, upgraded.stdout[-5000:]
    print(f"chat: upgrade {OLDER_SYNAPSE} -> {DEFAULT_SYNAPSE} {seconds:.0f} s")
    return {"stdout": upgraded.stdout, "seconds": seconds, "deltas_before": before}


@pytest.fixture(scope="module")
def chat(upgrade: dict, older: RunningLab) -> RunningLab:
    """The suite on the model's default Synapse, upgraded from the older release."""
    return older


def tenant_info(lab: RunningLab) -> dict:
    result = souverain("-C", str(lab.directory), "info", "--json")
    assert result.returncode == 0, result.stderr
    tenant = json.loads(result.stdout)["tenants"][0]
    by_role = {service["role"]: service for service in tenant["services"]}
    return {
        "id": tenant["id"],
        "domain": by_role["landing"]["fqdn"],
        "homeserver": by_role["homeserver"]["fqdn"],
        "portal": by_role["portal"]["fqdn"],
        "address": by_role["homeserver"]["address"],
    }


def suite_settings(lab: RunningLab) -> dict[str, str]:
    import yaml

    suite = yaml.safe_load((lab.directory / "suite.yml").read_text())
    chat = (suite.get("components") or {}).get("chat") or {}
    element = (suite.get("artifacts") or {}).get("element") or {}
    return {
        "federation": (chat.get("federation") or {}).get("mode", "off"),
        "element_source": element.get("source", "upstream"),
    }


def tls_context(lab: RunningLab) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(lab.directory / "pki" / "ca.crt"))


def https(lab: RunningLab, name: str, address: str):
    """An httpx client that reaches `name` at `address` (SNI and Host), no redirects."""
    import httpx

    def route(request):
        request.url = request.url.copy_with(host=address)
        request.headers["Host"] = name
        request.extensions["sni_hostname"] = name

    return httpx.Client(
        verify=tls_context(lab), event_hooks={"request": [route]}, timeout=30,
        base_url=f"https://{name}",
    )  # fmt: skip


@pytest.fixture(scope="module")
def people(older: RunningLab) -> dict[str, str]:
    tenant = tenant_info(older)["id"]
    passwords = {}
    for uid in PEOPLE:
        souverain("-C", str(older.directory), "user", "remove", "--tenant", tenant, uid)
        added = souverain("-C", str(older.directory), "user", "add", "--tenant", tenant, uid,
                          "--given-name", uid.capitalize(), "--surname", "Lab",
                          "--email", f"{uid}@example.org", "--generate", "--json")  # fmt: skip
        assert added.returncode == 0, added.stderr
        passwords[uid] = json.loads(added.stdout)["password"]
    return passwords


# ---- a real Matrix client ---------------------------------------------------------------


class Matrix:
    """matrix-nio's AsyncClient, with the lab's address for every name and the suite's CA."""

    def __init__(self, lab: RunningLab, info: dict, uid: str) -> None:
        self.lab, self.info, self.uid = lab, info, uid

    async def __aenter__(self):
        from aiohttp import ClientSession, TCPConnector
        from aiohttp.abc import AbstractResolver
        from nio import AsyncClient

        address = self.info["address"]

        class LabResolver(AbstractResolver):
            async def resolve(self, host, port=0, family=socket.AF_INET):
                return [{"hostname": host, "host": address, "port": port,
                         "family": socket.AF_INET, "proto": 0,
                         "flags": socket.AI_NUMERICHOST}]  # fmt: skip

            async def close(self):
                return None

        context = tls_context(self.lab)
        self.client = AsyncClient(f"https://{self.info['homeserver']}", self.uid, ssl=context)
        self.client.client_session = ClientSession(
            connector=TCPConnector(resolver=LabResolver(), ssl=context)
        )
        return self.client

    async def __aexit__(self, *exc):
        await self.client.close()


def user_id(info: dict, uid: str) -> str:
    return f"@{uid}:{info['domain']}"


async def login(client, password: str) -> None:
    from nio import LoginResponse

    response = await client.login(password, device_name="souverain e2e")
    assert isinstance(response, LoginResponse), response


async def read_messages(client, room_id: str) -> list[str]:
    from nio import RoomMessagesResponse, SyncResponse

    synced = await client.sync(timeout=0, full_state=True)
    assert isinstance(synced, SyncResponse), synced
    history = await client.room_messages(room_id, start=synced.next_batch, limit=50)
    assert isinstance(history, RoomMessagesResponse), history
    return [getattr(event, "body", None) for event in history.chunk]


@pytest.fixture(scope="module")
def conversation(older: RunningLab, people: dict[str, str]) -> dict[str, str]:
    """On the older release: chatada creates a room, invites chatbob and writes; chatbob
    joins and reads it."""
    from nio import JoinResponse, RoomCreateResponse, RoomSendResponse

    chat = older
    info = tenant_info(chat)
    text = f"bonjour {uuid.uuid4().hex[:8]}"

    async def talk() -> dict[str, str]:
        async with Matrix(chat, info, "chatada") as ada:
            await login(ada, people["chatada"])
            created = await ada.room_create(name="souverain e2e",
                                            invite=[user_id(info, "chatbob")])  # fmt: skip
            assert isinstance(created, RoomCreateResponse), created
            sent = await ada.room_send(created.room_id, "m.room.message",
                                       {"msgtype": "m.text", "body": text})  # fmt: skip
            assert isinstance(sent, RoomSendResponse), sent
        async with Matrix(chat, info, "chatbob") as bob:
            await login(bob, people["chatbob"])
            joined = await bob.join(created.room_id)
            assert isinstance(joined, JoinResponse), joined
            bodies = await read_messages(bob, created.room_id)
        return {"room_id": created.room_id, "text": text, "bodies": json.dumps(bodies)}

    return asyncio.run(talk())


# ---- the tests ----------------------------------------------------------------------------


def test_verify_is_green_for_chat(chat: RunningLab):
    """The chat role's testinfra suite passes (other components are their roles' tests)."""
    result = souverain("-C", str(chat.directory), "verify", "--json")
    summary = json.loads(result.stdout)
    assert "chat" not in summary["errors"], summary["errors"]
    mine = [r for r in summary["results"] if r["component"] == "chat"]
    assert mine, summary
    assert all(r["result"] == "passed" and r["passed"] > 0 for r in mine), mine


def test_the_upgrade_runs_the_pinned_release_on_the_migrated_database(
    chat: RunningLab, upgrade: dict
):
    tenant = tenant_info(chat)["id"]
    assert running_release(chat, tenant) == DEFAULT_SYNAPSE
    # The new release's schema deltas were applied to the database the old one made.
    assert applied_deltas(chat, tenant) > upgrade["deltas_before"]
    host = chat_host(chat)
    link = chat.ssh(host, "readlink /opt/souverain-synapse/venv").stdout.strip()
    assert link == f"/opt/souverain-synapse/synapse-{DEFAULT_SYNAPSE}-ldap3-0.4.0"
    kept = chat.ssh(host, "ls /opt/souverain-synapse").stdout.split()
    assert f"synapse-{OLDER_SYNAPSE}-ldap3-0.4.0" in kept, "the previous virtualenv is kept"


def archived_before_the_upgrade(lab: RunningLab, tenant: str) -> list[str]:
    """The tenant's archives noted as taken before Synapse left OLDER_SYNAPSE, on every
    host keeping its data."""
    listed = souverain("-C", str(lab.directory), "backup", "list", "--tenant", tenant, "--json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    note = "+before-synapse-" + OLDER_SYNAPSE.replace(".", "-")
    return [
        archive["name"]
        for report in json.loads(listed.stdout)["hosts"].values()
        for archive in report["tenants"].get(tenant, [])
        if archive["name"].endswith(note)
    ]


def test_the_upgrade_archived_the_homeservers_data_before_the_switch(
    chat: RunningLab, upgrade: dict
):
    tenant = tenant_info(chat)["id"]
    output = upgrade["stdout"]
    steps = [
        "Stop every homeserver before their data is kept",
        "Archive the homeservers' data before the new release migrates it",
        "Switch the homeservers to the pinned releases' virtualenv",
        "Restart every homeserver",
    ]
    positions = [output.index(f"[chat : {step}]") for step in steps]
    assert positions == sorted(positions), "stop, archive, switch, then start"
    # Through the backup agents (the suite has backups on), not a dump of its own.
    assert archived_before_the_upgrade(chat, tenant), "no archive before the upgrade"
    dumps = chat.ssh(postgresql_host(chat), "test -e /var/backups/souverain-synapse")
    assert dumps.returncode != 0, "a dump of its own was made beside the archive"


def test_the_rooms_and_messages_survive_the_upgrade(
    chat: RunningLab, people: dict[str, str], conversation: dict[str, str]
):
    info = tenant_info(chat)

    async def reread() -> tuple[list[str], list[str]]:
        async with Matrix(chat, info, "chatada") as ada:
            await login(ada, people["chatada"])
            rooms = await ada.joined_rooms()
        async with Matrix(chat, info, "chatbob") as bob:
            await login(bob, people["chatbob"])
            return rooms.rooms, await read_messages(bob, conversation["room_id"])

    rooms, bodies = asyncio.run(reread())
    assert conversation["room_id"] in rooms
    assert conversation["text"] in bodies


def test_a_release_that_cannot_be_installed_leaves_the_homeservers_running(chat: RunningLab):
    """A pin pip cannot satisfy fails the deployment before anything running is touched."""
    tenant = tenant_info(chat)["id"]
    host = chat_host(chat)
    started_at = f"systemctl show -p ExecMainStartTimestampMonotonic souverain-synapse@{tenant}"
    started = chat.ssh(host, started_at)
    missing = "9.9.9"  # no such release on the package index
    try:
        pin_synapse(chat.directory, missing)
        failed, seconds = run_playbooks(chat.directory, "chat")
        print(f"chat: refused release {seconds:.0f} s")
    finally:
        pin_synapse(chat.directory, None)
    assert failed.returncode != 0
    said = " ".join(failed.stdout.split())
    assert f"Synapse {missing} (with matrix-synapse-ldap3 0.4.0) could not be installed" in said
    assert "The homeservers still run the release they ran before" in said
    assert running_release(chat, tenant) == DEFAULT_SYNAPSE
    again = chat.ssh(host, started_at)
    assert again.stdout == started.stdout, "the homeserver was not restarted"
    left = chat.ssh(host, "ls /opt/souverain-synapse").stdout.split()
    assert not [name for name in left if missing in name], left


def test_redeploy_changes_nothing(chat: RunningLab):
    # The other roles' second deploy is test_deploy's (the whole suite).
    again, seconds = run_playbooks(chat.directory, "postgresql", "chat")
    assert again.returncode == 0, again.stdout[-5000:]
    print(f"chat: re-deploy {seconds:.0f} s")
    assert changed_count(again.stdout) == 0, again.stdout[-5000:]


def test_info_lists_the_homeserver(chat: RunningLab):
    info = tenant_info(chat)
    assert info["homeserver"] == f"matrix.{info['domain']}"


def test_clients_discover_the_homeserver_on_the_tenant_domain(chat: RunningLab):
    info = tenant_info(chat)
    with https(chat, info["domain"], info["address"]) as apex:
        client = apex.get("/.well-known/matrix/client")
        assert client.status_code == 200
        assert client.json() == {
            "m.homeserver": {"base_url": f"https://{info['homeserver']}"},
            "io.element.voip": {"disable_fallback_ice": True},
        }
    with https(chat, info["homeserver"], info["address"]) as homeserver:
        versions = homeserver.get("/_matrix/client/versions")
        assert versions.status_code == 200 and versions.json()["versions"]
        flows = {
            flow["type"] for flow in homeserver.get("/_matrix/client/v3/login").json()["flows"]
        }
        assert {"m.login.password", "m.login.sso"} <= flows


def test_directory_users_talk_through_a_real_client(conversation: dict[str, str]):
    assert conversation["text"] in json.loads(conversation["bodies"])


def test_a_wrong_password_is_refused(chat: RunningLab, people: dict[str, str]):
    from nio import LoginError

    info = tenant_info(chat)

    async def attempt():
        async with Matrix(chat, info, "chatada") as ada:
            return await ada.login(people["chatada"] + "x")

    assert isinstance(asyncio.run(attempt()), LoginError)


def test_registration_is_closed(chat: RunningLab):
    info = tenant_info(chat)
    with https(chat, info["homeserver"], info["address"]) as homeserver:
        answer = homeserver.post("/_matrix/client/v3/register",
                                 json={"username": "intruder", "password": "x" * 20})  # fmt: skip
        assert answer.status_code == 403, answer.text


def test_oidc_login_goes_to_the_tenant_portal(chat: RunningLab):
    info = tenant_info(chat)
    back = f"https://chat.{info['domain']}/"
    with https(chat, info["homeserver"], info["address"]) as homeserver:
        answer = homeserver.get("/_matrix/client/v3/login/sso/redirect/oidc",
                                params={"redirectUrl": back})  # fmt: skip
    assert answer.status_code == 302, answer.text
    target = urlparse(answer.headers["location"])
    assert (target.scheme, target.netloc, target.path) == (
        "https",
        info["portal"],
        "/oauth2/authorize",
    )
    query = parse_qs(target.query)
    assert query["client_id"] == ["chat"]
    assert query["redirect_uri"] == [f"https://{info['homeserver']}/_synapse/client/oidc/callback"]
    assert "openid" in query["scope"][0].split()


def sso_login_token(lab: RunningLab, info: dict, uid: str, password: str) -> str:
    """A browser's SSO login: Synapse sends it to the portal, the person signs in there, the
    portal sends it back to Synapse's callback, and Synapse hands Element a login token."""
    ca = lab.directory / "pki" / "ca.crt"
    element = f"https://chat.{info['domain']}/"
    homeserver = Portal(info["homeserver"], info["address"], ca)
    start = homeserver.client.get(
        homeserver.url("/_matrix/client/v3/login/sso/redirect/oidc?")
        + urlencode({"redirectUrl": element})
    )
    assert start.status_code == 302, start.text
    authorize = start.headers["location"]
    assert authorize.startswith(f"https://{info['portal']}/oauth2/authorize?")
    portal = Portal(info["portal"], info["address"], ca)
    page = portal.client.get(authorize)
    assert page.status_code == 200, page.text[:500]
    parser = Forms()
    parser.feed(page.text)
    form = next(f for f in parser.forms if "password" in f["fields"])
    response = portal.client.post(
        portal.url("/"), data=dict(form["fields"], user=uid, password=password)
    )
    callback = f"https://{info['homeserver']}/_synapse/client/oidc/callback"
    location = ""
    for _ in range(5):
        location = response.headers.get("location") or ""
        if not location or location.startswith(callback):
            break
        response = portal.client.get(location)
    assert location.startswith(callback), response.text[:500]
    done = homeserver.client.get(location)
    # Element's address is in Synapse's sso.client_whitelist: straight back, no extra page.
    assert done.status_code == 302, done.text[:1000]
    back = done.headers["location"]
    assert back.startswith(element), back
    return parse_qs(urlparse(back).query)["loginToken"][0]


async def token_login(client, token: str) -> str:
    from nio import LoginResponse

    response = await client.login(token=token, device_name="souverain e2e sso")
    assert isinstance(response, LoginResponse), response
    return response.user_id


def test_oidc_login_through_the_portal_opens_the_password_login_account(
    chat: RunningLab, people: dict[str, str], conversation: dict[str, str]
):
    """chatada logged in with her password before the upgrade; through the portal she gets
    the same account, with her room."""
    info = tenant_info(chat)
    token = sso_login_token(chat, info, "chatada", people["chatada"])

    async def sign_in() -> tuple[str, list[str]]:
        async with Matrix(chat, info, "chatada") as ada:
            user = await token_login(ada, token)
            return user, (await ada.joined_rooms()).rooms

    user, rooms = asyncio.run(sign_in())
    assert user == user_id(info, "chatada")
    assert conversation["room_id"] in rooms


def test_a_first_login_through_the_portal_makes_the_account_the_password_opens(
    chat: RunningLab, people: dict[str, str]
):
    """chatcy never logged in: the portal login makes @chatcy, which her password opens."""
    info = tenant_info(chat)
    token = sso_login_token(chat, info, "chatcy", people["chatcy"])

    async def both_ways() -> tuple[str, str]:
        async with Matrix(chat, info, "chatcy") as cy:
            through_portal = await token_login(cy, token)
        async with Matrix(chat, info, "chatcy") as cy:
            await login(cy, people["chatcy"])
            return through_portal, cy.user_id

    through_portal, with_password = asyncio.run(both_ways())
    assert through_portal == with_password == user_id(info, "chatcy")


def test_a_login_token_is_used_once(chat: RunningLab, people: dict[str, str]):
    from nio import LoginError

    info = tenant_info(chat)
    token = sso_login_token(chat, info, "chatbob", people["chatbob"])

    async def twice():
        async with Matrix(chat, info, "chatbob") as bob:
            await token_login(bob, token)
        async with Matrix(chat, info, "chatbob") as bob:
            return await bob.login(token=token)

    assert isinstance(asyncio.run(twice()), LoginError)


def visio_host(lab: RunningLab) -> tuple[str, str] | None:
    hosts = json.loads((lab.directory / "build/inventory/hosts.yml").read_text())["all"]
    members = hosts["children"].get("visio", {}).get("hosts") or {}
    if not members:
        return None
    name = next(iter(members))
    return name, hosts["hosts"][name]["ansible_host"]


def test_calls_get_the_suites_turn_server(chat: RunningLab, people: dict[str, str]):
    """Synapse hands a logged-in user time-limited credentials for the suite's coturn,
    signed with coturn's shared secret (TURN REST), and coturn accepts them when visio is
    deployed on the lab."""
    visio = visio_host(chat)
    if visio is None:
        pytest.skip("visio is off in the lab suite: the homeserver offers no TURN server")
    host, address = visio
    info = tenant_info(chat)

    async def token() -> str:
        async with Matrix(chat, info, "chatada") as ada:
            await login(ada, people["chatada"])
            return ada.access_token

    access = asyncio.run(token())
    with https(chat, info["homeserver"], info["address"]) as homeserver:
        answer = homeserver.get(
            "/_matrix/client/v3/voip/turnServer", headers={"Authorization": f"Bearer {access}"}
        )
        assert answer.status_code == 200, answer.text
        anonymous = homeserver.get("/_matrix/client/v3/voip/turnServer")
        assert anonymous.status_code == 401
    turn = answer.json()
    assert turn["uris"] == [
        f"turn:{address}:3478?transport=udp",
        f"turn:{address}:3478?transport=tcp",
    ]
    expiry, _, who = turn["username"].partition(":")
    assert who == user_id(info, "chatada")
    assert time.time() < int(expiry) <= time.time() + 3600 + 60
    assert turn["ttl"] <= 3600
    from souverain.deployment import Deployment
    from souverain.secrets import SecretStore

    shared = SecretStore.open(Deployment.at(chat.directory)).get("visio/turn")
    signed = hmac.new(shared.encode(), turn["username"].encode(), hashlib.sha1).digest()
    assert turn["password"] == base64.b64encode(signed).decode()
    # visio is in this module's playbooks: a coturn that is not running is a failure.
    state = chat.ssh(host, "systemctl is-active coturn").stdout.strip()
    assert state == "active", f"coturn is {state!r} on {host}"
    command = ["turnutils_uclient", "-y", "-n", "2", "-m", "1", "-l", "100",
               "-u", turn["username"], "-w", turn["password"], address]  # fmt: skip
    # turnutils_uclient ends by itself once its messages went round: 180 s is only a guard.
    allocated = chat.ssh(host, "timeout 180 " + shlex.join(command))
    assert allocated.returncode == 0, allocated.stdout[-2000:] + allocated.stderr[-2000:]


def test_federation_is_absent_when_off(chat: RunningLab):
    if suite_settings(chat)["federation"] != "off":
        pytest.skip("the lab suite federates")
    info = tenant_info(chat)
    with https(chat, info["homeserver"], info["address"]) as homeserver:
        for path in ("/_matrix/federation/v1/version", "/_matrix/key/v2/server",
                     "/_matrix/federation/v1/query/profile?user_id=%40a%3Ab"):  # fmt: skip
            assert homeserver.get(path).status_code == 404, path
        assert homeserver.get("/_synapse/admin/v1/server_version").status_code == 404
    with https(chat, info["domain"], info["address"]) as apex:
        assert apex.get("/.well-known/matrix/server").status_code == 404


def test_element_page_says_why_it_is_missing(chat: RunningLab):
    if suite_settings(chat)["element_source"] == "local":
        pytest.skip("this suite installs Element from a local archive")
    info = tenant_info(chat)
    with https(chat, f"chat.{info['domain']}", info["address"]) as element:
        page = element.get("/")
        assert page.status_code == 200
        assert "Element web is not installed" in page.text
        assert f"https://{info['homeserver']}" in page.text
        config = element.get("/config.json").json()
        assert config["integrations_ui_url"] == ""
        assert config["default_server_config"]["m.homeserver"]["base_url"] == (
            f"https://{info['homeserver']}"
        )


def test_messages_survive_a_redeploy_with_a_changed_setting(
    chat: RunningLab, people: dict[str, str], conversation: dict[str, str]
):
    suite_file = chat.directory / "suite.yml"
    original = suite_file.read_text()
    marker = "    url_previews: false\n"
    assert marker in original, "the lab suite.yml changed shape"
    info = tenant_info(chat)
    try:
        suite_file.write_text(original.replace(marker, marker + "    media_retention_days: 90\n"))
        render(chat.directory)
        built = next(
            chat.directory.glob(
                f"build/hosts/*/files/etc/souverain/chat/{info['id']}/homeserver.yaml"
            )
        )
        assert "local_media_lifetime" in built.read_text()
        changed, _ = run_playbooks(chat.directory, "chat")
        assert changed.returncode == 0, changed.stdout[-5000:]
        assert "Restart the homeservers whose configuration changed" in changed.stdout

        async def reread() -> list[str]:
            async with Matrix(chat, info, "chatbob") as bob:
                await login(bob, people["chatbob"])
                return await read_messages(bob, conversation["room_id"])

        assert conversation["text"] in asyncio.run(reread())
    finally:
        suite_file.write_text(original)
        render(chat.directory)
        restored, _ = run_playbooks(chat.directory, "chat")
        assert restored.returncode == 0, restored.stdout[-5000:]


def test_rollback_puts_back_the_older_release_and_the_data_it_left(
    chat: RunningLab, people: dict[str, str], conversation: dict[str, str]
):
    """`backup rollback` undoes the upgrade: the data archived before it (a message written
    since is gone), Synapse OLDER_SYNAPSE pinned in suite.yml and running. The module then
    upgrades again, so that later modules find the model's default."""
    from nio import RoomSendResponse

    info = tenant_info(chat)
    later = f"apres la mise a jour {uuid.uuid4().hex[:8]}"

    async def write() -> None:
        async with Matrix(chat, info, "chatbob") as bob:
            await login(bob, people["chatbob"])
            sent = await bob.room_send(conversation["room_id"], "m.room.message",
                                       {"msgtype": "m.text", "body": later})  # fmt: skip
            assert isinstance(sent, RoomSendResponse), sent

    async def reread() -> list[str]:
        async with Matrix(chat, info, "chatbob") as bob:
            await login(bob, people["chatbob"])
            return await read_messages(bob, conversation["room_id"])

    asyncio.run(write())
    suite_file = chat.directory / "suite.yml"
    try:
        started = time.monotonic()
        rolled = souverain("-C", str(chat.directory), "backup", "rollback", "--yes", "--json",
                           timeout=1800)  # fmt: skip
        print(f"chat: rollback to {OLDER_SYNAPSE} {time.monotonic() - started:.0f} s")
        assert rolled.returncode == 0, rolled.stdout[-5000:] + rolled.stderr
        report = json.loads(rolled.stdout)
        assert report["back_to"] == OLDER_SYNAPSE and report["ok"], report
        assert f'    synapse_version: "{OLDER_SYNAPSE}"\n' in suite_file.read_text()
        assert running_release(chat, info["id"]) == OLDER_SYNAPSE
        bodies = asyncio.run(reread())
        assert conversation["text"] in bodies and later not in bodies, bodies
    finally:
        pin_synapse(chat.directory, None)
        again, seconds = run_playbooks(chat.directory, "chat")
        print(f"chat: upgrade again after the rollback {seconds:.0f} s")
    assert again.returncode == 0, again.stdout[-5000:]
    assert running_release(chat, info["id"]) == DEFAULT_SYNAPSE
