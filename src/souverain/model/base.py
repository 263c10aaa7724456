"""Shared building blocks of the suite model: strict base class and validated scalar types."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Annotated

import idna
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_IDENT = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Strict(BaseModel):
    """Every model forbids unknown keys, so a typo in suite.yml is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# Scripts that one label may mix (as browsers allow: Japanese, Chinese and Korean writing mixes
# Han with its own scripts and Latin). Any other mix, such as a Cyrillic "а" in a Latin word,
# is how a look-alike of another name is made.
_SCRIPT_MIXES = (
    frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "CJK", "BOPOMOFO"}),
    frozenset({"LATIN", "CJK", "HANGUL"}),
)
_COMMON_PREFIXES = ("MODIFIER", "COMBINING", "DIGIT")


def _scripts(label: str) -> set[str]:
    """The scripts of the letters of a label, from their Unicode names (LATIN, CYRILLIC…)."""
    found: set[str] = set()
    for character in label:
        if not unicodedata.category(character).startswith("L"):
            continue
        word = unicodedata.name(character, "").split(" ")[0]
        if word.startswith(_COMMON_PREFIXES) or not word:
            continue
        found.add("KATAKANA" if word == "KATAKANA-HIRAGANA" else word)
    return found


def _mixes_scripts(label: str) -> bool:
    scripts = _scripts(label)
    return len(scripts) > 1 and not any(scripts <= allowed for allowed in _SCRIPT_MIXES)


def _a_label(label: str, name: str) -> str:
    """The label in the form DNS carries (punycode for non-ASCII), or a ValueError."""
    try:
        if label.startswith("xn--"):
            unicode_label = idna.ulabel(label)
            if idna.alabel(unicode_label).decode("ascii") != label:
                raise idna.IDNAError("not the canonical A-label of its Unicode form")
        elif label.isascii():
            return label
        else:
            unicode_label = label
            label = idna.alabel(label).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError) as error:
        raise ValueError(
            f"{label!r} in {name} is not a valid internationalised label (IDNA 2008): {error}"
        ) from None
    if _mixes_scripts(unicode_label):
        scripts = ", ".join(sorted(_scripts(unicode_label)))
        raise ValueError(
            f"{unicode_label!r} in {name} mixes scripts ({scripts}), the way look-alikes of "
            "other names are made; write each label in one script"
        )
    return label


def _domain(value: str) -> str:
    """A fully qualified domain name, in its A-label (ASCII) form.

    Unicode names are mapped as UTS 46 says (case, full-width forms) and converted to
    punycode; 'xn--' labels must decode to valid IDNA 2008 labels.
    """
    name = value.strip().rstrip(".")
    if not name.isascii():
        try:
            name = idna.uts46_remap(name, std3_rules=True, transitional=False)
        except (idna.IDNAError, UnicodeError, ValueError) as error:
            raise ValueError(
                f"{name!r} is not a valid internationalised domain name: {error}"
            ) from None
    name = name.lower()
    if "." not in name:
        raise ValueError("expected a fully qualified domain name such as example.org")
    labels = [_a_label(label, name) for label in name.split(".")]
    name = ".".join(labels)
    if len(name) > 253:
        raise ValueError(
            f"a domain name has at most 253 characters in DNS; this one has {len(name)}"
        )
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


# Debian's useradd refuses user names longer than 32 characters, and each tenant gets system
# users named after its id: mx-<id> runs its homeserver, nc-<id> its drive. Three characters of
# prefix leave 29 for the id.
SYSTEM_USER_MAX = 32
TENANT_USER_PREFIX_MAX = 3
TENANT_ID_MAX = SYSTEM_USER_MAX - TENANT_USER_PREFIX_MAX


def _tenant_id(value: str) -> str:
    value = _identifier(value)
    if len(value) > TENANT_ID_MAX:
        raise ValueError(
            f"a tenant id has at most {TENANT_ID_MAX} characters (this one has {len(value)}): "
            f"each tenant gets system users named after it, such as mx-<id> for its "
            f"homeserver, and Debian refuses user names longer than {SYSTEM_USER_MAX}"
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
TenantId = Annotated[str, AfterValidator(_tenant_id)]
IPAddress = Annotated[str, AfterValidator(_ipv4_or_ipv6)]
Network = Annotated[str, AfterValidator(_network)]
Sha256 = Annotated[str, AfterValidator(_sha256)]
Port = Annotated[int, Field(ge=1, le=65535)]
