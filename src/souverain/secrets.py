"""Generated secrets: one strong random value per purpose, vault-encrypted in the deployment.

``secrets.vault.yml`` is an ansible-vault file (see :mod:`souverain.vault`) holding one YAML
document, written as JSON (JSON is YAML, and plain Ansible reads it as a vars file)::

    {
      "souverain_secrets": {
        "chat/acme/macaroon": "…",
        "directory/admin": "…"
      }
    }

Playbooks run without the CLI reach a value as ``souverain_secrets['directory/admin']``.
A value, once generated, is kept: it is stable across runs, and a value edited by hand
(``ansible-vault edit``) wins over the generator.

The vault password lives in ``.vault-password`` (or the file $SOUVERAIN_VAULT_PASSWORD_FILE
names). An executable password file is run and its output is the password, as Ansible does.
Back up the password file and the deployment directory separately: the secrets and the CA key
are unreadable without the password, and the password is useless without them.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets as _random
import string
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from souverain import vault
from souverain.deployment import VAULT_PASSWORD_ENV, Deployment
from souverain.errors import SecretsError

TOP_KEY = "souverain_secrets"
SECRET_FILE_MODE = 0o600

Kind = Literal["password", "hex", "base64", "token"]

# kind → (default length, minimum length, what ``length`` counts)
KINDS: dict[str, tuple[int, int, str]] = {
    "password": (32, 16, "characters from A-Z a-z 0-9"),
    "hex": (32, 16, "random bytes, written as hexadecimal"),
    "base64": (32, 16, "random bytes, written as standard base64"),
    "token": (32, 16, "random bytes, written as URL-safe base64 without padding"),
}

# Letters and digits only: safe unquoted in every config format a service reads
# (LDAP, URLs, ini, shell, YAML); 32 characters carry 190 bits.
PASSWORD_ALPHABET = string.ascii_letters + string.digits

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*(?:/[a-z0-9][a-z0-9._-]*)*")
MAX_NAME_LENGTH = 200

_MISSING_PASSWORD_HINT = (
    "Run `souverain init` in the deployment directory to create .vault-password, or set "
    f"${VAULT_PASSWORD_ENV} to the file that holds this deployment's vault password."
)


def validate_name(name: str) -> str:
    """A secret name: lowercase path segments such as ``directory/admin``."""
    if len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        raise ValueError(
            f"invalid secret name {name!r}: use lowercase segments of a-z 0-9 . _ - "
            "separated by '/', such as 'chat/acme/macaroon'"
        )
    return name


def generate(kind: Kind, length: int | None = None) -> str:
    """A new random value of ``kind`` from the operating system's CSPRNG."""
    if kind not in KINDS:
        raise ValueError(f"unknown secret kind {kind!r}; known: {', '.join(KINDS)}")
    default, minimum, unit = KINDS[kind]
    size = default if length is None else length
    if size < minimum:
        raise ValueError(f"a {kind} secret needs at least {minimum} {unit}, not {size}")
    if kind == "password":
        return "".join(_random.choice(PASSWORD_ALPHABET) for _ in range(size))
    raw = _random.token_bytes(size)
    if kind == "hex":
        return raw.hex()
    if kind == "base64":
        return base64.b64encode(raw).decode("ascii")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


# --- the vault password ---------------------------------------------------------------------


@dataclass(frozen=True)
class PasswordFile:
    path: Path
    created: bool


def ensure_password_file(deployment: Deployment) -> PasswordFile:
    """Create ``.vault-password`` (0600, 48 random bytes in base64) unless one exists.

    When $SOUVERAIN_VAULT_PASSWORD_FILE is set, nothing is created: the file it names must
    exist. An existing password file is never replaced.
    """
    path = deployment.vault_password_file
    if os.environ.get(VAULT_PASSWORD_ENV):
        if not path.exists():
            raise SecretsError(
                f"${VAULT_PASSWORD_ENV} names {path}, which does not exist",
                hint=f"Create that file with the vault password, or unset ${VAULT_PASSWORD_ENV} "
                "to keep the password in .vault-password in the deployment directory.",
            )
        return PasswordFile(path, created=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    password = base64.b64encode(_random.token_bytes(48)) + b"\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
    except FileExistsError:
        return PasswordFile(path, created=False)
    try:
        os.fchmod(fd, SECRET_FILE_MODE)
        os.write(fd, password)
        os.fsync(fd)
    finally:
        os.close(fd)
    return PasswordFile(path, created=True)


def read_password(deployment: Deployment) -> bytes:
    """The vault password, read (or, for an executable file, produced) as Ansible does."""
    path = deployment.vault_password_file
    if not path.exists():
        raise SecretsError(f"no vault password file at {path}", hint=_MISSING_PASSWORD_HINT)
    try:
        if os.access(path, os.X_OK):
            result = subprocess.run(
                [str(path)], capture_output=True, check=False, stdin=subprocess.DEVNULL
            )
            if result.returncode != 0:
                raise SecretsError(
                    f"the vault password script {path} failed (exit {result.returncode})",
                    hint="Run it by hand to see why; it must print the password.",
                )
            password = result.stdout.strip()
        else:
            password = path.read_bytes().strip()
    except OSError as exc:
        raise SecretsError(
            f"cannot read the vault password file {path}: {exc.strerror}",
            hint="Check its permissions (it should be 0600 and owned by you).",
        ) from exc
    if not password:
        raise SecretsError(f"the vault password file {path} is empty", hint=_MISSING_PASSWORD_HINT)
    return password


# --- the store ------------------------------------------------------------------------------


def _parse_document(plaintext: bytes, source: str) -> dict[str, str]:
    try:
        document: Any = json.loads(plaintext)
    except ValueError:
        # Edited by hand with `ansible-vault edit`: YAML, not necessarily JSON.
        from ruamel.yaml import YAML, YAMLError

        try:
            document = YAML(typ="safe", pure=True).load(plaintext)
        except YAMLError as exc:
            raise SecretsError(
                f"{source} does not hold valid YAML: {exc}",
                hint="Fix it with `ansible-vault edit`, or restore it from backup.",
            ) from None
    if document is None or document == {}:
        return {}
    entries = document.get(TOP_KEY) if isinstance(document, dict) else None
    if not isinstance(entries, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in entries.items()
    ):
        raise SecretsError(
            f"{source} must hold a mapping '{TOP_KEY}' of secret names to string values",
            hint="Fix it with `ansible-vault edit`, or restore it from backup.",
        )
    return dict(entries)


def _render_document(values: dict[str, str]) -> bytes:
    document = {TOP_KEY: dict(sorted(values.items()))}
    return (json.dumps(document, indent=2, ensure_ascii=True) + "\n").encode("ascii")


class SecretStore:
    """The deployment's secrets. Values never appear in ``repr``/``str``.

    Use as a context manager to save on exit, or call :meth:`save`; the file is rewritten
    only when a value was generated.
    """

    def __init__(self, path: Path, password: bytes, values: dict[str, str] | None = None) -> None:
        self._path = path
        self._password = password
        self._values: dict[str, str] = dict(values or {})
        self._dirty = False

    @classmethod
    def load(cls, path: Path, password: bytes | str) -> SecretStore:
        """Open ``path``; a missing file is an empty store."""
        secret = password.encode() if isinstance(password, str) else password
        if not path.exists():
            return cls(path, secret)
        plaintext = vault.read_file(path, secret)
        return cls(path, secret, _parse_document(plaintext, str(path)))

    @classmethod
    def open(cls, deployment: Deployment) -> SecretStore:
        """The store of ``deployment``, opened with its vault password file."""
        return cls.load(deployment.secrets_file, read_password(deployment))

    @property
    def path(self) -> Path:
        return self._path

    @property
    def dirty(self) -> bool:
        """Whether values were generated since the last load or save."""
        return self._dirty

    def get_or_create(self, name: str, kind: Kind = "password", length: int | None = None) -> str:
        """The value called ``name``, generated (``kind``, ``length``) the first time."""
        validate_name(name)
        value = self._values.get(name)
        if value is None:
            value = generate(kind, length)
            self._values[name] = value
            self._dirty = True
        return value

    def get_or_make(self, name: str, make: Callable[[], str]) -> str:
        """The value called ``name``, made by ``make()`` the first time (a key, not a string of
        random characters); kept and saved like the generated ones."""
        validate_name(name)
        value = self._values.get(name)
        if value is None:
            value = make()
            self._values[name] = value
            self._dirty = True
        return value

    def get(self, name: str) -> str:
        """An existing value; SecretsError if it was never generated."""
        try:
            return self._values[name]
        except KeyError:
            raise SecretsError(
                f"no secret named {name!r} in {self._path}",
                hint="Run `souverain render` to generate the secrets the suite needs.",
            ) from None

    def peek(self, name: str) -> str | None:
        """An existing value, or None: nothing is generated."""
        return self._values.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __len__(self) -> int:
        return len(self._values)

    def names(self) -> list[str]:
        return sorted(self._values)

    def all_secret_values(self) -> frozenset[str]:
        """Every value that must never appear in output, the vault password included."""
        return frozenset([*self._values.values(), self._password.decode(errors="replace")])

    def save(self) -> bool:
        """Write the file (atomically, 0600) if something was generated; return whether."""
        if not self._dirty:
            return False
        vault.write_file(
            self._path, _render_document(self._values), self._password, mode=SECRET_FILE_MODE
        )
        self._dirty = False
        return True

    def __enter__(self) -> SecretStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Saved even when the caller failed: a value generated may already have been used.
        self.save()

    def __repr__(self) -> str:
        return f"SecretStore(path={str(self._path)!r}, {len(self._values)} secrets, values hidden)"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a SecretStore cannot be pickled: it would carry its secrets along")
