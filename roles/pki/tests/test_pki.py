"""testinfra checks of the pki role, run by `souverain verify` against the hosts of the pki
group (every host): the suite CA is trusted by the system, each certificate placed chains to
it without naming the CA file, keys match their certificates and are not world-readable.

With SOUVERAIN_INVENTORY set (as `souverain verify` does), the list of certificates and keys
comes from the rendered inventory (read through souverain's reader of the build); without
it, from what is found in /etc/souverain/tls.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from souverain.builddir import HOSTS_FILE, BuildDir, host_vars_file

TLS = "/etc/souverain/tls"


def _build() -> BuildDir | None:
    value = os.environ.get("SOUVERAIN_INVENTORY")
    return BuildDir.of_inventory(Path(value)) if value else None


def _name(host) -> str:
    return str(getattr(host.backend, "hostname", "") or host.backend.get_hostname())


@pytest.fixture(autouse=True)
def _only_pki_hosts(host):
    build = _build()
    if build is None or not build.has(HOSTS_FILE):
        return
    if _name(host) not in build.inventory().groups.get("pki", []):
        pytest.skip(f"{_name(host)} does not carry the pki component")


def _placed(host) -> list[dict]:
    build = _build()
    if build is not None and build.has(host_vars_file(_name(host))):
        return build.host_vars(_name(host))["pki_files"]
    names = host.run(f"ls {TLS}").stdout.split()
    return [
        {"dest": f"{TLS}/{n}", "tenant": None if n.startswith("host-") else n, "service": "tls"}
        for n in names
        if n.endswith((".crt", ".key")) and n != "ca.crt"
    ]


def _certificates(host) -> list[str]:
    return [
        f["dest"] for f in _placed(host) if f["service"] == "tls" and f["dest"].endswith(".crt")
    ]


def test_ca_is_installed(host):
    ca = host.file(f"{TLS}/ca.crt")
    assert ca.exists and ca.user == "root" and ca.mode == 0o644
    assert host.run(f"openssl x509 -noout -in {TLS}/ca.crt").rc == 0


def test_ca_is_in_the_system_trust_store(host):
    # The CA verifies against the system store alone only if update-ca-certificates took it.
    assert host.run(f"openssl verify -CApath /etc/ssl/certs {TLS}/ca.crt").rc == 0


def test_host_certificate_is_present(host):
    assert f"{TLS}/host-{_name(host)}.crt" in _certificates(host)


def test_certificates_are_trusted_by_the_system(host):
    for certificate in _certificates(host):
        checked = host.run(f"openssl verify -CApath /etc/ssl/certs {certificate}")
        assert checked.rc == 0, f"{certificate}: {checked.stdout}{checked.stderr}"


def test_certificates_do_not_expire_within_30_days(host):
    for certificate in _certificates(host):
        assert host.run(f"openssl x509 -noout -checkend 2592000 -in {certificate}").rc == 0


def test_keys_match_their_certificates(host):
    for certificate in _certificates(host):
        key = certificate[: -len(".crt")] + ".key"
        from_cert = host.check_output(f"openssl x509 -noout -pubkey -in {certificate}")
        from_key = host.check_output(f"openssl pkey -pubout -in {key}")
        assert from_cert == from_key, key


def test_keys_are_not_readable_by_others(host):
    for item in _placed(host):
        if not item["dest"].endswith(".key"):
            continue
        key = host.file(item["dest"])
        assert key.user == "root"
        if item["tenant"] is None:  # the host's own key: readable by ssl-cert members
            assert (key.group, key.mode) == ("ssl-cert", 0o640)
        else:  # tenant keys: nginx's master process reads them as root
            assert (key.group, key.mode) == ("root", 0o600)
