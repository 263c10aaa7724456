"""The kinds of string suite.yml holds, each with the characters it may carry.

Every string of the model has one of these types, so that no value can bring a line break, a
NUL or a bidirectional override into a rendered file, nor a Jinja2 delimiter into the
variables Ansible templates again. What a kind accepts is what every file format it reaches
can carry; free text (a display name) still goes through the filter of its target format when
it is printed (see souverain.render.templating).
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, HttpUrl

# Unicode categories no value may hold: control (Cc: \n \r \t NUL...), format (Cf: the
# bidirectional overrides, zero-width characters), surrogate, private use, unassigned, and the
# line and paragraph separators U+2028 and U+2029 (Zl, Zp), which YAML and JavaScript treat
# as line breaks.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Ansible templates the variables it reads: these would run there as Jinja2.
_JINJA_DELIMITERS = ("{{", "}}", "{%", "%}", "{#", "#}")

_HOST_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_HOSTNAME = re.compile(rf"{_HOST_LABEL}(\.{_HOST_LABEL})*\.?")
_PORT_SUFFIX = re.compile(r"(?P<host>.+):(?P<port>[0-9]{1,5})")
_BRACKETED_V6 = re.compile(r"\[(?P<host>[0-9A-Fa-f:.]+)\](:(?P<port>[0-9]{1,5}))?")
_EMAIL = re.compile(r"(?P<local>[A-Za-z0-9._%+-]{1,64})@(?P<domain>.+)")
_SSH_URL = re.compile(
    r"ssh://(?:[a-z_][a-z0-9_-]{0,31}@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)"
    r"(?::(?P<port>[0-9]{1,5}))?/[A-Za-z0-9._~/+-]*"
)


_CONTROL_NAMES = {"\n": "LINE FEED", "\r": "CARRIAGE RETURN", "\t": "TAB", "\0": "NUL"}


def _describe(char: str) -> str:
    name = _CONTROL_NAMES.get(char) or unicodedata.name(char, "")
    code = f"U+{ord(char):04X}"
    return f"{code} {name}".strip() if name else code


def _first_refused(value: str) -> str | None:
    for char in value:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            return char
    return None


def _no_control_characters(value: str) -> None:
    refused = _first_refused(value)
    if refused is not None:
        raise ValueError(
            f"the character {_describe(refused)} is not allowed: no line break, tab, NUL, "
            "control or invisible formatting character (such as a direction override)"
        )


def _no_jinja_delimiters(value: str) -> None:
    for delimiter in _JINJA_DELIMITERS:
        if delimiter in value:
            raise ValueError(
                f"{delimiter!r} is not allowed: Ansible would read it as a template delimiter"
            )


def _bounded(value: str, max_length: int) -> None:
    if not value:
        raise ValueError("expected a value, got an empty string")
    if len(value) > max_length:
        raise ValueError(f"at most {max_length} characters, got {len(value)}")


def display_name(max_length: int) -> Callable[[str], str]:
    """Free text shown to people: printable, one line, no surrounding spaces."""

    def check(value: str) -> str:
        _bounded(value, max_length)
        _no_control_characters(value)
        _no_jinja_delimiters(value)
        if value != value.strip():
            raise ValueError("expected no space at the start or the end")
        return value

    return check


def _hostname_or_ip(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        return value
    if len(value) > 253 or not _HOSTNAME.fullmatch(value):
        raise ValueError(
            "expected a host name (letters, digits, hyphens and dots, such as "
            "ntp.example.org) or an IP address"
        )
    return value


def _port_number(text: str) -> None:
    if not 1 <= int(text) <= 65535:
        raise ValueError(f"port {text} is out of range: expected 1-65535")


def _hostname_or_ip_with_port(value: str) -> str:
    bracketed = _BRACKETED_V6.fullmatch(value)
    if bracketed:
        try:
            ipaddress.IPv6Address(bracketed["host"])
        except ValueError:
            raise ValueError(f"[{bracketed['host']}] is not an IPv6 address") from None
        if bracketed["port"]:
            _port_number(bracketed["port"])
        return value
    with_port = _PORT_SUFFIX.fullmatch(value)
    if with_port and ":" not in with_port["host"]:
        try:
            _hostname_or_ip(with_port["host"])
        except ValueError:
            raise ValueError(_SERVER_EXPECTED) from None
        _port_number(with_port["port"])
        return value
    try:
        return _hostname_or_ip(value)
    except ValueError:
        raise ValueError(_SERVER_EXPECTED) from None


_SERVER_EXPECTED = (
    "expected a host name or an IP address, with an optional port: fuzzy.example.org, "
    "fuzzy.example.org:11335, 192.0.2.5:11335 or [2001:db8::5]:11335"
)


def _email(value: str) -> str:
    match = _EMAIL.fullmatch(value)
    if not match or "." not in match["domain"] or not _HOSTNAME.fullmatch(match["domain"]):
        raise ValueError(
            "expected an email address such as admin@example.org (letters, digits and "
            "._%+- before the @, a domain name after it)"
        )
    return value


def _ssh_url(value: str) -> str:
    match = _SSH_URL.fullmatch(value)
    if not match:
        raise ValueError(
            "expected an ssh:// URL such as ssh://borg@backup.example.org:22/./suite "
            "(user, host and port optional parts; the path of letters, digits and ._~/+-)"
        )
    host = match["host"].strip("[]")
    _hostname_or_ip(host)
    if match["port"]:
        _port_number(match["port"])
    return value


def _file_path(value: str) -> str:
    _bounded(value, 4096)
    _no_control_characters(value)
    _no_jinja_delimiters(value)
    return value


def _url_text(value: object) -> object:
    # The URL parser would drop a line break or a tab without a word: refuse them first.
    if isinstance(value, str):
        _no_control_characters(value)
        _no_jinja_delimiters(value)
    return value


def _matching(pattern: str, expected: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"expected {expected}")
        return value

    return check


# Free text, printed in files through the filter of each format.
TenantName = Annotated[str, AfterValidator(display_name(128))]
ProviderName = Annotated[str, AfterValidator(display_name(128))]
RegionName = Annotated[str, AfterValidator(display_name(128))]
OrganisationName = Annotated[str, AfterValidator(display_name(64))]

# Addresses and locations: their syntax leaves no room for a delimiter of any format.
ServerAddress = Annotated[str, AfterValidator(_hostname_or_ip)]
ServerAddressWithPort = Annotated[str, AfterValidator(_hostname_or_ip_with_port)]
EmailAddress = Annotated[str, AfterValidator(_email)]
SshUrl = Annotated[str, AfterValidator(_ssh_url)]
FilePath = Annotated[str, AfterValidator(_file_path)]
WebUrl = Annotated[HttpUrl, BeforeValidator(_url_text)]

# Words of a fixed syntax.
CountryCode = Annotated[
    str, AfterValidator(_matching(r"[A-Z]{2}", "an ISO 3166-1 alpha-2 code such as FR"))
]
UnixUser = Annotated[
    str,
    AfterValidator(
        _matching(
            r"[a-z_][a-z0-9_-]{0,31}",
            "a Unix user name: lowercase letters, digits, _ and -, at most 32 characters",
        )
    ),
]
HostLabel = Annotated[
    str,
    AfterValidator(
        _matching(
            r"[a-z0-9-]{1,63}",
            "one DNS label (lowercase letters, digits and hyphens, at most 63), such as mail",
        )
    ),
]
GroupName = Annotated[
    str,
    AfterValidator(
        _matching(
            r"[a-z0-9_-]{1,64}", "a group name: lowercase letters, digits, _ and -, at most 64"
        )
    ),
]
ArtifactVersion = Annotated[
    str,
    AfterValidator(
        _matching(r"[A-Za-z0-9.+~_-]{1,64}", "a version of letters, digits and .+~_- such as 1.2.3")
    ),
]
ReleaseVersion = Annotated[
    str, AfterValidator(_matching(r"[0-9]+\.[0-9]+\.[0-9]+", "a version such as 1.163.2"))
]
SizeWithUnit = Annotated[
    str, AfterValidator(_matching(r"[0-9]+[KMG]", "a size with its unit K, M or G, such as 2G"))
]
TimeZoneName = Annotated[
    str,
    AfterValidator(
        _matching(r"[A-Za-z_]+(/[A-Za-z0-9_+-]+){0,2}", "a time zone name such as Europe/Paris")
    ),
]
DirectorySuffix = Annotated[
    str,
    AfterValidator(
        _matching(
            r"(?=.{1,255}$)dc=[a-z0-9-]{1,63}(,dc=[a-z0-9-]{1,63})*",
            "a base DN of dc= parts such as dc=example,dc=org (at most 255 characters)",
        )
    ),
]
