"""What the pki role receives from a render: the CA everywhere, host certificates on every
host, tenant certificates on proxy hosts only, keys vault-encrypted and 0600 in the build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from souverain import vault
from souverain.deployment import Deployment
from souverain.secrets import read_password
from tests.unit.test_role_base_render import render_suite, three_hosts

TLS = "/etc/souverain/tls"


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_suite(tmp_path_factory.mktemp("pki"), three_hosts)


def pki_files(build: Path, host: str) -> list[dict]:
    data = json.loads((build / "inventory/host_vars" / host / "souverain.json").read_text())
    return data["pki_files"]


@pytest.mark.parametrize("host", ["web", "data", "apps"])
def test_every_host_gets_the_ca_and_its_own_certificate(build, host):
    dests = {item["dest"]: item for item in pki_files(build, host)}
    assert dests[f"{TLS}/ca.crt"]["service"] == "ca"
    crt, key = dests[f"{TLS}/host-{host}.crt"], dests[f"{TLS}/host-{host}.key"]
    assert (crt["service"], key["service"]) == ("tls", "tls")
    assert (crt["tenant"], key["tenant"]) == (None, None)
    # readable by local services through Debian's ssl-cert group, never by others
    assert (key["mode"], key["group"]) == ("0640", "ssl-cert")
    names = x509.load_pem_x509_certificate((build / crt["src"]).read_bytes()).extensions
    san = names.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    assert f"{host}.acme.internal" in san.get_values_for_type(x509.DNSName)


def test_tenant_certificates_go_to_proxy_hosts_only(build):
    assert any(item["tenant"] == "acme" for item in pki_files(build, "web"))
    for host in ("data", "apps"):
        assert all(item["tenant"] is None for item in pki_files(build, host))


def test_keys_are_encrypted_in_the_build(build):
    keys = [item for item in pki_files(build, "web") if item["dest"].endswith(".key")]
    assert {item["dest"] for item in keys} == {f"{TLS}/host-web.key", f"{TLS}/tenant-acme.key"}
    for item in keys:
        stored = (build / item["src"]).read_bytes()
        assert vault.is_encrypted(stored)
        assert b"PRIVATE KEY" not in stored


def test_certificates_chain_to_the_ca(build):
    ca = x509.load_pem_x509_certificate(
        (build / "hosts/web/files" / TLS[1:] / "ca.crt").read_bytes()
    )
    leaves = [
        item
        for item in pki_files(build, "web")
        if item["dest"].endswith(".crt") and item["service"] == "tls"
    ]
    # The host's certificate and its tenant's: a filter that matched nothing would prove nothing.
    assert {item["dest"] for item in leaves} == {f"{TLS}/host-web.crt", f"{TLS}/tenant-acme.crt"}
    for item in leaves:
        leaf = x509.load_pem_x509_certificates((build / item["src"]).read_bytes())[0]
        leaf.verify_directly_issued_by(ca)


def test_the_key_decrypts_to_the_certificates_key(build):
    deployment = Deployment.at(build.resolve().parent)
    password = read_password(deployment)
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    files = {item["dest"]: item for item in pki_files(build, "data")}
    key_pem = vault.decrypt((build / files[f"{TLS}/host-data.key"]["src"]).read_bytes(), password)
    key = load_pem_private_key(key_pem, None)
    cert = x509.load_pem_x509_certificates(
        (build / files[f"{TLS}/host-data.crt"]["src"]).read_bytes()
    )[0]
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
