"""The whole output of `souverain dns`, pinned byte for byte for a suite that uses everything.

Three hosts (one reached over IPv6), three tenants with different components and extra
domains, a DKIM key for one tenant only, chat federation off in one suite and on in the
other (where visio also sits behind NAT). The same tenants are pinned on other layouts
(LAYOUTS): everything on one host, and four hosts where the front proxies to the others.
The expected texts live in fixtures/dns/; the DKIM record's value, which changes with the
key generated here, stands there as ``{dkim}``.

After an intended change of the output, refresh them with
    SOUVERAIN_UPDATE_DNS=1 .venv/bin/pytest tests/unit/test_dns_output.py
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from souverain.deployment import Deployment
from souverain.dns.records import Record
from souverain.secrets import SecretStore, ensure_password_file
from tests.unit.layouts import FOUR_HOSTS, ONE_HOST

EXPECTED = Path(__file__).parent / "fixtures" / "dns"
UPDATE = os.environ.get("SOUVERAIN_UPDATE_DNS") == "1"


def public_key_base64(pem: str) -> str:
    """The DKIM p= tag of a PEM private key, worked out here rather than by souverain."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(pem.encode(), password=None)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@cache
def dkim_key() -> tuple[str, str]:
    """A fresh RSA key: its PEM text and the base64 of its public key (the DKIM p= tag)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    return pem, public_key_base64(pem)


THREE_HOSTS = [
    {
        "name": "front",
        "address": "192.0.2.10",
        "components": ["proxy", "postgresql", "directory", "sso"],
    },
    {"name": "post", "address": "192.0.2.20", "components": ["mail"]},
    {"name": "apps", "address": "2001:db8::30", "components": ["redis", "chat", "visio", "drive"]},
]
# Other layouts of the same tenants (federation off), pinned under their names in fixtures/dns/
LAYOUTS = {"one-host": ONE_HOST, "four-hosts": FOUR_HOSTS}


def everything(data, *, federation: bool, hosts: list | None = None) -> None:
    data["hosts"] = THREE_HOSTS if hosts is None else hosts
    if len(data["hosts"]) > 1:
        # `init` turns backups on for its one host; these hosts keep no repositories.
        data["components"]["backup"]["enabled"] = False
    data["tenants"][0]["extra_domains"] = ["acme-mail.example.org"]
    data["tenants"].append(
        {
            "id": "beta",
            "name": "Beta",
            "domain": "beta.example.net",
            "extra_domains": ["beta.example.com"],
            "components": ["mail", "drive"],
        }
    )
    data["tenants"].append(
        {
            "id": "gamma",
            "name": "Gamma",
            "domain": "gamma.example.net",
            "components": ["chat", "visio"],
        }
    )
    if federation:
        data["components"]["chat"]["federation"] = {
            "mode": "allowlist",
            "allowlist": ["partner.example.com"],
        }
        data["components"]["visio"]["public_address"] = "198.51.100.7"
        data["components"]["mail"]["dmarc_policy"] = "reject"
        data["components"]["mail"]["mta_sts_mode"] = "testing"


def deployment_of(directory: Path, *, federation: bool, hosts: list | None = None) -> Deployment:
    from souverain.scaffold import init_deployment

    target = directory / "suite"
    init_deployment(target, domain="acme.example.org", name="acme")
    deployment = Deployment.at(target)
    ensure_password_file(deployment)
    yaml = YAML()
    yaml.preserve_quotes = True
    data = yaml.load(deployment.suite_file.read_text())
    everything(data, federation=federation, hosts=hosts)
    with deployment.suite_file.open("w") as stream:
        yaml.dump(data, stream)
    with SecretStore.open(deployment) as store:
        store.get_or_make("mail/acme/dkim", lambda: dkim_key()[0])
    return deployment


def output(deployment: Deployment, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "souverain", "-C", str(deployment.root), "dns", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("federation", [False, True], ids=["federation-off", "federation-on"])
@pytest.mark.parametrize("as_json", [False, True], ids=["zone", "json"])
def test_dns_output_is_pinned(tmp_path: Path, federation: bool, as_json: bool):
    deployment = deployment_of(tmp_path, federation=federation)
    text = output(deployment, *(["--json"] if as_json else []))
    public = f"v=DKIM1; k=rsa; p={dkim_key()[1]}"
    if not as_json:
        public = Record("", "TXT", public).zone_value()  # in 255-byte strings
    assert public in text and "PRIVATE KEY" not in text
    name = f"federation-{'on' if federation else 'off'}.{'json' if as_json else 'zone'}"
    compare(text, public, name)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("as_json", [False, True], ids=["zone", "json"])
def test_dns_output_of_each_layout_is_pinned(tmp_path: Path, layout: str, as_json: bool):
    deployment = deployment_of(tmp_path, federation=False, hosts=LAYOUTS[layout])
    text = output(deployment, *(["--json"] if as_json else []))
    public = f"v=DKIM1; k=rsa; p={dkim_key()[1]}"
    if not as_json:
        public = Record("", "TXT", public).zone_value()
    compare(text, public, f"{layout}.{'json' if as_json else 'zone'}")


def compare(text: str, public: str, name: str) -> None:
    """``text`` is the pinned output ``name``, its DKIM value ``public`` standing as {dkim}."""
    if UPDATE:
        EXPECTED.mkdir(parents=True, exist_ok=True)
        (EXPECTED / name).write_text(text.replace(public, "{dkim}"))
        pytest.skip("expected output refreshed")
    assert text == (EXPECTED / name).read_text().replace("{dkim}", public)


def test_one_tenant_prints_its_part_of_the_whole(tmp_path: Path):
    deployment = deployment_of(tmp_path, federation=True)
    whole = output(deployment)
    beta = output(deployment, "--tenant", "beta")
    header, *tenants = whole.split("\n; Tenant ")
    assert beta == header + "\n; Tenant " + tenants[1]
