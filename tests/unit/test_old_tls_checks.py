"""The proxy's and mail's "old TLS is refused" testinfra checks can fail.

Each check runs here, through testinfra's local backend and this machine's openssl, against
small TLS servers on the loopback: one that accepts TLS 1.0 and 1.1 (the check must report
it), one that accepts TLS 1.2 and later only (the check must pass). The mail checks talk to
an SMTP server with STARTTLS and to an implicit-TLS port, as Postfix and Dovecot do.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.util
import shutil
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from souverain.paths import ROLES_DIR

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is missing")


def role_tests(role: str) -> ModuleType:
    path = ROLES_DIR / role / "tests" / f"test_{role}.py"
    spec = importlib.util.spec_from_file_location(f"souverain_role_tests_{role}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return self_signed(tmp_path_factory.mktemp("tls") / "server.pem")


def self_signed(path: Path) -> Path:
    """A throwaway certificate and key for the loopback servers, in one PEM file."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fixture.invalid")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def server_context(certificate: Path, *, old: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate)
    if old:  # a badly configured server: TLS 1.0 and 1.1 too
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("ALL:@SECLEVEL=0")
    else:
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _smtp_until_starttls(conn: socket.socket) -> None:
    """Play an SMTP server up to the STARTTLS go-ahead."""
    reader = conn.makefile("rb")
    conn.sendall(b"220 fixture.invalid ESMTP\r\n")
    while line := reader.readline():
        command = line.strip().upper()
        if command.startswith((b"EHLO", b"HELO")):
            conn.sendall(b"250-fixture.invalid\r\n250 STARTTLS\r\n")
        elif command == b"STARTTLS":
            conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
            return
        else:
            conn.sendall(b"502 5.5.2 not here\r\n")
    raise ConnectionError("the client left before STARTTLS")


@contextlib.contextmanager
def tls_server(context: ssl.SSLContext, *, starttls: bool) -> Iterator[tuple[int, list[str]]]:
    """A loopback TLS server in a thread: its port, and the protocols it negotiated."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    negotiated: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(30)
                try:
                    if starttls:
                        _smtp_until_starttls(conn)
                    with context.wrap_socket(conn, server_side=True) as tls:
                        negotiated.append(str(tls.version()))
                except (OSError, ConnectionError):
                    continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], negotiated
    finally:
        stop.set()
        thread.join(timeout=10)
        listener.close()


@pytest.fixture(scope="module")
def local_host():
    testinfra = pytest.importorskip("testinfra")
    return testinfra.get_host("local://")


PROTOCOL = {"tls1": "TLSv1", "tls1_1": "TLSv1.1"}


@pytest.mark.parametrize("version", ["tls1", "tls1_1"])
def test_proxy_check_fails_against_a_server_accepting_old_tls(certificate, local_host, version):
    proxy = role_tests("proxy")
    with tls_server(server_context(certificate, old=True), starttls=False) as (port, seen):
        problem = proxy.old_tls_problem(local_host, "fixture.invalid", version, port)
    assert problem == f"fixture.invalid accepted {version} (negotiated {PROTOCOL[version]})"
    assert seen == [PROTOCOL[version]]  # the server saw the old handshake through


@pytest.mark.parametrize("version", ["tls1", "tls1_1"])
def test_proxy_check_passes_against_a_server_refusing_old_tls(certificate, local_host, version):
    proxy = role_tests("proxy")
    with tls_server(server_context(certificate, old=False), starttls=False) as (port, seen):
        assert proxy.old_tls_problem(local_host, "fixture.invalid", version, port) is None
    assert seen == []


def test_proxy_check_fails_when_nothing_answers(local_host):
    proxy = role_tests("proxy")
    with socket.create_server(("127.0.0.1", 0)) as spare:
        port = spare.getsockname()[1]
    problem = proxy.old_tls_problem(local_host, "fixture.invalid", "tls1_1", port)
    assert problem is not None and "nothing answered" in problem


@pytest.mark.parametrize("starttls", [True, False], ids=["smtp-starttls", "implicit"])
@pytest.mark.parametrize("version", ["tls1", "tls1_1"])
def test_mail_check_fails_against_a_server_accepting_old_tls(
    certificate, local_host, version, starttls
):
    mail = role_tests("mail")
    with tls_server(server_context(certificate, old=True), starttls=starttls) as (port, seen):
        problem = mail.tls_problem(local_host, port, version, starttls=starttls)
        assert mail.tls_problem(local_host, port, "tls1_2", starttls=starttls) is None
    assert problem == f"port {port} accepted {version} (negotiated {PROTOCOL[version]})"
    assert seen == [PROTOCOL[version], "TLSv1.2"]


@pytest.mark.parametrize("starttls", [True, False], ids=["smtp-starttls", "implicit"])
def test_mail_check_passes_against_a_server_refusing_old_tls(certificate, local_host, starttls):
    mail = role_tests("mail")
    with tls_server(server_context(certificate, old=False), starttls=starttls) as (port, seen):
        for version in ("tls1", "tls1_1", "tls1_2"):
            assert mail.tls_problem(local_host, port, version, starttls=starttls) is None
    assert seen == ["TLSv1.2"]
