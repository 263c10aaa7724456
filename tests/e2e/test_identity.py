"""Identity on a lab host: directory + SSO deployed, people added, LDAPS binds, OIDC logins.

The lab host has no DNS entry for auth.<domain>: requests go to the proxy's address with the
portal's name as TLS SNI and Host header (cookies kept by hand, since a client's jar files
them under the address). Nothing on this machine is edited.
"""

from __future__ import annotations

import base64
import json
import ssl
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from cryptography.exceptions import InvalidSignature

from tests.e2e.conftest import (
    RunningLab,
    changed_count,
    known_deployed,
    run_playbooks,
    souverain,
)

pytestmark = pytest.mark.lab

PLAYBOOKS = ("base", "pki", "proxy", "directory", "sso")


@pytest.fixture(scope="module")
def identity(lab_session: RunningLab) -> RunningLab:
    """The session lab with the directory and SSO deployed (known when an earlier module
    deployed the whole suite)."""
    if known_deployed(lab_session):
        return lab_session
    rendered = souverain("-C", str(lab_session.directory), "render")
    assert rendered.returncode == 0, rendered.stderr
    first, seconds = run_playbooks(lab_session.directory, *PLAYBOOKS)
    assert first.returncode == 0, first.stdout[-4000:]
    print(f"identity: first deploy {seconds:.0f} s")
    return lab_session


def suite_info(lab: RunningLab) -> dict:
    result = souverain("-C", str(lab.directory), "info", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def portal_name(lab: RunningLab) -> tuple[str, str, str]:
    """(tenant id, portal name, proxy address) of the lab's first tenant."""
    tenant = suite_info(lab)["tenants"][0]
    portal = next(s for s in tenant["services"] if s["component"] == "sso")
    return tenant["id"], portal["fqdn"], portal["address"]


def test_redeploy_changes_nothing(identity: RunningLab):
    again, seconds = run_playbooks(identity.directory, "directory", "sso")
    assert again.returncode == 0, again.stdout[-4000:]
    print(f"identity: re-deploy {seconds:.0f} s")
    assert changed_count(again.stdout) == 0, again.stdout[-4000:]


def add_person(lab: RunningLab, tenant: str, uid: str, groups: list[str]) -> str:
    args = ["-C", str(lab.directory), "user", "add", "--tenant", tenant, uid,
            "--given-name", uid.capitalize(), "--surname", "Lab",
            "--email", f"{uid}@example.org", "--generate", "--json"]  # fmt: skip
    for group in groups:
        args += ["--group", group]
    result = souverain(*args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["password"]


@pytest.fixture(scope="module")
def people(identity: RunningLab) -> dict[str, str]:
    tenant, _, _ = portal_name(identity)
    souverain("-C", str(identity.directory), "user", "remove", "--tenant", tenant, "ada")
    souverain("-C", str(identity.directory), "user", "remove", "--tenant", tenant, "root1")
    return {
        "ada": add_person(identity, tenant, "ada", ["staff"]),
        "root1": add_person(identity, tenant, "root1", ["admins"]),
    }


def ldap_server(lab: RunningLab):
    import ldap3

    host = lab.hosts[0][0]
    name = f"{host}.{suite_info(lab)['suite']}.internal"
    tls = ldap3.Tls(
        validate=ssl.CERT_REQUIRED,
        ca_certs_file=str(lab.directory / "pki" / "ca.crt"),
        valid_names=[name],
    )
    return ldap3.Server(lab.hosts[0][1], port=636, use_ssl=True, tls=tls, connect_timeout=10)


def test_people_bind_over_ldaps_and_anonymous_sees_nothing(identity, people):
    import ldap3

    tenant, _, _ = portal_name(identity)
    listed = souverain("-C", str(identity.directory), "user", "list", "--tenant", tenant, "--json")
    assert {p["uid"] for p in json.loads(listed.stdout)["people"]} >= {"ada", "root1"}
    server = ldap_server(identity)
    anonymous = ldap3.Connection(server)
    anonymous.bind()
    anonymous.search("", "(objectClass=*)", search_scope=ldap3.BASE,
                     attributes=["namingContexts"])  # fmt: skip
    suffix = str(anonymous.entries[0].namingContexts)
    for uid, password in people.items():
        connection = ldap3.Connection(server, f"uid={uid},ou=people,ou={tenant},{suffix}", password)
        assert connection.bind(), connection.result
        connection.unbind()
    anonymous = ldap3.Connection(server)
    anonymous.bind()
    found = anonymous.search(f"ou=people,ou={tenant},{suffix}", "(uid=*)")
    assert not found and not anonymous.entries


class Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "form":
            self.forms.append({"action": values.get("action") or "", "fields": {}})
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1]["fields"][values["name"]] = values.get("value") or ""


class Portal:
    """An httpx client that reaches `name` at `address` (SNI and Host), keeping cookies."""

    def __init__(self, name: str, address: str, ca: Path) -> None:
        import httpx

        self.name = name
        self.cookies: dict[str, str] = {}

        def route(request):
            request.url = request.url.copy_with(host=address)
            request.headers["Host"] = name
            request.extensions["sni_hostname"] = name
            if self.cookies:
                request.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())

        def keep(response):
            for header in response.headers.get_list("set-cookie"):
                for key, morsel in SimpleCookie(header).items():
                    self.cookies[key] = morsel.value

        self.client = httpx.Client(
            verify=ssl.create_default_context(cafile=str(ca)),
            event_hooks={"request": [route], "response": [keep]},
            timeout=30,
        )

    def url(self, path: str) -> str:
        return f"https://{self.name}{path}"

    def login(self, client_id: str, redirect: str, user: str, password: str):
        """Authorization-code flow up to the redirect; returns (code or None, last response)."""
        query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect,
                 "scope": "openid profile email", "state": "st", "nonce": "nc"}  # fmt: skip
        response = self.client.get(self.url("/oauth2/authorize?" + urlencode(query)))
        assert response.status_code == 200
        parser = Forms()
        parser.feed(response.text)
        form = next(f for f in parser.forms if "password" in f["fields"])
        fields = dict(form["fields"], user=user, password=password)
        response = self.client.post(self.url("/"), data=fields)
        for _ in range(5):
            location = response.headers.get("location")
            if not location or location.startswith(redirect):
                break
            response = self.client.get(location)
        location = response.headers.get("location") or ""
        if not location.startswith(redirect):
            return None, response
        return parse_qs(urlparse(location).query)["code"][0], response


def secret(lab: RunningLab, name: str) -> str:
    from souverain.deployment import Deployment
    from souverain.secrets import SecretStore

    return SecretStore.open(Deployment.at(lab.directory)).get(name)


def chat_redirect(lab: RunningLab) -> str:
    tenant = suite_info(lab)["tenants"][0]
    homeserver = next(s for s in tenant["services"] if s["role"] == "homeserver")
    return f"https://{homeserver['fqdn']}/_synapse/client/oidc/callback"


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verified_claims(portal: Portal, name: str, id_token: str) -> dict:
    """The ID token's claims once its RS256 signature checks against the portal's JWKS key
    (raises InvalidSignature otherwise)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    document = portal.client.get(portal.url("/.well-known/openid-configuration")).json()
    keys = portal.client.get(document["jwks_uri"].replace(f"https://{name}", portal.url("")))
    head, body, signature = id_token.split(".")
    header = json.loads(b64url(head))
    assert header["alg"] == "RS256", header
    candidates = [k for k in keys.json()["keys"] if k["kty"] == "RSA"
                  and header.get("kid") in (None, k.get("kid"))]  # fmt: skip
    assert candidates, (header, keys.text)
    jwk = candidates[0]
    public = rsa.RSAPublicNumbers(
        int.from_bytes(b64url(jwk["e"]), "big"), int.from_bytes(b64url(jwk["n"]), "big")
    ).public_key()
    public.verify(b64url(signature), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return json.loads(b64url(body))


def test_oidc_discovery_is_served_over_tls(identity):
    _, name, address = portal_name(identity)
    portal = Portal(name, address, identity.directory / "pki" / "ca.crt")
    response = portal.client.get(portal.url("/.well-known/openid-configuration"))
    assert response.status_code == 200
    document = response.json()
    assert document["issuer"] == f"https://{name}"
    assert document["token_endpoint"] == f"https://{name}/oauth2/token"
    keys = portal.client.get(document["jwks_uri"].replace(f"https://{name}", portal.url(""))).json()
    assert keys["keys"] and keys["keys"][0]["kty"] == "RSA"


def test_authorization_code_login_names_the_user(identity, people):
    tenant, name, address = portal_name(identity)
    portal = Portal(name, address, identity.directory / "pki" / "ca.crt")
    redirect = chat_redirect(identity)
    code, response = portal.login("chat", redirect, "ada", people["ada"])
    assert code, response.text[-2000:]
    token = portal.client.post(
        portal.url("/oauth2/token"),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect},
        auth=("chat", secret(identity, f"sso/{tenant}/chat")),
    )
    assert token.status_code == 200, token.text
    id_token = token.json()["id_token"]
    claims = verified_claims(portal, name, id_token)
    # The check can fail: the same token with one byte of its signature changed is refused.
    head, body, signature = id_token.split(".")
    tampered = bytearray(b64url(signature))
    tampered[0] ^= 0x01
    forged = ".".join([head, body, base64.urlsafe_b64encode(bytes(tampered)).decode().rstrip("=")])
    with pytest.raises(InvalidSignature):
        verified_claims(portal, name, forged)
    assert claims["sub"] == "ada"
    assert claims["preferred_username"] == "ada"
    assert claims["email"] == "ada@example.org"
    assert claims["aud"] in ("chat", ["chat"])
    assert claims["nonce"] == "nc"


def test_a_wrong_password_gets_no_code(identity, people):
    _, name, address = portal_name(identity)
    portal = Portal(name, address, identity.directory / "pki" / "ca.crt")
    code, _ = portal.login("chat", chat_redirect(identity), "ada", people["ada"] + "x")
    assert code is None


def test_an_admin_cannot_log_in_without_totp(identity, people):
    _, name, address = portal_name(identity)
    portal = Portal(name, address, identity.directory / "pki" / "ca.crt")
    code, response = portal.login("chat", chat_redirect(identity), "root1", people["root1"])
    assert code is None
    # The portal took the password and now requires a second factor to be registered: its
    # registration page, with TOTP offered (any page merely mentioning "totp" is not that).
    assert 'trspan="2fRegRequired"' in response.text, response.text[-2000:]
    assert 'href="/2fregisters/totp"' in response.text, response.text[-2000:]
    # The same admin with a wrong password never gets that far.
    fresh = Portal(name, address, identity.directory / "pki" / "ca.crt")
    code, refused = fresh.login("chat", chat_redirect(identity), "root1", people["root1"] + "x")
    assert code is None
    assert "2fRegRequired" not in refused.text


def test_lab_welcome_leaves_a_person_to_sign_in_as(identity):
    """What `make demo` ends with: a person 'demo' per tenant whose password is in a 0600 file
    and never on the screen, and a second run that changes nothing."""
    import ldap3

    tenant, portal, _ = portal_name(identity)
    souverain("-C", str(identity.directory), "user", "remove", "--tenant", tenant, "demo")
    first = souverain("-C", str(identity.directory), "lab", "welcome")
    assert first.returncode == 0, first.stdout + first.stderr
    path = identity.directory / "lab" / f"demo-{tenant}.password"
    password = path.read_text().strip()
    assert path.stat().st_mode & 0o777 == 0o600
    assert password not in first.stdout + first.stderr
    assert f"https://{portal}/" in first.stdout
    assert f"password in {identity.directory}/lab/demo-{tenant}.password" in first.stdout
    server = ldap_server(identity)
    anonymous = ldap3.Connection(server)
    anonymous.bind()
    anonymous.search("", "(objectClass=*)", search_scope=ldap3.BASE,
                     attributes=["namingContexts"])  # fmt: skip
    suffix = str(anonymous.entries[0].namingContexts)
    connection = ldap3.Connection(server, f"uid=demo,ou=people,ou={tenant},{suffix}", password)
    assert connection.bind(), connection.result
    again = souverain("-C", str(identity.directory), "lab", "welcome")
    assert again.returncode == 0, again.stderr
    assert "nothing changed" in again.stdout
    assert path.read_text().strip() == password
