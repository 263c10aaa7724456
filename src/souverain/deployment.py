"""The deployment directory: where suite.yml, the encrypted secrets, the PKI and the build live."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SUITE_FILE = "suite.yml"
SECRETS_FILE = "secrets.vault.yml"
VAULT_PASSWORD_FILE = ".vault-password"
VAULT_PASSWORD_ENV = "SOUVERAIN_VAULT_PASSWORD_FILE"


@dataclass(frozen=True)
class Deployment:
    """Paths inside one deployment directory (given by ``souverain -C DIR``)."""

    root: Path

    @classmethod
    def at(cls, directory: Path | str) -> Deployment:
        return cls(Path(directory).resolve())

    @property
    def suite_file(self) -> Path:
        return self.root / SUITE_FILE

    @property
    def secrets_file(self) -> Path:
        """All generated secrets, in one ansible-vault encrypted YAML document."""
        return self.root / SECRETS_FILE

    @property
    def vault_password_file(self) -> Path:
        """The vault password: $SOUVERAIN_VAULT_PASSWORD_FILE, else .vault-password here."""
        from_env = os.environ.get(VAULT_PASSWORD_ENV)
        return Path(from_env) if from_env else self.root / VAULT_PASSWORD_FILE

    @property
    def pki_dir(self) -> Path:
        """The internal CA and service certificates (private keys vault-encrypted)."""
        return self.root / "pki"

    @property
    def ca_certificate(self) -> Path:
        """The certificate users and hosts must trust."""
        return self.pki_dir / "ca.crt"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def runs_dir(self) -> Path:
        """One log per deploy/verify run, with no secret in it."""
        return self.root / "runs"

    @property
    def lab_dir(self) -> Path:
        """Lab-only material: the lab SSH key and known_hosts."""
        return self.root / "lab"
