"""Secrets and certificates as templates and the build see them.

Rendering asks for a secret or a certificate by name; this module gets it from the encrypted
store or the internal CA, generating it the first time. In a dry run (``souverain plan``)
nothing is written: new secrets live in memory only and certificates that do not exist yet
are shown as placeholders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import Literal

from souverain import vault
from souverain.deployment import Deployment
from souverain.fsutil import atomic_write
from souverain.pki import RENEW_BEFORE, Issued, Pki
from souverain.secrets import (
    Kind,
    SecretStore,
    ensure_password_file,
    read_password,
)

TLS_DIR = "/etc/souverain/tls"


@dataclass(frozen=True)
class CertificateFiles:
    """What the build places on a host for one certificate (key still vault-encrypted)."""

    name: str
    fullchain_pem: bytes
    encrypted_key: bytes  # as stored in pki/keys: Ansible's copy decrypts it on the way
    key_sha256: str  # of the decrypted key, as it will be on the host
    renew_after: datetime | None = None  # from then on, a render must issue it again


@dataclass
class Materials:
    deployment: Deployment
    password: bytes
    secrets: SecretStore
    organisation: str
    dry_run: bool = False
    _pki: Pki | None = field(default=None, init=False)
    _pki_missing: bool = field(default=False, init=False)

    @classmethod
    def open(cls, deployment: Deployment, organisation: str, *, dry_run: bool) -> Materials:
        if not dry_run:
            ensure_password_file(deployment)
        password = read_password(deployment)
        return cls(deployment, password, SecretStore.open(deployment), organisation, dry_run)

    def secret(
        self,
        name: str,
        kind: Kind | Literal["rsa", "ssh-ed25519"] = "password",
        length: int | None = None,
    ) -> str:
        """A secret by name; kind "rsa" is an RSA private key (PEM) of ``length`` bits,
        "ssh-ed25519" an Ed25519 private key in OpenSSH's format."""
        if kind == "rsa":
            return self.private_key(name, length or 2048)
        if kind == "ssh-ed25519":
            return self.ssh_key(name)
        return self.secrets.get_or_create(name, kind, length)

    def ssh_key(self, name: str) -> str:
        """An Ed25519 SSH private key (OpenSSH format), generated once into the secrets store:
        the backup agents' keys, whose public halves the backup host's account accepts."""

        def make() -> str:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import ed25519

            key = ed25519.Ed25519PrivateKey.generate()
            return key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            ).decode("ascii")

        return self.secrets.get_or_make(name, make)

    def private_key(self, name: str, bits: int) -> str:
        """An RSA private key (PKCS#8 PEM), generated once and kept in the secrets store.

        Used for DKIM: the key must be stable across renders and backed up with the other
        secrets. The store keeps it like any generated secret.
        """

        def make() -> str:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa

            key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
            return key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode("ascii")

        return self.secrets.get_or_make(name, make)

    def _ca(self) -> Pki | None:
        if self._pki is None and not self._pki_missing:
            if self.dry_run and not self.deployment.ca_certificate.exists():
                self._pki_missing = True
            else:
                self._pki = Pki.load_or_create(self.deployment, self.password, self.organisation)
        return self._pki

    def ca_pem(self) -> bytes:
        pki = self._ca()
        return pki.ca_pem if pki else b"(the internal CA is created by souverain render)\n"

    def certificate(self, name: str, dns_names: list[str]) -> CertificateFiles:
        pki = self._ca()
        if pki is None:
            placeholder = f"(certificate {name} is issued by souverain render)\n".encode()
            return CertificateFiles(name, placeholder, placeholder, sha256(placeholder).hexdigest())
        issued = pki.ensure_certificate(name, dns_names)
        encrypted_key = Path(issued.key_path).read_bytes()
        return CertificateFiles(
            name,
            issued.fullchain_pem,
            encrypted_key,
            self._key_digest(issued, encrypted_key),
            issued.not_after - RENEW_BEFORE,
        )

    def certificate_stamp(self, name: str) -> str | None:
        """Size and mtime of the CA certificate and of the certificate's files: any issuance
        changes them. None when one is missing (it has to be issued)."""
        pki_dir = self.deployment.pki_dir
        stamps = []
        for path in (f"{pki_dir}/ca.crt", f"{pki_dir}/certs/{name}.crt",
                     f"{pki_dir}/keys/{name}.key"):  # fmt: skip
            try:
                found = os.stat(path)
            except OSError:
                return None
            stamps.append(f"{found.st_size}:{found.st_mtime_ns}")
        return ",".join(stamps)

    def _key_digest(self, issued: Issued, encrypted_key: bytes) -> str:
        """sha256 of the decrypted key, remembered beside it so renders need not decrypt it.

        The sidecar holds the digest of the encrypted file too: a reissued key is noticed. A
        sha256 of a random private key reveals nothing about it.
        """
        sidecar = Path(f"{issued.key_path}.sha256")
        encrypted_digest = sha256(encrypted_key).hexdigest()
        try:
            recorded, plain = sidecar.read_text().split()
            if recorded == encrypted_digest:
                return plain
        except (OSError, ValueError):
            pass
        plain = sha256(issued.key_pem).hexdigest()
        if not self.dry_run:
            atomic_write(sidecar, f"{encrypted_digest} {plain}\n", mode=0o600)
        return plain

    def encrypt(self, plaintext: bytes) -> bytes:
        return vault.encrypt_deterministic(plaintext, self.password)

    def save(self) -> None:
        if not self.dry_run:
            self.secrets.save()
