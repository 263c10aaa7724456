"""The README's four-host suite, deployed as written on a four-host lab.

front carries the proxy, the directory and the portal; mail the mail; data PostgreSQL; apps
Redis, chat, visio and drive. The suite is the README's own YAML text: only what ties it to
real machines is taken from the lab (the hosts' addresses, how Ansible reaches them, the NTP
server, the admin network and the lab's extra CA). One deploy serves every test of the module:
verify on every host, a second deploy that changes nothing, real clients through the front
(an OIDC login that ends in Synapse on apps, a Matrix room, the webmail of the mail host),
mail submission and IMAPS on the mail host with a DKIM signature, a bounded scan from each
host of what the others let it reach, and each cross-host listener refusing clear text.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import shlex
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.e2e.conftest import RunningLab, souverain
from tests.e2e.test_chat import Matrix, login, sso_login_token, tenant_info, token_login
from tests.e2e.test_identity import Portal
from tests.e2e.test_mail import Endpoints, imaps, smtp

pytestmark = pytest.mark.lab

PROJECT = Path(__file__).resolve().parents[2]
LAB = "split"
README_HOSTS = ("front", "mail", "data", "apps")
# The ports the scan tries on each host: every port a component of the suite may open, the
# local-only ones (LDAP, Redis, Rspamd, Prosody, Synapse) and the backend port.
SCANNED = (22, 25, 80, 389, 443, 465, 587, 636, 993, 3478, 5222, 5280, 5349, 5432, 6379,
           8008, 8443, 11332, 11334)  # fmt: skip

# Tries each (address, port) at once from a lab host: prints the list of those that accepted
# a TCP connection. A dropped packet costs the 3 s timeout, in parallel.
SCAN = r"""
import concurrent.futures, json, socket, sys
targets = json.loads(sys.argv[1])
def open_(target):
    try:
        socket.create_connection((target[0], target[1]), timeout=3).close()
        return True
    except OSError:
        return False
with concurrent.futures.ThreadPoolExecutor(64) as pool:
    found = [t for t, ok in zip(targets, pool.map(open_, targets)) if ok]
print(json.dumps(found))
"""


def readme_suite() -> str:
    """The README's suite.yml example: the YAML block with the four hosts."""
    text = (PROJECT / "README.md").read_text()
    for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL):
        if all(f"name: {name}" in block for name in README_HOSTS):
            return block
    raise AssertionError("the README has no four-host suite.yml example")


def write_readme_suite(lab: RunningLab) -> None:
    yaml = YAML()
    yaml.preserve_quotes = True
    path = lab.directory / "suite.yml"
    own = yaml.load(path.read_text())
    suite = yaml.load(readme_suite())
    assert [host["name"] for host in suite["hosts"]] == list(README_HOSTS)
    for host, (_, address) in zip(suite["hosts"], lab.hosts, strict=True):
        host["address"] = address
    suite["connection"] = own["connection"]
    for key in ("ntp_servers", "admin_networks"):
        suite["components"]["base"][key] = own["components"]["base"][key]
    suite["trust"] = own["trust"]
    with path.open("w") as handle:
        yaml.dump(suite, handle)


def deploy(lab: RunningLab) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    result = souverain("-C", str(lab.directory), "deploy", "--json", timeout=3600)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        journals = lab.journals_of(result.stdout)
        pytest.fail(f"deploy failed:\n{result.stdout[-4000:]}\n{result.stderr}\n{journals}")
    return json.loads(result.stdout), elapsed


@pytest.fixture(scope="module")
def split(start_lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    souverain("lab", "down", "--name", LAB)
    lab = start_lab(LAB, tmp_path_factory.mktemp("split") / f"lab-{LAB}", 4)
    try:
        write_readme_suite(lab)
        valid = souverain("-C", str(lab.directory), "validate")
        assert valid.returncode == 0, valid.stdout + valid.stderr
        _, elapsed = deploy(lab)
        print(f"split: first deploy {elapsed:.0f} s")
        yield lab
    finally:
        souverain("lab", "down", "--name", LAB)


def address_of(lab: RunningLab, name: str) -> str:
    return lab.hosts[README_HOSTS.index(name)][1]


def host_vars(lab: RunningLab, name: str) -> dict[str, Any]:
    path = lab.directory / "build" / "inventory" / "host_vars" / name / "souverain.json"
    return json.loads(path.read_text())


def on(lab: RunningLab, name: str, command: str, timeout: float = 120):
    return lab.ssh(lab.hosts[README_HOSTS.index(name)][0], command, timeout=timeout)


# ---- the deployment --------------------------------------------------------------------


def test_verify_is_green_on_every_host(split: RunningLab):
    result = souverain("-C", str(split.directory), "verify", "--json", timeout=1200)
    report = json.loads(result.stdout)
    failed = [entry for entry in report["results"] if entry["result"] != "passed"]
    # Jitsi and Nextcloud cannot be installed on this network: verify lists them as the
    # deployment's declared skips, not as failures.
    assert result.returncode == 0, json.dumps(failed, indent=1)[-6000:]
    components = {entry["component"] for entry in report["results"]}
    assert {"base", "pki", "proxy", "web", "postgresql", "directory", "sso", "mail", "chat"} <= (
        components
    )


def test_redeploy_changes_nothing(split: RunningLab):
    summary, elapsed = deploy(split)
    print(f"split: no-op re-deploy {elapsed:.0f} s")
    changed = {host: counts["changed"] for host, counts in summary["hosts"].items()}
    assert changed == dict.fromkeys(README_HOSTS, 0), summary


# ---- real clients through the front ------------------------------------------------------


@pytest.fixture(scope="module")
def people(split: RunningLab) -> dict[str, str]:
    info = tenant_info(split)
    passwords = {}
    for uid in ("ada", "noel"):
        souverain("-C", str(split.directory), "user", "remove", "--tenant", info["id"], uid)
        result = souverain(
            "-C", str(split.directory), "user", "add", "--tenant", info["id"], uid,
            "--given-name", uid.capitalize(), "--surname", "Split",
            "--email", f"{uid}@{info['domain']}", "--generate", "--json",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        passwords[uid] = json.loads(result.stdout)["password"]
    return passwords


def test_web_names_are_received_by_the_front(split: RunningLab):
    info = tenant_info(split)
    assert info["address"] == address_of(split, "front")


def test_oidc_login_on_the_front_ends_in_synapse_on_apps(split: RunningLab, people):
    info = tenant_info(split)
    token = sso_login_token(split, info, "ada", people["ada"])

    async def sign_in() -> str:
        async with Matrix(split, info, "ada") as client:
            return await token_login(client, token)

    assert asyncio.run(sign_in()) == f"@ada:{info['domain']}"


def test_matrix_room_and_message_through_the_front(split: RunningLab, people):
    from nio import RoomCreateResponse, RoomMessagesResponse, RoomSendResponse

    info = tenant_info(split)
    text = f"split layout {time.time_ns()}"

    async def talk() -> list[str]:
        async with Matrix(split, info, "noel") as client:
            await login(client, people["noel"])
            room = await client.room_create(name="split")
            assert isinstance(room, RoomCreateResponse), room
            sent = await client.room_send(
                room.room_id, "m.room.message", {"msgtype": "m.text", "body": text}
            )
            assert isinstance(sent, RoomSendResponse), sent
            messages = await client.room_messages(room.room_id, start="", limit=20)
            assert isinstance(messages, RoomMessagesResponse), messages
            return [getattr(event, "body", "") for event in messages.chunk]

    assert text in asyncio.run(talk())


def test_webmail_of_the_mail_host_answers_through_the_front(split: RunningLab):
    endpoints = Endpoints(split)
    assert endpoints.webmail_address == address_of(split, "front")
    portal = Portal(endpoints.webmail_name, endpoints.webmail_address, Path(endpoints.ca_file))
    page = portal.client.get(portal.url("/"))
    assert page.status_code == 200, page.text[:500]
    assert "roundcube" in page.text.lower()
    assert page.headers["strict-transport-security"].startswith("max-age=")


def test_mail_submission_and_imaps_on_the_mail_host_signed_with_dkim(split: RunningLab, people):
    endpoints = Endpoints(split)
    assert endpoints.mail_address == address_of(split, "mail")
    sender, recipient = f"ada@{endpoints.domain}", f"noel@{endpoints.domain}"
    message = EmailMessage()
    message["From"], message["To"] = sender, recipient
    message["Subject"] = "split layout"
    message["Message-ID"] = make_msgid(domain=endpoints.domain)
    message.set_content("Bonjour depuis l'hôte de messagerie.\n")
    client = smtp(endpoints, 587)
    client.starttls(context=endpoints.tls)
    client.ehlo("client.lab.test")
    client.login(sender, people["ada"])
    client.send_message(message)
    client.quit()
    deadline = time.monotonic() + 90
    raw = b""
    while not raw:
        reader = imaps(endpoints)
        try:
            reader.login(recipient, people["noel"])
            reader.select("INBOX", readonly=True)
            _, found = reader.search(None, "HEADER", "Message-ID", message["Message-ID"])
            if found[0]:
                _, data = reader.fetch(found[0].split()[-1], "(RFC822)")
                raw = data[0][1]
        finally:
            reader.logout()
        assert raw or time.monotonic() < deadline, "the message never reached the INBOX"
        if not raw:
            time.sleep(2)
    assert b"DKIM-Signature:" in raw
    assert f"d={endpoints.domain}".encode() in raw


# ---- the network between the hosts ------------------------------------------------------


def allowed(lab: RunningLab, target: str, source: str) -> set[int]:
    """The TCP ports the firewall of ``target`` opens to ``source``, from its host variables."""
    variables = host_vars(lab, target)
    source_address = ipaddress.ip_address(address_of(lab, source))
    admin = [ipaddress.ip_network(n) for n in variables["base_admin_networks"]]
    ports = set()
    for opening in variables["base_firewall_openings"]:
        if opening["proto"] != "tcp":
            continue
        origin = opening["from"]
        if (
            origin in ("any", "suite")
            or (origin == "admin" and any(source_address in network for network in admin))
            or str(source_address) in opening.get("sources", ())
        ):
            ports.add(opening["port"])
    return ports


def test_each_host_reaches_only_what_the_model_opens_to_it(split: RunningLab):
    expected_open = {
        # The web services of apps and mail, for the front only.
        ("front", "apps", 8443): True,
        ("front", "mail", 8443): True,
        ("mail", "apps", 8443): False,
        ("data", "mail", 8443): False,
        # PostgreSQL for chat's host; LDAPS for its readers' hosts.
        ("apps", "data", 5432): True,
        ("mail", "data", 5432): False,
        ("front", "data", 5432): False,
        ("mail", "front", 636): True,
        ("apps", "front", 636): True,
        # Host-local services are reached by nobody else.
        ("apps", "front", 389): False,
        ("front", "apps", 6379): False,
        ("front", "apps", 8008): False,
        ("front", "mail", 11334): False,
    }
    problems = []
    for source in README_HOSTS:
        targets = [
            [address_of(split, target), port]
            for target in README_HOSTS
            if target != source
            for port in SCANNED
        ]
        result = on(split, source, f"python3 -c {shlex.quote(SCAN)} "
                    f"{shlex.quote(json.dumps(targets))}")  # fmt: skip
        assert result.returncode == 0, result.stderr
        reached = {(a, p) for a, p in json.loads(result.stdout)}
        for target in README_HOSTS:
            if target == source:
                continue
            opened = allowed(split, target, source)
            for port in SCANNED:
                got = (address_of(split, target), port) in reached
                if got and port not in opened:
                    problems.append(f"{source} reaches {target}:{port}, which is not opened to it")
                want = expected_open.get((source, target, port))
                if want is not None and got != want:
                    problems.append(f"{source} -> {target}:{port}: reached={got}, expected {want}")
    assert not problems, "\n".join(problems)


# A client speaking clear text to each cross-host listener, from a host allowed to reach it:
# prints what the listener answered (or how the connection ended).
CLEAR = r"""
import socket, struct, sys
address, port, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((address, port), timeout=10)
if kind == "http":
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
elif kind == "postgres":
    body = struct.pack("!I", 196608) + b"user\x00synapse\x00database\x00postgres\x00\x00"
    s.sendall(struct.pack("!I", len(body) + 4) + body)
elif kind == "ldap":
    # An anonymous simple bind (LDAPv3), in clear.
    s.sendall(bytes.fromhex("300c020101600702010304008000"))
data = b""
try:
    while len(data) < 4096:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except OSError as error:
    print("error", type(error).__name__)
print(repr(data[:400]))
"""


def clear_text(lab: RunningLab, source: str, target: str, port: int, kind: str) -> str:
    command = f"python3 -c {shlex.quote(CLEAR)} {address_of(lab, target)} {port} {kind}"
    result = on(lab, source, command)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_no_plain_text_crosses_hosts(split: RunningLab):
    # nginx on the backend port: TLS only, a clear request is answered 400.
    for target in ("apps", "mail"):
        answer = clear_text(split, "front", target, 8443, "http")
        assert "400" in answer and "plain HTTP request was sent to HTTPS port" in answer, answer
    # PostgreSQL: no pg_hba line accepts a connection without TLS.
    answer = clear_text(split, "apps", "data", 5432, "postgres")
    assert "no encryption" in answer, answer
    # LDAPS: a clear bind gets no LDAP answer (a TLS alert or a closed connection).
    answer = clear_text(split, "mail", "front", 636, "ldap")
    assert "0\\x0c\\x02\\x01\\x01a" not in answer and "\\x30\\x0c" not in answer, answer
