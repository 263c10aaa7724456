"""Effective settings of configuration files and command outputs, with their line numbers.

Each format turns text into a list of (key, value, line) in file order; which occurrence
wins is the format's rule (sshd: the first; postfix, keyvalue, sysctl, pgconf: the last;
nginx: every occurrence is checked, since each server block carries its own).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Entry:
    key: str
    value: Any
    line: int  # 1-based; 0 when the format has no lines (json)
    where: str = ""  # the file, when entries of several files are merged


# Which occurrence the service uses: first, last or all (each must pass).
WINS = {
    "sshd": "first",
    "keyvalue": "last",
    "sysctl": "last",
    "postfix": "last",
    "pgconf": "last",
    "nginx": "all",
    "dovecot": "last",
    "json": "last",
    "yaml": "last",
    "lines": "all",
    "x509": "first",
}
CASE_INSENSITIVE_KEYS = {"sshd"}


def strip_comment(line: str, marker: str = "#") -> str:
    if marker not in line:
        return line
    if "'" not in line and '"' not in line:
        return line[: line.index(marker)]
    quote = None
    for index, char in enumerate(line):
        if char in "'\"" and (quote is None or quote == char):
            quote = None if quote else char
        elif char == marker and quote is None:
            return line[:index]
    return line


def meaningful_lines(text: str, marker: str = "#") -> list[tuple[int, str]]:
    result = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = strip_comment(raw, marker).strip()
        if line and not line.startswith("//"):
            result.append((number, line))
    return result


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def parse_sshd(text: str) -> list[Entry]:
    """`Key value` lines (sshd_config, `sshd -T` output); Match blocks end the global part."""
    entries = []
    for number, line in meaningful_lines(text):
        key, _, value = line.partition(" ")
        if key.lower() == "match":
            break
        entries.append(Entry(key.lower(), value.strip(), number))
    return entries


def parse_assign(text: str) -> list[Entry]:
    """`key = value` (postfix main.cf, sysctl.conf, postgresql.conf, journald ini...)."""
    entries = []
    for number, line in meaningful_lines(text):
        if line.startswith("[") and line.endswith("]"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            key, _, value = line.partition(" ")
        entries.append(Entry(key.strip(), _unquote(value), number))
    return entries


def parse_dovecot(text: str) -> list[Entry]:
    """Top-level `key = value` of dovecot.conf; settings inside `name { ... }` blocks (a
    listener's `ssl = yes`, a service's `port`) mean something else and are skipped."""
    entries = []
    depth = 0
    for number, line in meaningful_lines(text):
        if line.endswith("{"):
            depth += 1
        elif line == "}":
            depth = max(0, depth - 1)
        elif depth == 0 and "=" in line:
            key, _, value = line.partition("=")
            entries.append(Entry(key.strip(), _unquote(value), number))
    return entries


_NGINX_STATEMENT = re.compile(r"([^;{}]+)([;{}])")


def parse_nginx(text: str) -> list[Entry]:
    """Simple directives `name args;` anywhere in the file (block structure ignored)."""
    entries = []
    for number, line in meaningful_lines(text):
        for statement, end in _NGINX_STATEMENT.findall(line):
            if end != ";":
                continue
            name, _, args = statement.strip().partition(" ")
            entries.append(Entry(name, args.strip(), number))
    return entries


def _flatten(data: Any, prefix: str = "") -> list[Entry]:
    entries = [Entry(prefix, data, 0)] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            entries += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    return entries


def parse_json(text: str) -> list[Entry]:
    try:
        return _flatten(json.loads(text))
    except ValueError:
        return []


def parse_yaml(text: str) -> list[Entry]:
    """YAML documents such as Synapse's homeserver.yaml (libyaml when available: fast)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return _flatten(yaml.load(text, Loader=loader))
    except yaml.YAMLError:
        return []


def parse_x509(text: str) -> list[Entry]:
    """The first certificate of a PEM file: key_type, rsa_bits or ec_bits, days_left, hash."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    start = text.find("-----BEGIN CERTIFICATE-----")
    if start < 0:
        return []
    line = text[:start].count("\n") + 1
    try:
        cert = x509.load_pem_x509_certificate(text[start:].encode())
    except ValueError:
        return []
    key = cert.public_key()
    entries = [Entry("subject", cert.subject.rfc4514_string(), line)]
    if isinstance(key, rsa.RSAPublicKey):
        entries += [Entry("key_type", "rsa", line), Entry("rsa_bits", key.key_size, line)]
    elif isinstance(key, ec.EllipticCurvePublicKey):
        entries += [Entry("key_type", "ec", line), Entry("ec_bits", key.curve.key_size, line)]
    else:
        entries.append(Entry("key_type", type(key).__name__, line))
    left = (cert.not_valid_after_utc - dt.datetime.now(dt.UTC)).days
    entries.append(Entry("days_left", left, line))
    algorithm = cert.signature_hash_algorithm
    entries.append(Entry("signature_hash", algorithm.name if algorithm else "none", line))
    return entries


PARSERS = {
    "dovecot": parse_dovecot,
    "x509": parse_x509,
    "sshd": parse_sshd,
    "keyvalue": parse_assign,
    "sysctl": parse_assign,
    "postfix": parse_assign,
    "pgconf": parse_assign,
    "nginx": parse_nginx,
    "json": parse_json,
    "yaml": parse_yaml,
    "lines": lambda text: [],
}


def effective(entries: list[Entry], key: str, fmt: str) -> list[Entry]:
    """The occurrences of ``key`` that the service uses (one, or all for nginx)."""
    if fmt in CASE_INSENSITIVE_KEYS:
        key = key.lower()
    found = [entry for entry in entries if entry.key == key]
    if not found:
        return []
    wins = WINS[fmt]
    if wins == "first":
        return found[:1]
    if wins == "last":
        return found[-1:]
    return found
