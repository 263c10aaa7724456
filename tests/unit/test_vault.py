"""souverain.vault speaks ansible-vault 1.1 AES256 byte for byte, without importing Ansible."""

from __future__ import annotations

import binascii
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from souverain import vault
from souverain.errors import SecretsError

PASSWORD = b"correct horse battery staple"


@pytest.fixture(scope="module")
def ansible_vault():
    from ansible.parsing.vault import VaultLib, VaultSecret

    return VaultLib([("default", VaultSecret(PASSWORD))])


PLAINTEXTS = [b"", b"x", b"0123456789abcdef", b"secret: value\n" * 40, "clé é\n".encode()]


@pytest.mark.parametrize("plaintext", PLAINTEXTS)
def test_round_trip(plaintext):
    assert vault.decrypt(vault.encrypt(plaintext, PASSWORD), PASSWORD) == plaintext


def test_envelope_format():
    blob = vault.encrypt(b"hello", PASSWORD)
    lines = blob.split(b"\n")
    assert lines[0] == b"$ANSIBLE_VAULT;1.1;AES256"
    assert lines[-1] == b""
    assert all(len(line) <= 80 for line in lines)
    assert all(len(line) == 80 for line in lines[1:-2])
    salt_hex, mac_hex, ct_hex = binascii.unhexlify(b"".join(lines[1:])).split(b"\n")
    assert len(binascii.unhexlify(salt_hex)) == 32
    assert len(binascii.unhexlify(mac_hex)) == 32
    assert len(binascii.unhexlify(ct_hex)) == 16  # PKCS7 pads 5 bytes to one block


@pytest.mark.parametrize("plaintext", PLAINTEXTS)
def test_ansible_decrypts_ours(ansible_vault, plaintext):
    assert ansible_vault.decrypt(vault.encrypt(plaintext, PASSWORD)) == plaintext
    assert ansible_vault.decrypt(vault.encrypt_deterministic(plaintext, PASSWORD)) == plaintext


@pytest.mark.parametrize("plaintext", PLAINTEXTS)
def test_we_decrypt_ansibles(ansible_vault, plaintext):
    assert vault.decrypt(ansible_vault.encrypt(plaintext), PASSWORD) == plaintext


def test_we_decrypt_vault_id_format(ansible_vault):
    blob = ansible_vault.encrypt(b"labelled", vault_id="prod")
    assert blob.startswith(b"$ANSIBLE_VAULT;1.2;AES256;prod\n")
    assert vault.decrypt(blob, PASSWORD) == b"labelled"


def test_same_salt_gives_ansibles_exact_bytes(ansible_vault):
    salt = b"s" * 32
    for plaintext in PLAINTEXTS:
        assert vault.encrypt(plaintext, PASSWORD, salt=salt) == ansible_vault.encrypt(
            plaintext, salt=salt
        )


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=300))
def test_round_trip_any_bytes(plaintext):
    assert vault.decrypt(vault.encrypt_deterministic(plaintext, PASSWORD), PASSWORD) == plaintext


def test_deterministic_is_stable_and_distinct():
    first = vault.encrypt_deterministic(b"one", PASSWORD)
    assert vault.encrypt_deterministic(b"one", PASSWORD) == first
    assert vault.encrypt_deterministic(b"two", PASSWORD) != first
    assert vault.encrypt_deterministic(b"one", b"other password") != first
    # A new plaintext gets a new salt, hence a new key and IV: no keystream reuse.
    assert vault.derive_salt(b"one", PASSWORD) != vault.derive_salt(b"two", PASSWORD)
    assert len(vault.derive_salt(b"one", PASSWORD)) == 32


def test_random_salt_differs_each_time():
    assert vault.encrypt(b"same", PASSWORD) != vault.encrypt(b"same", PASSWORD)


def test_wrong_password_is_a_secrets_error():
    blob = vault.encrypt(b"data", PASSWORD)
    with pytest.raises(SecretsError, match=r"the vault password does not open secrets\.vault\.yml"):
        vault.decrypt(blob, b"wrong", source="secrets.vault.yml")


def _tamper(blob: bytes, part: int) -> bytes:
    """Flip the first bit of one part (0 salt, 1 HMAC, 2 ciphertext) of a vault blob."""
    lines = blob.split(b"\n")
    parts = [
        bytearray(binascii.unhexlify(p))
        for p in binascii.unhexlify(b"".join(lines[1:])).split(b"\n")
    ]
    parts[part][0] ^= 0x01
    body = binascii.hexlify(b"\n".join(binascii.hexlify(bytes(p)) for p in parts))
    return b"\n".join([lines[0], *(body[i : i + 80] for i in range(0, len(body), 80)), b""])


@pytest.mark.parametrize("part", [0, 1, 2], ids=["salt", "hmac", "ciphertext"])
def test_tampered_blob_is_refused(part):
    blob = vault.encrypt(b"pay 10 euros to alice", PASSWORD)
    assert vault.decrypt(_tamper(_tamper(blob, part), part), PASSWORD) == b"pay 10 euros to alice"
    with pytest.raises(SecretsError, match="does not open"):
        vault.decrypt(_tamper(blob, part), PASSWORD)


def test_damaged_body_is_refused():
    blob = vault.encrypt(b"data", PASSWORD)
    with pytest.raises(SecretsError, match="damaged"):
        vault.decrypt(blob[:40] + b"g" + blob[41:], PASSWORD)
    with pytest.raises(SecretsError, match="damaged"):
        vault.decrypt(blob.replace(b"0a", b"0b"), PASSWORD)  # no separators left


def test_garbage_is_a_secrets_error():
    with pytest.raises(SecretsError, match="not an ansible-vault"):
        vault.decrypt(b"plain: text\n", PASSWORD, source="f")
    with pytest.raises(SecretsError, match="damaged"):
        vault.decrypt(b"$ANSIBLE_VAULT;1.1;AES256\nzz\n", PASSWORD, source="f")
    with pytest.raises(SecretsError, match=r"only 1\.1/1\.2"):
        vault.decrypt(b"$ANSIBLE_VAULT;1.0;AES\n00\n", PASSWORD, source="f")


def test_empty_password_refused():
    with pytest.raises(SecretsError, match="empty"):
        vault.encrypt(b"x", b"")


def test_is_encrypted():
    assert vault.is_encrypted(vault.encrypt(b"x", PASSWORD))
    assert vault.is_encrypted(vault.encrypt(b"x", PASSWORD).decode())
    assert not vault.is_encrypted(b"key: value")


def test_write_file_only_when_changed(tmp_path: Path, ansible_vault):
    path = tmp_path / "blob.vault"
    assert vault.write_file(path, b"v1", PASSWORD)
    assert path.stat().st_mode & 0o777 == 0o600
    before = path.read_bytes()
    assert not vault.write_file(path, b"v1", PASSWORD)
    assert path.read_bytes() == before
    # A file ansible encrypted with a random salt and the same plaintext is left alone too.
    path.write_bytes(ansible_vault.encrypt(b"v1"))
    theirs = path.read_bytes()
    assert not vault.write_file(path, b"v1", PASSWORD)
    assert path.read_bytes() == theirs
    assert vault.write_file(path, b"v2", PASSWORD)
    assert vault.read_file(path, PASSWORD) == b"v2"


def test_write_file_never_overwrites_under_another_password(tmp_path: Path):
    path = tmp_path / "blob.vault"
    vault.write_file(path, b"v1", PASSWORD)
    with pytest.raises(SecretsError, match="does not open"):
        vault.write_file(path, b"v2", b"another")
    assert vault.read_file(path, PASSWORD) == b"v1"


def test_importing_vault_does_not_import_ansible():
    code = "import sys, souverain.vault; print('ansible' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
