"""The suite's internal certificate authority, for on-premises suites and the lab.

Layout under ``deployment.pki_dir``::

    ca.crt              the CA certificate, PEM, 0644: what hosts and users trust
    ca.key              the CA key, ansible-vault encrypted, 0600
    certs/<name>.crt    one server certificate per name, PEM, 0644
    keys/<name>.key     its key, ansible-vault encrypted, 0600 (directory 0700)

Keys follow ANSSI's recommendations (RGS annex B1): ECDSA P-384 for the CA (10 years), ECDSA
P-256 for servers (397 days, the CA/Browser Forum ceiling), SHA-384 signatures. A server
certificate is reissued, with a new key, when fewer than 30 days remain, when the set of names
asked for changes, or when it was not issued by the current CA; otherwise the files on disk
are returned untouched, so ``render`` is byte-identical from run to run.

Issuance writes ``keys/<name>.key.new``, then the certificate, then renames the key into place;
a run interrupted in between leaves the ``.new`` file behind, and the next run reissues.

Not yet: ACME (public hosts, with a configurable directory URL) will issue through the same
``ensure_certificate`` contract; IP address SANs; name constraints on the CA; CA rollover.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from souverain import vault
from souverain.deployment import Deployment
from souverain.errors import SecretsError
from souverain.fsutil import atomic_write

CA_VALIDITY = timedelta(days=3650)
CERT_VALIDITY = timedelta(days=397)
RENEW_BEFORE = timedelta(days=30)
BACKDATE = timedelta(hours=1)  # tolerate clocks a little behind the controller's
CA_CURVE = ec.SECP384R1
SERVER_CURVE = ec.SECP256R1
SIGNATURE_HASH = hashes.SHA384

_CERT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_RESTORE_HINT = "Restore the pki directory from backup; hosts already trust the existing CA."


def validate_certificate_name(name: str) -> str:
    """A certificate name doubles as a file name: lowercase a-z 0-9 . _ -, no leading dot."""
    if not _CERT_NAME.fullmatch(name) or ".." in name:
        raise ValueError(
            f"invalid certificate name {name!r}: use 1-64 characters a-z 0-9 . _ -, "
            "starting with a letter or digit"
        )
    return name


def normalise_dns_names(dns_names: Iterable[str]) -> tuple[str, ...]:
    """Lowercased, duplicate-free names, in the order given; a leading ``*.`` is allowed."""
    names: list[str] = []
    for raw in dns_names:
        name = raw.strip().lower().rstrip(".")
        labels = name.split(".")
        if labels[0] == "*" and len(labels) > 2:
            labels = labels[1:]
        if len(name) > 253 or not all(_DNS_LABEL.fullmatch(label) for label in labels):
            raise ValueError(f"invalid DNS name {raw!r} (IDNs must be given as xn-- A-labels)")
        if name not in names:
            names.append(name)
    if not names:
        raise ValueError("a certificate needs at least one DNS name")
    return tuple(names)


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC).replace(microsecond=0)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC).replace(microsecond=0)


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _san_names(certificate: x509.Certificate) -> frozenset[str]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return frozenset()
    return frozenset(san.value.get_values_for_type(x509.DNSName))


@dataclass(frozen=True)
class Issued:
    """A server certificate and where its files are. The key is decrypted only when asked."""

    name: str
    cert_pem: bytes = field(repr=False)
    # the certificate, then the CA: what nginx and Prosody want
    fullchain_pem: bytes = field(repr=False)
    dns_names: tuple[str, ...]
    not_after: datetime
    cert_path: Path
    key_path: Path  # vault-encrypted; Ansible's copy module decrypts it on the way
    renewed: bool  # issued by this call
    _load_key: Callable[[], bytes] = field(repr=False, compare=False)

    @property
    def key_pem(self) -> bytes:
        """The private key, PKCS#8 PEM, decrypted from ``key_path``."""
        return self._load_key()


class Pki:
    """The internal CA of one deployment. Build it with :meth:`load_or_create`."""

    def __init__(self, directory: Path, password: bytes, ca_certificate: x509.Certificate) -> None:
        self._dir = directory
        self._password = password
        self._ca = ca_certificate
        self._ca_key: ec.EllipticCurvePrivateKey | None = None
        self._ca_ski: bytes | None = None
        self.created = False

    def __repr__(self) -> str:
        subject = self._ca.subject.rfc4514_string()
        return f"Pki(directory={str(self._dir)!r}, ca={subject!r})"

    # -- the CA --------------------------------------------------------------------------

    @classmethod
    def load_or_create(
        cls,
        deployment: Deployment,
        password: bytes | str,
        organisation: str,
        *,
        now: datetime | None = None,
    ) -> Pki:
        """The deployment's CA, created (``organisation`` in its name) the first time.

        An existing CA is kept as it is, even if ``organisation`` changed since.
        """
        secret = password.encode() if isinstance(password, str) else password
        directory = deployment.pki_dir
        cert_path, key_path = directory / "ca.crt", directory / "ca.key"
        if cert_path.exists() and key_path.exists():
            pki = cls(directory, secret, cls._read_ca(cert_path))
        elif cert_path.exists() or key_path.exists():
            missing = key_path if cert_path.exists() else cert_path
            raise SecretsError(
                f"the internal CA is incomplete: {missing} is missing", hint=_RESTORE_HINT
            )
        else:
            pki = cls._create(directory, secret, organisation, _utc(now))
        if pki._ca.not_valid_after_utc <= _utc(now):
            raise SecretsError(
                f"the internal CA in {cert_path} expired on {pki._ca.not_valid_after_utc:%Y-%m-%d}",
                hint="Move the pki directory aside to create a new CA, then redeploy so every "
                "host and user trusts it.",
            )
        return pki

    @staticmethod
    def _read_ca(path: Path) -> x509.Certificate:
        try:
            return x509.load_pem_x509_certificate(path.read_bytes())
        except ValueError as exc:
            raise SecretsError(f"{path} is not a PEM certificate", hint=_RESTORE_HINT) from exc

    @classmethod
    def _create(cls, directory: Path, password: bytes, organisation: str, now: datetime) -> Pki:
        organisation = organisation.strip()
        if not organisation:
            raise ValueError("the organisation naming the CA must not be empty")
        key = ec.generate_private_key(CA_CURVE())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation[:64]),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation[:48]} internal CA"),
            ]
        )
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now - BACKDATE + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                critical=False,
            )
            .sign(key, SIGNATURE_HASH())
        )
        directory.mkdir(parents=True, exist_ok=True)
        # The key first: a CA certificate without its key on disk is refused on the next run.
        vault.write_file(directory / "ca.key", _key_pem(key), password, mode=0o600)
        atomic_write(directory / "ca.crt", _pem(certificate), mode=0o644)
        pki = cls(directory, password, certificate)
        pki._ca_key = key
        pki.created = True
        return pki

    @property
    def ca_certificate(self) -> x509.Certificate:
        return self._ca

    @property
    def ca_pem(self) -> bytes:
        return _pem(self._ca)

    def _signing_key(self) -> ec.EllipticCurvePrivateKey:
        if self._ca_key is None:
            path = self._dir / "ca.key"
            key = serialization.load_pem_private_key(vault.read_file(path, self._password), None)
            if not isinstance(key, ec.EllipticCurvePrivateKey) or (
                key.public_key() != self._ca.public_key()
            ):
                raise SecretsError(
                    f"{path} is not the key of {self._dir / 'ca.crt'}", hint=_RESTORE_HINT
                )
            self._ca_key = key
        return self._ca_key

    # -- server certificates --------------------------------------------------------------

    def ensure_certificate(
        self, name: str, dns_names: Iterable[str], *, now: datetime | None = None
    ) -> Issued:
        """The certificate ``name`` for ``dns_names``, issued or renewed only when needed."""
        validate_certificate_name(name)
        names = normalise_dns_names(dns_names)
        moment = _utc(now)
        cert_path = self._dir / "certs" / f"{name}.crt"
        key_path = self._dir / "keys" / f"{name}.key"
        current = self._current(cert_path, key_path, names, moment)
        renewed = current is None
        load_key: Callable[[], bytes]
        if current is None:
            current, key_pem = self._issue(cert_path, key_path, names, moment)
            load_key = functools.partial(bytes, key_pem)
        else:
            load_key = functools.partial(self._read_key, key_path, current)
        cert_pem = _pem(current)
        return Issued(
            name=name,
            cert_pem=cert_pem,
            fullchain_pem=cert_pem + self.ca_pem,
            dns_names=names,
            not_after=current.not_valid_after_utc,
            cert_path=cert_path,
            key_path=key_path,
            renewed=renewed,
            _load_key=load_key,
        )

    def _read_key(self, key_path: Path, certificate: x509.Certificate) -> bytes:
        key_pem = vault.read_file(key_path, self._password)
        key = serialization.load_pem_private_key(key_pem, None)
        if key.public_key() != certificate.public_key():
            raise SecretsError(
                f"{key_path} no longer holds the key of this certificate: it was reissued",
                hint="Ask ensure_certificate() again for the current certificate and key.",
            )
        return key_pem

    def _issued_by_this_ca(self, certificate: x509.Certificate) -> bool:
        """Issuer name and authority key identifier match this CA.

        Cheaper than checking the signature (a P-384 verification per certificate adds a
        second per 1,000 tenants to every render); the files come from our own pki/, and
        whoever can replace them can replace the CA too.
        """
        if certificate.issuer != self._ca.subject:
            return False
        try:
            authority = certificate.extensions.get_extension_for_class(
                x509.AuthorityKeyIdentifier
            ).value
        except x509.ExtensionNotFound:
            return False
        return authority.key_identifier == self._ca_key_identifier

    @property
    def _ca_key_identifier(self) -> bytes:
        if self._ca_ski is None:
            self._ca_ski = x509.SubjectKeyIdentifier.from_public_key(self._ca.public_key()).digest
        return self._ca_ski

    def _current(
        self, cert_path: Path, key_path: Path, names: tuple[str, ...], now: datetime
    ) -> x509.Certificate | None:
        """The certificate on disk if it can still be used as it is, else None."""
        if not (cert_path.exists() and key_path.exists()):
            return None
        if key_path.with_name(key_path.name + ".new").exists():
            return None  # an issuance was interrupted
        try:
            certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        except ValueError:
            return None
        if not self._issued_by_this_ca(certificate):
            return None
        if _san_names(certificate) != frozenset(names):
            return None
        if certificate.not_valid_after_utc - now < RENEW_BEFORE:
            return None
        return certificate

    def _issue(
        self, cert_path: Path, key_path: Path, names: tuple[str, ...], now: datetime
    ) -> tuple[x509.Certificate, bytes]:
        ca_key = self._signing_key()
        key = ec.generate_private_key(SERVER_CURVE())
        not_before = now - BACKDATE
        not_after = min(not_before + CERT_VALIDITY, self._ca.not_valid_after_utc)
        ca_ski = self._ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])]))
            .issuer_name(self._ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False
            )
            .sign(ca_key, SIGNATURE_HASH())
        )
        key_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        pending = key_path.with_name(key_path.name + ".new")
        key_pem = _key_pem(key)
        atomic_write(pending, vault.encrypt_deterministic(key_pem, self._password), mode=0o600)
        atomic_write(cert_path, _pem(certificate), mode=0o644)
        pending.replace(key_path)
        return certificate, key_pem
