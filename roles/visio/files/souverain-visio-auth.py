#!/usr/bin/python3
"""souverain-visio-auth: sign in to Jitsi Meet through the tenant's SSO portal.

Jitsi sends a visitor who must sign in to /_souverain/login?room=R (config.js
tokenAuthUrl). This service answers on the loopback, behind the proxy:

  GET /<tenant>/login?room=R     -> the portal's OpenID Connect authorization endpoint
  GET /<tenant>/callback?code&state
                                  -> the code is exchanged at the portal's token endpoint
                                     (client "visio", its secret), then the browser goes to
                                     https://visio.<domain>/R?jwt=<token for Prosody>

The ID token is read from the token endpoint's answer over TLS checked against the suite's
CA (OpenID Connect Core 3.1.3.7: its signature need not be checked then). The Jitsi token
is HS256 with the secret Prosody holds; sub is the tenant, so Prosody lets the user into
that tenant's rooms only. Standard library only; configuration from the systemd
credential auth.json.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import socket
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

ROOM = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
STATE_LIFETIME = 600
TOKEN_LIFETIME = 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_config() -> dict:
    directory = os.environ.get("CREDENTIALS_DIRECTORY", "/etc/souverain/visio")
    with open(os.path.join(directory, "auth.json"), encoding="utf-8") as stream:
        return json.load(stream)


CONFIG = load_config()
STATE_KEY = hashlib.sha256(b"state:" + CONFIG["jwt_secret"].encode()).digest()


def sign_state(payload: dict) -> str:
    body = b64url(json.dumps(payload, separators=(",", ":")).encode())
    mac = hmac.new(STATE_KEY, body.encode(), hashlib.sha256).digest()
    return f"{body}.{b64url(mac)}"


def read_state(state: str) -> dict | None:
    body, _, mac = state.partition(".")
    expected = b64url(hmac.new(STATE_KEY, body.encode(), hashlib.sha256).digest())
    if not mac or not hmac.compare_digest(mac, expected):
        return None
    payload = json.loads(b64url_decode(body))
    return payload if payload.get("exp", 0) > time.time() else None


def jitsi_token(tenant: str, claims: dict) -> str:
    now = int(time.time())
    payload = {
        "iss": CONFIG["app_id"],
        "aud": CONFIG["app_id"],
        "sub": tenant,
        "room": "*",
        "iat": now,
        "nbf": now - 30,
        "exp": now + TOKEN_LIFETIME,
        "context": {
            "user": {
                "id": str(claims.get("sub", "")),
                "name": str(claims.get("name") or claims.get("preferred_username") or ""),
                "email": str(claims.get("email", "")),
            }
        },
    }
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(payload, separators=(",", ":")).encode())
    )
    mac = hmac.new(CONFIG["jwt_secret"].encode(), signing_input.encode(), hashlib.sha256)
    return f"{signing_input}.{b64url(mac.digest())}"


def token_request(tenant: dict, code: str) -> dict:
    """POST the code to the portal's token endpoint, through the proxy, over verified TLS."""
    issuer = urlsplit(tenant["issuer"])
    body = urlencode(
        {"grant_type": "authorization_code", "code": code, "redirect_uri": tenant["redirect_uri"]}
    ).encode()
    basic = base64.b64encode(f"{tenant['client_id']}:{tenant['client_secret']}".encode()).decode()
    request = (
        f"POST /oauth2/token HTTP/1.1\r\nHost: {issuer.hostname}\r\n"
        f"Authorization: Basic {basic}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    ).encode() + body
    context = ssl.create_default_context(cafile=CONFIG["ca_file"])
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    raw = socket.create_connection((CONFIG["proxy_address"], 443), timeout=10)
    with context.wrap_socket(raw, server_hostname=issuer.hostname) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    head, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    if status != b"200":
        raise ValueError(f"token endpoint answered {status.decode()}")
    if b"transfer-encoding: chunked" in head.lower():
        payload = dechunk(payload)
    return json.loads(payload)


def dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return out


def id_token_claims(tenant: dict, answer: dict) -> dict:
    parts = str(answer.get("id_token", "")).split(".")
    if len(parts) != 3:
        raise ValueError("no ID token in the token endpoint's answer")
    claims = json.loads(b64url_decode(parts[1]))
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if claims.get("iss") != tenant["issuer"] or tenant["client_id"] not in audiences:
        raise ValueError("ID token for another issuer or client")
    if claims.get("exp", 0) < time.time():
        raise ValueError("ID token expired")
    return claims


class Handler(BaseHTTPRequestHandler):
    server_version = "souverain-visio-auth"
    sys_version = ""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")
        tenant = CONFIG["tenants"].get(parts[0]) if len(parts) == 2 else None
        if tenant is None:
            return self.answer(404, "unknown tenant")
        try:
            if parts[1] == "login":
                return self.login(parts[0], tenant, query)
            if parts[1] == "callback":
                return self.callback(parts[0], tenant, query)
        except (ValueError, OSError, KeyError) as error:
            self.log_message("sign-in failed for tenant %s: %s", parts[0], error)
            return self.answer(502, "sign-in failed; try again")
        return self.answer(404, "not found")

    def login(self, tenant_id: str, tenant: dict, query: dict) -> None:
        room = query.get("room", "")
        if room and not ROOM.match(room):
            return self.answer(400, "invalid room name")
        state = sign_state({"t": tenant_id, "r": room, "exp": int(time.time()) + STATE_LIFETIME})
        target = (
            tenant["issuer"]
            + "/oauth2/authorize?"
            + urlencode(
                {
                    "response_type": "code",
                    "client_id": tenant["client_id"],
                    "redirect_uri": tenant["redirect_uri"],
                    "scope": "openid profile email",
                    "state": state,
                }
            )
        )
        self.redirect(target)

    def callback(self, tenant_id: str, tenant: dict, query: dict) -> None:
        state = read_state(query.get("state", ""))
        if state is None or state.get("t") != tenant_id or "code" not in query:
            return self.answer(400, "invalid or expired sign-in; start again")
        claims = id_token_claims(tenant, token_request(tenant, query["code"]))
        token = jitsi_token(tenant_id, claims)
        self.redirect(f"{tenant['visio_url']}/{state['r']}?" + urlencode({"jwt": token}))

    def redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def answer(self, status: int, text: str) -> None:
        data = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args: object) -> None:
        # The query string carries codes and tokens: log the path only.
        if args and isinstance(args[0], str) and "?" in args[0]:
            args = (args[0].split("?", 1)[0], *args[1:])
        sys.stderr.write("%s\n" % (fmt % args))


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(CONFIG["port"])), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
