"""Shared building blocks of the suite model: strict base class and validated scalar types."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_IDENT = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Strict(BaseModel):
    """Every model forbids unknown keys, so a typo in suite.yml is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _domain(value: str) -> str:
    name = value.strip().rstrip(".").lower()
    if len(name) > 253 or "." not in name:
        raise ValueError("expected a fully qualified domain name such as example.org")
    labels = name.split(".")
    if not all(_LABEL.match(label) for label in labels):
        raise ValueError(
            "expected a domain name made of letters, digits and hyphens "
            "(labels of 1-63 characters, not starting or ending with a hyphen)"
        )
    if labels[-1].isdigit():
        raise ValueError("a domain name cannot end with a number; is this an IP address?")
    return name


def _identifier(value: str) -> str:
    if not _IDENT.match(value):
        raise ValueError(
            "expected an identifier of lowercase letters, digits and hyphens, "
            "starting with a letter, at most 32 characters"
        )
    return value


def _ipv4_or_ipv6(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("expected an IPv4 or IPv6 address such as 192.0.2.10") from None


def _network(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ValueError("expected a network in CIDR notation such as 10.0.0.0/8") from None


def _sha256(value: str) -> str:
    if not _SHA256.match(value.lower()):
        raise ValueError("expected a sha256 checksum: 64 hexadecimal characters")
    return value.lower()


DomainName = Annotated[str, AfterValidator(_domain)]
Identifier = Annotated[str, AfterValidator(_identifier)]
IPAddress = Annotated[str, AfterValidator(_ipv4_or_ipv6)]
Network = Annotated[str, AfterValidator(_network)]
Sha256 = Annotated[str, AfterValidator(_sha256)]
Port = Annotated[int, Field(ge=1, le=65535)]
