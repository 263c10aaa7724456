"""The filters every template may use (souverain.render.templating)."""

from __future__ import annotations

import base64
import hashlib

import jinja2
import pytest

from souverain.render.templating import FILTERS


def render(source: str, **context: object) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters.update(FILTERS)
    return env.from_string(source).render(context)


def test_sha256_is_the_hex_digest_of_the_utf8_text():
    assert render("{{ 'policé' | sha256 }}") == hashlib.sha256("policé".encode()).hexdigest()


def test_public_key_base64_gives_the_der_public_key_of_a_pem_private_key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    text = render("{{ pem | public_key_base64 }}", pem=pem)
    public = serialization.load_der_public_key(base64.b64decode(text))
    assert public.public_numbers() == key.public_key().public_numbers()
    assert "PRIVATE" not in text


@pytest.mark.parametrize(
    ("address", "kind"), [("192.0.2.1", "A"), ("2001:db8::1", "AAAA"), ("::ffff:192.0.2.1", "AAAA")]
)
def test_address_type_is_the_record_type_of_an_address(address: str, kind: str):
    assert render("{{ address | address_type }}", address=address) == kind
