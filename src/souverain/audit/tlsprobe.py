"""TLS on a port as a client sees it: versions accepted, suite negotiated, certificate verified.

Standard library only, and no import from souverain: the audit runs this file's source on the
host under audit (``python3 -c SOURCE JOB``), so that every port is probed the same way,
including those the firewall keeps to the suite's hosts and loopback-only listeners. The job is
a JSON document (address, endpoints, CA certificate); the result is one JSON document on
stdout. Judging the result is the controller's business (souverain.audit.tlsjudge).

One function per plain-text preamble that leads to the handshake (STARTTLS):

- SMTP (RFC 3207): greeting, EHLO, STARTTLS advertised, STARTTLS, 220.
- IMAP (RFC 9051): greeting, STARTTLS, tagged OK.
- LDAP (RFC 4511 §4.14): the StartTLS extended operation, resultCode success.
- PostgreSQL: the SSLRequest message, answered 'S'.
"""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import sys
import warnings

TIMEOUT = 5.0
VERSIONS = (
    ("TLSv1", "TLSv1"),
    ("TLSv1.1", "TLSv1_1"),
    ("TLSv1.2", "TLSv1_2"),
    ("TLSv1.3", "TLSv1_3"),
)
MAX_NAMES = 10  # certificate names verified per endpoint (one handshake each)


class NoTls(Exception):
    """The server did not agree to start TLS (the preamble failed)."""


# ---- STARTTLS preambles --------------------------------------------------------------------


def _read_line(sock: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise NoTls(f"connection closed after {data[:80]!r}")
        data += chunk
        if len(data) > 4096:
            raise NoTls("line too long")
    return data.decode("utf-8", "replace").rstrip("\r\n")


def _smtp_reply(sock: socket.socket) -> tuple[str, list[str]]:
    """A (possibly multi-line) SMTP reply: its code and its lines' text."""
    lines = []
    while True:
        line = _read_line(sock)
        lines.append(line[4:])
        if len(line) < 4 or line[3] != "-":
            return line[:3], lines


def starttls_smtp(sock: socket.socket, name: str) -> None:
    code, _ = _smtp_reply(sock)
    if code != "220":
        raise NoTls(f"greeting {code}")
    sock.sendall(b"EHLO souverain-audit.invalid\r\n")
    code, lines = _smtp_reply(sock)
    if code != "250":
        raise NoTls(f"EHLO answered {code}")
    if not any(line.upper().startswith("STARTTLS") for line in lines):
        raise NoTls("STARTTLS is not offered after EHLO")
    sock.sendall(b"STARTTLS\r\n")
    code, lines = _smtp_reply(sock)
    if code != "220":
        raise NoTls(f"STARTTLS answered {code} {' '.join(lines)}")


def starttls_imap(sock: socket.socket, name: str) -> None:
    greeting = _read_line(sock)
    if not greeting.upper().startswith("* OK"):
        raise NoTls(f"greeting {greeting[:80]!r}")
    sock.sendall(b"a1 STARTTLS\r\n")
    while True:
        line = _read_line(sock)
        if line.startswith("a1 "):
            if line[3:].upper().startswith("OK"):
                return
            raise NoTls(f"STARTTLS answered {line[:80]!r}")


def _ber_length(sock: socket.socket) -> int:
    first = sock.recv(1)
    if not first:
        raise NoTls("connection closed")
    if first[0] < 0x80:
        return first[0]
    size = first[0] & 0x7F
    raw = _recv_exact(sock, size)
    return int.from_bytes(raw, "big")


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise NoTls("connection closed")
        data += chunk
    return data


LDAP_STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"


def starttls_ldap(sock: socket.socket, name: str) -> None:
    # LDAPMessage { messageID 1, extendedReq [APPLICATION 23] { requestName [0] OID } }
    request = b"\x80" + bytes([len(LDAP_STARTTLS_OID)]) + LDAP_STARTTLS_OID
    operation = b"\x77" + bytes([len(request)]) + request
    body = b"\x02\x01\x01" + operation
    sock.sendall(b"\x30" + bytes([len(body)]) + body)
    if sock.recv(1) != b"\x30":
        raise NoTls("not an LDAP message")
    message = _recv_exact(sock, _ber_length(sock))
    # messageID (02 01 01), then extendedResp [APPLICATION 24] = 0x78, then its length,
    # then resultCode ENUMERATED (0a 01 code).
    at = message.find(b"\x78")
    if at < 0:
        raise NoTls("no extended response")
    rest = message[at + 1 :]
    skip = 1 if rest[0] < 0x80 else 1 + (rest[0] & 0x7F)
    result = rest[skip : skip + 3]
    if len(result) < 3 or result[0] != 0x0A:
        raise NoTls("unreadable extended response")
    if result[2] != 0:
        raise NoTls(f"StartTLS refused (LDAP resultCode {result[2]})")


def starttls_postgres(sock: socket.socket, name: str) -> None:
    # SSLRequest: length 8, then the code 1234 5679.
    sock.sendall((8).to_bytes(4, "big") + (80877103).to_bytes(4, "big"))
    answer = sock.recv(1)
    if answer != b"S":
        raise NoTls(f"SSLRequest answered {answer!r} (the server does not offer TLS)")


PREAMBLES = {
    "smtp": starttls_smtp,
    "imap": starttls_imap,
    "ldap": starttls_ldap,
    "postgres": starttls_postgres,
}


# ---- handshakes ----------------------------------------------------------------------------


def _context(version: str | None, cadata: str | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if version is None:  # verifying: the suite's CA (or the system's), and the name
        if cadata:
            context.load_verify_locations(cadata=cadata)
        else:
            context.load_default_certs()
        return context
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # offering TLS 1.0 and 1.1 is the point here
        warnings.simplefilter("ignore", DeprecationWarning)
        member = getattr(ssl.TLSVersion, dict(VERSIONS)[version])
        context.minimum_version = member
        context.maximum_version = member
    if version in ("TLSv1", "TLSv1.1"):
        # Let this client offer what the server must refuse.
        context.set_ciphers("ALL:@SECLEVEL=0")
    return context


def handshake(
    address: str,
    port: int,
    starttls: str | None,
    name: str,
    version: str | None,
    cadata: str | None = None,
    timeout: float = TIMEOUT,
) -> dict:
    """One connection: preamble, then a handshake offering ``version`` only (None: verify).

    outcome: accepted | refused | untested (this client cannot offer it) | unreachable |
    no_tls (the preamble failed) | unverified (the certificate failed verification).
    """
    try:
        context = _context(version, cadata)
    except (ssl.SSLError, ValueError, AttributeError) as error:
        return {"outcome": "untested", "detail": f"this client's OpenSSL cannot offer it ({error})"}
    try:
        raw = socket.create_connection((address, port), timeout=timeout)
    except OSError as error:
        return {"outcome": "unreachable", "detail": str(error)}
    with raw:
        try:
            if starttls:
                PREAMBLES[starttls](raw, name)
        except (NoTls, OSError) as error:
            return {"outcome": "no_tls", "detail": str(error)}
        try:
            with context.wrap_socket(raw, server_hostname=name) as tls:
                cipher = tls.cipher()
                found = {
                    "outcome": "accepted",
                    "protocol": tls.version(),
                    "cipher": cipher[0] if cipher else "",
                }
                if version == "TLSv1.2":  # the certificate, to show what was presented
                    der = tls.getpeercert(True)
                    found["certificate"] = ssl.DER_cert_to_PEM_cert(der) if der else ""
                return found
        except ssl.SSLCertVerificationError as error:
            return {"outcome": "unverified", "detail": error.verify_message or str(error)}
        except ssl.SSLError as error:
            text = str(error)
            if "NO_PROTOCOLS_AVAILABLE" in text or "NO_CIPHERS_AVAILABLE" in text:
                return {
                    "outcome": "untested",
                    "detail": f"this client's OpenSSL cannot offer it ({error.reason})",
                }
            return {"outcome": "refused", "detail": error.reason or text}
        except socket.timeout:  # noqa: UP041 (Python 3.9 hosts) coturn ignores old hellos
            return {"outcome": "refused", "detail": f"no answer within {timeout:g} s"}
        except OSError as error:  # reset or closed during the handshake: refused too
            return {"outcome": "refused", "detail": str(error) or type(error).__name__}


def probe_endpoint(address: str, endpoint: dict, cadata: str | None, timeout: float) -> dict:
    port, starttls = int(endpoint["port"]), endpoint.get("starttls")
    names = list(endpoint["names"])
    sni = names[0]
    result: dict = {"port": port, "starttls": starttls, "address": address, "versions": {}}
    for version, _ in VERSIONS:
        outcome = handshake(address, port, starttls, sni, version, timeout=timeout)
        if outcome["outcome"] in ("unreachable", "no_tls") and version == "TLSv1":
            # Nothing to learn from the other versions; say why once.
            result["error"] = outcome
            return result
        result["versions"][version] = outcome
    result["names_total"] = len(names)
    result["certificates"] = {
        name: handshake(address, port, starttls, name, None, cadata, timeout)
        for name in names[:MAX_NAMES]
    }
    return result


def main(argv: list[str]) -> int:
    job = json.loads(argv[1])
    timeout = float(job.get("timeout", TIMEOUT))
    started = datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 (Python 3.9 hosts)
    results = [
        probe_endpoint(
            "127.0.0.1" if endpoint.get("loopback") else job["address"],
            endpoint,
            job.get("ca"),
            timeout,
        )
        for endpoint in job["endpoints"]
    ]
    print(
        json.dumps(
            {
                "openssl": ssl.OPENSSL_VERSION,
                "python": sys.version.split()[0],
                "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "endpoints": results,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
