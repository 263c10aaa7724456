"""The internal CA: a verifiable chain, ANSSI-grade keys, renewal only when due."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store

from souverain import vault
from souverain.deployment import Deployment
from souverain.errors import SecretsError
from souverain.pki import Pki

PASSWORD = b"pki-test-password"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NAMES = ["chat.acme.example", "matrix.acme.example"]


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    return Deployment.at(tmp_path)


@pytest.fixture
def pki(deployment: Deployment) -> Pki:
    return Pki.load_or_create(deployment, PASSWORD, "Mairie d'Exemple", now=NOW)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def load(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def test_chain_verifies_for_every_name(pki: Pki):
    issued = pki.ensure_certificate("chat", NAMES, now=NOW)
    leaf = load(issued.cert_pem)
    leaf.verify_directly_issued_by(pki.ca_certificate)
    for name in NAMES:
        verifier = (
            PolicyBuilder()
            .store(Store([pki.ca_certificate]))
            .time(NOW + timedelta(days=1))
            .build_server_verifier(x509.DNSName(name))
        )
        chain = verifier.verify(leaf, [])
        assert chain[-1] == pki.ca_certificate
    assert issued.fullchain_pem == issued.cert_pem + pki.ca_pem


def test_key_types_and_extensions(pki: Pki):
    ca = pki.ca_certificate
    ca_key = ca.public_key()
    assert isinstance(ca_key, ec.EllipticCurvePublicKey) and ca_key.curve.name == "secp384r1"
    assert isinstance(ca.signature_hash_algorithm, hashes.SHA384)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert ca.not_valid_after_utc - ca.not_valid_before_utc == timedelta(days=3650)

    issued = pki.ensure_certificate("chat", NAMES, now=NOW)
    leaf = load(issued.cert_pem)
    key = serialization.load_pem_private_key(issued.key_pem, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert key.public_key() == leaf.public_key()
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == timedelta(days=397)
    assert leaf.not_valid_before_utc <= NOW
    ext = leaf.extensions
    assert ext.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH]
    )
    usage = ext.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert not ext.get_extension_for_class(x509.BasicConstraints).value.ca
    san = ext.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == NAMES
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest


def test_files_modes_and_encryption(deployment: Deployment, pki: Pki):
    issued = pki.ensure_certificate("chat", NAMES, now=NOW)
    directory = deployment.pki_dir
    assert deployment.ca_certificate.read_bytes() == pki.ca_pem
    assert mode(directory / "ca.crt") == 0o644
    assert mode(issued.cert_path) == 0o644
    for key_file in (directory / "ca.key", issued.key_path):
        assert mode(key_file) == 0o600
        raw = key_file.read_bytes()
        assert vault.is_encrypted(raw) and b"PRIVATE KEY" not in raw
        assert b"PRIVATE KEY" in vault.read_file(key_file, PASSWORD)
    assert mode(issued.key_path.parent) == 0o700
    assert issued.key_path == directory / "keys" / "chat.key"
    assert issued.cert_path == directory / "certs" / "chat.crt"


def test_stable_across_runs(deployment: Deployment, pki: Pki):
    first = pki.ensure_certificate("chat", NAMES, now=NOW)
    files = {p: p.read_bytes() for p in deployment.pki_dir.rglob("*") if p.is_file()}

    later = NOW + timedelta(days=300)
    reopened = Pki.load_or_create(deployment, PASSWORD, "Another name", now=later)
    assert reopened.ca_pem == pki.ca_pem and not reopened.created
    again = reopened.ensure_certificate("chat", list(reversed(NAMES)), now=later)
    assert not again.renewed
    assert again.cert_pem == first.cert_pem
    assert again.key_pem == first.key_pem
    assert {p: p.read_bytes() for p in deployment.pki_dir.rglob("*") if p.is_file()} == files


def test_renewed_when_names_change(pki: Pki):
    first = pki.ensure_certificate("chat", NAMES, now=NOW)
    first_key = first.key_pem
    second = pki.ensure_certificate("chat", [*NAMES, "element.acme.example"], now=NOW)
    assert second.renewed and second.cert_pem != first.cert_pem
    assert second.key_pem != first_key

    assert "element.acme.example" in load(second.cert_pem).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName)


def test_stale_issued_refuses_to_hand_out_the_new_key(pki: Pki):
    pki.ensure_certificate("chat", NAMES, now=NOW)
    stale = pki.ensure_certificate("chat", NAMES, now=NOW)
    assert not stale.renewed
    pki.ensure_certificate("chat", ["other.acme.example"], now=NOW)
    with pytest.raises(SecretsError, match="no longer holds the key"):
        _ = stale.key_pem


def test_renewed_near_expiry(pki: Pki):
    first = pki.ensure_certificate("chat", NAMES, now=NOW)
    expires = first.not_after
    still_fine = pki.ensure_certificate("chat", NAMES, now=expires - timedelta(days=31))
    assert not still_fine.renewed
    due = pki.ensure_certificate("chat", NAMES, now=expires - timedelta(days=29))
    assert due.renewed and due.not_after > expires


def test_renewed_when_issued_by_another_ca(tmp_path: Path, deployment: Deployment, pki: Pki):
    pki.ensure_certificate("chat", NAMES, now=NOW)
    other = Pki.load_or_create(Deployment.at(tmp_path / "other"), PASSWORD, "Other", now=NOW)
    foreign = other.ensure_certificate("chat", NAMES, now=NOW)
    (deployment.pki_dir / "certs" / "chat.crt").write_bytes(foreign.cert_pem)
    assert pki.ensure_certificate("chat", NAMES, now=NOW).renewed


def test_interrupted_issuance_is_redone(deployment: Deployment, pki: Pki):
    first = pki.ensure_certificate("chat", NAMES, now=NOW)
    (deployment.pki_dir / "keys" / "chat.key.new").write_bytes(b"left over")
    again = pki.ensure_certificate("chat", NAMES, now=NOW)
    assert again.renewed and again.cert_pem != first.cert_pem
    assert not (deployment.pki_dir / "keys" / "chat.key.new").exists()
    key = serialization.load_pem_private_key(again.key_pem, None)
    assert key.public_key() == load(again.cert_pem).public_key()


def test_wrong_password_cannot_issue(deployment: Deployment, pki: Pki):
    reopened = Pki.load_or_create(deployment, b"wrong", "Mairie d'Exemple", now=NOW)
    with pytest.raises(SecretsError, match="does not open"):
        reopened.ensure_certificate("chat", NAMES, now=NOW)


def test_incomplete_ca_refused(deployment: Deployment, pki: Pki):
    (deployment.pki_dir / "ca.key").unlink()
    with pytest.raises(SecretsError, match="incomplete"):
        Pki.load_or_create(deployment, PASSWORD, "Mairie d'Exemple", now=NOW)


def test_expired_ca_refused(deployment: Deployment, pki: Pki):
    with pytest.raises(SecretsError, match="expired"):
        Pki.load_or_create(deployment, PASSWORD, "x", now=NOW + timedelta(days=3651))


@pytest.mark.parametrize("name", ["", "../ca", "a/b", "Chat", ".hidden", "a..b", "x" * 65])
def test_certificate_names_must_be_safe_file_names(pki: Pki, name):
    with pytest.raises(ValueError, match="invalid certificate name"):
        pki.ensure_certificate(name, NAMES, now=NOW)


@pytest.mark.parametrize("dns", ["bad_name.example", "-a.example", "a" * 64 + ".example", "*"])
def test_dns_names_validated(pki: Pki, dns):
    with pytest.raises(ValueError, match="invalid DNS name"):
        pki.ensure_certificate("chat", [dns], now=NOW)


def test_dns_names_normalised(pki: Pki):
    issued = pki.ensure_certificate("wild", ["*.Acme.Example.", "acme.example", "ACME.example"])
    assert issued.dns_names == ("*.acme.example", "acme.example")


def test_naive_now_refused(pki: Pki):
    with pytest.raises(ValueError, match="timezone-aware"):
        pki.ensure_certificate("chat", NAMES, now=datetime(2026, 1, 1))
