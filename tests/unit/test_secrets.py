"""SecretStore: generated once, stable across loads, encrypted at rest, never shown."""

from __future__ import annotations

import base64
import re
import stat
from pathlib import Path

import pytest

from souverain import vault
from souverain.deployment import VAULT_PASSWORD_ENV, Deployment
from souverain.errors import SecretsError
from souverain.secrets import (
    PASSWORD_ALPHABET,
    SecretStore,
    ensure_password_file,
    generate,
    read_password,
)


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch) -> Deployment:
    monkeypatch.delenv(VAULT_PASSWORD_ENV, raising=False)
    return Deployment.at(tmp_path)


@pytest.fixture
def initialised(deployment: Deployment) -> Deployment:
    ensure_password_file(deployment)
    return deployment


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_password_file_created_once_0600(deployment: Deployment):
    first = ensure_password_file(deployment)
    assert first.created and first.path == deployment.root / ".vault-password"
    assert mode(first.path) == 0o600
    content = first.path.read_bytes()
    assert len(base64.b64decode(content.strip())) >= 32
    second = ensure_password_file(deployment)
    assert not second.created
    assert first.path.read_bytes() == content


def test_password_file_from_env_is_not_created(deployment: Deployment, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere" / "pw"
    monkeypatch.setenv(VAULT_PASSWORD_ENV, str(elsewhere))
    with pytest.raises(SecretsError, match="does not exist") as info:
        ensure_password_file(deployment)
    assert VAULT_PASSWORD_ENV in (info.value.hint or "")
    elsewhere.parent.mkdir()
    elsewhere.write_text("from-env\n")
    assert not ensure_password_file(deployment).created
    assert not (deployment.root / ".vault-password").exists()
    assert read_password(deployment) == b"from-env"


def test_missing_password_file_explains_how_to_fix(deployment: Deployment):
    with pytest.raises(SecretsError, match="no vault password file") as info:
        SecretStore.open(deployment)
    assert "souverain init" in (info.value.hint or "")
    assert info.value.exit_code == 2


def test_executable_password_file_is_run(deployment: Deployment):
    script = deployment.root / ".vault-password"
    deployment.root.mkdir(exist_ok=True)
    script.write_text("#!/bin/sh\necho scripted-password\n")
    script.chmod(0o700)
    assert read_password(deployment) == b"scripted-password"


def test_values_stable_across_loads(initialised: Deployment):
    with SecretStore.open(initialised) as store:
        admin = store.get_or_create("directory/admin")
        macaroon = store.get_or_create("chat/acme/macaroon", "hex", 32)
        assert store.get_or_create("directory/admin") == admin
    reopened = SecretStore.open(initialised)
    assert reopened.get_or_create("directory/admin") == admin
    assert reopened.get_or_create("chat/acme/macaroon", "hex", 32) == macaroon
    assert reopened.get("chat/acme/macaroon") == macaroon
    assert not reopened.dirty
    assert reopened.names() == ["chat/acme/macaroon", "directory/admin"]


def test_file_is_vault_encrypted_0600_and_rewritten_only_when_new(initialised: Deployment):
    path = initialised.secrets_file
    store = SecretStore.open(initialised)
    value = store.get_or_create("directory/admin")
    assert store.save()
    assert mode(path) == 0o600
    raw = path.read_bytes()
    assert raw.startswith(b"$ANSIBLE_VAULT;1.1;AES256\n")
    assert value.encode() not in raw
    before = (raw, path.stat().st_mtime_ns)

    again = SecretStore.open(initialised)
    again.get_or_create("directory/admin")
    assert not again.save()
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before

    again.get_or_create("mail/acme/dkim-seed", "base64")
    assert again.save()
    assert path.read_bytes() != raw


def test_same_values_give_byte_identical_file(tmp_path: Path):
    a, b = tmp_path / "a.yml", tmp_path / "b.yml"
    for path in (a, b):
        store = SecretStore(path, b"pw", {"x/y": "1", "a/b": "2"})
        store._dirty = True
        store.save()
    assert a.read_bytes() == b.read_bytes()


def test_ansible_reads_the_store_as_vars(initialised: Deployment):
    from ansible.parsing.dataloader import DataLoader
    from ansible.parsing.vault import VaultSecret

    with SecretStore.open(initialised) as store:
        value = store.get_or_create("directory/admin")
    loader = DataLoader()
    loader.set_vault_secrets([("default", VaultSecret(read_password(initialised)))])
    data = loader.load_from_file(str(initialised.secrets_file))
    assert data["souverain_secrets"]["directory/admin"] == value


def test_hand_edited_yaml_is_read(tmp_path: Path):
    path = tmp_path / "secrets.vault.yml"
    vault.write_file(path, "souverain_secrets:\n  directory/admin: chosen-by-hand\n", b"pw")
    store = SecretStore.load(path, b"pw")
    assert store.get_or_create("directory/admin") == "chosen-by-hand"


def test_malformed_document_is_a_secrets_error(tmp_path: Path):
    path = tmp_path / "secrets.vault.yml"
    vault.write_file(path, "- a list\n", b"pw")
    with pytest.raises(SecretsError, match="mapping 'souverain_secrets'"):
        SecretStore.load(path, b"pw")


def test_wrong_password(initialised: Deployment):
    with SecretStore.open(initialised) as store:
        store.get_or_create("directory/admin")
    with pytest.raises(SecretsError, match="the vault password does not open"):
        SecretStore.load(initialised.secrets_file, b"not the password")


@pytest.mark.parametrize(
    ("kind", "length", "pattern", "entropy_bits"),
    [
        ("password", None, r"[A-Za-z0-9]{32}", 190),
        ("password", 20, r"[A-Za-z0-9]{20}", 119),
        ("hex", None, r"[0-9a-f]{64}", 256),
        ("base64", None, r"[A-Za-z0-9+/]{43}=", 256),
        ("token", 48, r"[A-Za-z0-9_-]{64}", 384),
    ],
)
def test_generated_values_are_strong(kind, length, pattern, entropy_bits):
    values = {generate(kind, length) for _ in range(50)}
    assert len(values) == 50
    assert all(re.fullmatch(pattern, value) for value in values)
    assert entropy_bits >= 119


def test_password_uses_the_whole_alphabet():
    seen = set("".join(generate("password") for _ in range(200)))
    assert seen == set(PASSWORD_ALPHABET)


def test_weak_or_unknown_requests_are_refused():
    with pytest.raises(ValueError, match="at least 16"):
        generate("password", 8)
    with pytest.raises(ValueError, match="unknown secret kind"):
        generate("pin")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "Admin", "a//b", "/a", "a/", "../x", "a b", "a/.hidden"])
def test_bad_names_refused(tmp_path: Path, name):
    store = SecretStore(tmp_path / "s.yml", b"pw")
    with pytest.raises(ValueError, match="invalid secret name"):
        store.get_or_create(name)


def test_no_value_in_repr_or_str(tmp_path: Path):
    store = SecretStore(tmp_path / "s.yml", b"the-vault-password")
    value = store.get_or_create("directory/admin")
    for text in (repr(store), str(store), f"{store}", f"{store!r}"):
        assert value not in text
        assert "the-vault-password" not in text
        assert "1 secrets" in text
    assert value in store.all_secret_values()
    assert "the-vault-password" in store.all_secret_values()


def test_missing_secret_is_a_secrets_error(tmp_path: Path):
    with pytest.raises(SecretsError, match="no secret named"):
        SecretStore(tmp_path / "s.yml", b"pw").get("directory/admin")
