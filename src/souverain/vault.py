"""ansible-vault 1.1 (AES256) encryption, written against ``cryptography`` alone.

``render`` creates secrets and must not import Ansible (design.md §6), yet the files it writes
must open with ``ansible-vault`` and in plain ``ansible-playbook`` runs. This module speaks the
format byte for byte:

    $ANSIBLE_VAULT;1.1;AES256
    hex( hex(salt) "\\n" hex(hmac) "\\n" hex(ciphertext) ), in lines of 80 characters

with ``key1 | key2 | iv = PBKDF2-HMAC-SHA256(password, salt, 10000 iterations, 80 bytes)``,
``ciphertext = AES-256-CTR(key1, iv, PKCS7-padded plaintext)`` and
``hmac = HMAC-SHA256(key2, ciphertext)``.

Deterministic encryption. ``render`` must write the same bytes on every run, so a file whose
plaintext did not change must not get a new random salt. :func:`encrypt_deterministic` takes
the salt from ``HMAC-SHA256(k, plaintext)`` where ``k`` is derived from the password. AES-CTR
must never run twice with the same key and IV over different plaintexts; key and IV come from
(password, salt), and the salt differs whenever the plaintext differs, so that never happens.
What the derived salt does reveal: whether two blobs encrypted under the same password hold the
same plaintext (equal plaintexts give equal files). Nothing else, and nothing without a
second blob to compare with.

Cost. PBKDF2 at 10000 iterations takes a few milliseconds per salt; the result is kept in a
small in-process cache keyed by (password, salt), so one blob is never derived twice in a run.
"""

from __future__ import annotations

import binascii
import functools
import hmac
import os
import stat
from hashlib import sha256
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from souverain.errors import SecretsError
from souverain.fsutil import atomic_write

HEADER = b"$ANSIBLE_VAULT"
HEADER_LINE = b"$ANSIBLE_VAULT;1.1;AES256"
READABLE_VERSIONS = (b"1.1", b"1.2")
CIPHER = b"AES256"
ITERATIONS = 10_000
KEY_LENGTH = 32
IV_LENGTH = 16
SALT_LENGTH = 32
LINE_WIDTH = 80

# The salt from which the key behind deterministic salts is derived: a fixed label, so that
# key is one PBKDF2 per password and process.
_SALT_KEY_LABEL = b"souverain/vault/deterministic-salt/v1"

WRONG_PASSWORD_HINT = (
    "Use the password file this deployment was created with (.vault-password in the "
    "deployment directory, or the file $SOUVERAIN_VAULT_PASSWORD_FILE names); if the "
    "password is right, the file was altered or damaged: restore it from backup."
)


def _password_bytes(password: bytes | str) -> bytes:
    value = password.encode() if isinstance(password, str) else password
    if not value:
        raise SecretsError(
            "the vault password is empty",
            hint="Put a long random password in the vault password file.",
        )
    return value


@functools.lru_cache(maxsize=1024)
def _derive(password: bytes, salt: bytes) -> tuple[bytes, bytes, bytes]:
    """(AES key, HMAC key, CTR IV) for one salt, as ansible-vault derives them."""
    kdf = PBKDF2HMAC(
        algorithm=hashes.SHA256(),
        length=2 * KEY_LENGTH + IV_LENGTH,
        salt=salt,
        iterations=ITERATIONS,
    )
    material = kdf.derive(password)
    return (
        material[:KEY_LENGTH],
        material[KEY_LENGTH : 2 * KEY_LENGTH],
        material[2 * KEY_LENGTH :],
    )


def clear_cache() -> None:
    """Forget every derived key (tests, or a long-lived process changing passwords)."""
    _derive.cache_clear()


def is_encrypted(data: bytes | str) -> bool:
    """Whether ``data`` is an ansible-vault blob (any version, any cipher)."""
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    return raw.startswith(HEADER)


def derive_salt(plaintext: bytes | str, password: bytes | str) -> bytes:
    """The salt :func:`encrypt_deterministic` uses: HMAC-SHA256 of the plaintext under a key
    derived from the password. Equal plaintexts give equal salts; nothing else is revealed."""
    salt_key = _derive(_password_bytes(password), _SALT_KEY_LABEL)[1]
    data = plaintext.encode() if isinstance(plaintext, str) else plaintext
    return hmac.new(salt_key, data, sha256).digest()


def encrypt(plaintext: bytes | str, password: bytes | str, *, salt: bytes | None = None) -> bytes:
    """Encrypt to an ansible-vault 1.1 AES256 blob (bytes, newline-terminated).

    ``salt`` defaults to 32 random bytes. Pass a salt only if it is unique to this plaintext
    (see :func:`encrypt_deterministic`): a salt reused for different plaintexts reuses the
    AES-CTR keystream.
    """
    data = plaintext.encode() if isinstance(plaintext, str) else plaintext
    if salt is None:
        salt = os.urandom(SALT_LENGTH)
    elif not salt:
        raise ValueError("the salt must not be empty")
    aes_key, hmac_key, iv = _derive(_password_bytes(password), salt)

    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    mac = HMAC(hmac_key, hashes.SHA256())
    mac.update(ciphertext)

    inner = b"\n".join(
        (binascii.hexlify(salt), binascii.hexlify(mac.finalize()), binascii.hexlify(ciphertext))
    )
    body = binascii.hexlify(inner)
    lines = [HEADER_LINE]
    lines += [body[i : i + LINE_WIDTH] for i in range(0, len(body), LINE_WIDTH)]
    return b"\n".join(lines) + b"\n"


def encrypt_deterministic(plaintext: bytes | str, password: bytes | str) -> bytes:
    """Encrypt with the salt derived from the plaintext: same input, same bytes, every run."""
    return encrypt(plaintext, password, salt=derive_salt(plaintext, password))


def _parse(vaulttext: bytes, source: str) -> tuple[bytes, bytes, bytes]:
    """(salt, hmac, ciphertext) of a blob, or SecretsError naming ``source``."""
    lines = vaulttext.splitlines()
    header = lines[0].strip().split(b";") if lines else []
    if len(header) < 3 or header[0].strip() != HEADER:
        raise SecretsError(
            f"{source} is not an ansible-vault encrypted file",
            hint="Encrypt it with `ansible-vault encrypt`, or restore it from backup.",
        )
    version, cipher = header[1].strip(), header[2].strip()
    if version not in READABLE_VERSIONS or cipher != CIPHER:
        raise SecretsError(
            f"{source} uses vault format {version.decode(errors='replace')} with cipher "
            f"{cipher.decode(errors='replace')}; only 1.1/1.2 with AES256 are supported",
            hint="Re-encrypt it with a current `ansible-vault rekey`.",
        )
    try:
        body = b"".join(lines[1:])
        if not body.isalnum():  # hex only, unless some line carries spaces around it
            body = b"".join(line.strip() for line in lines[1:])
        inner = binascii.unhexlify(body)
        salt_hex, mac_hex, ciphertext_hex = inner.split(b"\n", 2)
        return (
            binascii.unhexlify(salt_hex),
            binascii.unhexlify(mac_hex),
            binascii.unhexlify(ciphertext_hex),
        )
    except (binascii.Error, ValueError) as exc:
        raise SecretsError(
            f"{source} is a damaged ansible-vault file", hint="Restore it from backup."
        ) from exc


def decrypt(vaulttext: bytes | str, password: bytes | str, *, source: str = "<data>") -> bytes:
    """Decrypt an ansible-vault AES256 blob; the HMAC is checked (in constant time) first.

    A wrong password and a tampered blob look the same to the HMAC; both raise SecretsError
    "the vault password does not open <source>".
    """
    raw = vaulttext.encode("ascii", "replace") if isinstance(vaulttext, str) else vaulttext
    salt, expected_mac, ciphertext = _parse(raw, source)
    aes_key, hmac_key, iv = _derive(_password_bytes(password), salt)

    mac = HMAC(hmac_key, hashes.SHA256())
    mac.update(ciphertext)
    try:
        mac.verify(expected_mac)
    except InvalidSignature:
        raise SecretsError(
            f"the vault password does not open {source}", hint=WRONG_PASSWORD_HINT
        ) from None

    decryptor = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise SecretsError(
            f"{source} is a damaged ansible-vault file (bad padding)",
            hint="Restore it from backup.",
        ) from exc


def read_file(path: Path, password: bytes | str) -> bytes:
    """Decrypt the vault file at ``path``."""
    try:
        vaulttext = path.read_bytes()
    except OSError as exc:
        raise SecretsError(
            f"cannot read {path}: {exc.strerror}", hint="Check the path and its permissions."
        ) from exc
    return decrypt(vaulttext, password, source=str(path))


def write_file(
    path: Path, plaintext: bytes | str, password: bytes | str, *, mode: int = 0o600
) -> bool:
    """Store ``plaintext`` vault-encrypted at ``path``; return whether the file was written.

    A file that already holds this plaintext under this password is left as it is (even if
    ``ansible-vault`` encrypted it with a random salt), so re-runs change nothing on disk. A
    file the password does not open is never overwritten: SecretsError.
    """
    data = plaintext.encode() if isinstance(plaintext, str) else plaintext
    blob = encrypt_deterministic(data, password)
    try:
        current = path.read_bytes()
    except FileNotFoundError:
        current = None
    if current is not None and (
        current == blob or decrypt(current, password, source=str(path)) == data
    ):
        if stat.S_IMODE(path.stat().st_mode) != mode:
            path.chmod(mode)
        return False
    atomic_write(path, blob, mode=mode)
    return True
