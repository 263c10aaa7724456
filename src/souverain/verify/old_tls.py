"""What the testinfra suites need to offer TLS 1.0/1.1 with `openssl s_client` and read the result.

Debian's OpenSSL refuses TLS 1.0 and 1.1 on the client side at its default security level: a
check that the server refuses them would pass whatever the server does. Offering them at
security level 0 makes the server's own answer the verdict.
"""

from __future__ import annotations

import re

OLD_TLS = frozenset({"tls1", "tls1_1"})
OLD_TLS_CIPHERS = "DEFAULT:@SECLEVEL=0"
# What s_client prints when it is this host's OpenSSL, not the server, that would not go on:
# such a failure is no proof that the server refuses.
CLIENT_REFUSALS = ("no protocols available", "legacy sigalg disallowed")

_CIPHER = re.compile(r"^New, \S+, Cipher is (\S+)", re.MULTILINE)
_PROTOCOL = re.compile(r"^\s*Protocol\s*: (\S+)", re.MULTILINE)


def client_options(version: str) -> str:
    """The s_client options that offer `version` (tls1, tls1_1, tls1_2, tls1_3) and only it."""
    options = f"-{version}"
    if version in OLD_TLS:
        options += f" -cipher {OLD_TLS_CIPHERS}"
    return options


def negotiated(output: str) -> str | None:
    """The protocol an `openssl s_client` session negotiated, None when it negotiated none."""
    cipher = _CIPHER.search(output)
    if cipher is None or cipher.group(1) == "(NONE)":
        return None
    protocol = _PROTOCOL.search(output)
    return protocol.group(1) if protocol else "an unknown protocol"


def client_refusal(output: str, version: str) -> str | None:
    """Why the client's own OpenSSL would not offer `version`, None when it did offer it."""
    for text in CLIENT_REFUSALS:
        if text in output:
            return f"this host's openssl would not offer {version} ({text}): no proof"
    return None
