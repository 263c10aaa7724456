"""Chat on a lab host: Synapse per tenant deployed, directory users talk through a real
Matrix client (matrix-nio), OIDC sends browsers to the tenant's portal, federation is absent
when off, and messages survive a re-deploy with a changed setting.

The lab has no DNS for the tenant's names: the Matrix client resolves them to the proxy's
address itself (TLS SNI and Host stay the real names); nothing on this machine is edited.
Works whether or not test_deploy.py deployed the session lab first.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.conftest import RunningLab, souverain

pytestmark = pytest.mark.lab

PLAYBOOKS = ("base", "pki", "proxy", "postgresql", "directory", "sso", "chat")
PROJECT = Path(__file__).resolve().parents[2]
PEOPLE = ("chatada", "chatbob")


def run_playbooks(deployment: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(PROJECT / "roles"), ANSIBLE_NOCOLOR="1")
    argv = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "-i", str(deployment / "build" / "inventory"),
        "--vault-password-file", str(deployment / ".vault-password"),
        *[str(PROJECT / "playbooks" / f"{name}.yml") for name in PLAYBOOKS],
    ]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=1800, cwd=PROJECT
    )
    return result, time.monotonic() - started


def render(deployment: Path) -> None:
    rendered = souverain("-C", str(deployment), "render")
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr


def changed_count(output: str) -> int:
    return sum(
        int(part.split("=")[1])
        for line in output.splitlines()
        if "ok=" in line and "changed=" in line
        for part in line.split()
        if part.startswith("changed=")
    )


@pytest.fixture(scope="module")
def chat(lab_session: RunningLab) -> RunningLab:
    render(lab_session.directory)
    first, seconds = run_playbooks(lab_session.directory)
    assert first.returncode == 0, first.stdout[-5000:]
    print(f"chat: deploy {seconds:.0f} s")
    return lab_session


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
def people(chat: RunningLab) -> dict[str, str]:
    tenant = tenant_info(chat)["id"]
    passwords = {}
    for uid in PEOPLE:
        souverain("-C", str(chat.directory), "user", "remove", "--tenant", tenant, uid)
        added = souverain("-C", str(chat.directory), "user", "add", "--tenant", tenant, uid,
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
def conversation(chat: RunningLab, people: dict[str, str]) -> dict[str, str]:
    """chatada creates a room, invites chatbob and writes; chatbob joins and reads it."""
    from nio import JoinResponse, RoomCreateResponse, RoomSendResponse

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


def test_redeploy_changes_nothing(chat: RunningLab):
    again, seconds = run_playbooks(chat.directory)
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
        assert client.json() == {"m.homeserver": {"base_url": f"https://{info['homeserver']}"}}
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
        changed, _ = run_playbooks(chat.directory)
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
        restored, _ = run_playbooks(chat.directory)
        assert restored.returncode == 0, restored.stdout[-5000:]
