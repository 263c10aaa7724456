"""Effective settings of configuration files and command outputs, with their line numbers.

Each format turns text into a list of (key, value, line) in file order; which occurrence
wins is the format's rule (sshd: the first; postfix, keyvalue, sysctl, pgconf: the last;
nginx: every occurrence is checked, since each server block carries its own).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from functools import cache
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


def meaningful_lines(
    text: str, marker: str = "#", containing: tuple[str, ...] | None = None
) -> list[tuple[int, str]]:
    """(number, line) of the lines left once comments and blanks are dropped; with
    ``containing``, only the lines holding one of these words (see :func:`lines_containing`)."""
    numbered = (
        enumerate(text.splitlines(), start=1)
        if containing is None
        else lines_containing(text, containing)
    )
    return [
        (number, line)
        for number, raw in numbered
        if (line := (strip_comment(raw, marker) if marker in raw else raw).strip())
        and not line.startswith("//")
    ]


@cache
def _any_of(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(word) for word in words))


def lines_containing(text: str, words: tuple[str, ...]) -> list[tuple[int, str]]:
    """(number, raw line) of the lines of ``text`` that contain one of ``words``, numbered as
    ``str.splitlines`` numbers them.

    One regex search over the whole text instead of a Python loop over its lines: a file of
    a thousand lines where a rule looks for two keys costs microseconds, not milliseconds.
    """
    lines = text.splitlines()
    if "" in words:
        return list(enumerate(lines, start=1))
    # A word holding a line break can be in no line; dropping it keeps matches within lines.
    words = tuple(word for word in words if word.splitlines() == [word])
    if not words:
        return []
    joined = "\n".join(lines)  # the lines hold no line break: each "\n" here ends one
    result: list[tuple[int, str]] = []
    index = position = 0
    for match in _any_of(words).finditer(joined):
        index += joined.count("\n", position, match.start())
        position = match.start()
        if not result or result[-1][0] != index + 1:
            result.append((index + 1, lines[index]))
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


def parse_assign(text: str, keys: tuple[str, ...] | None = None) -> list[Entry]:
    """`key = value` (postfix main.cf, sysctl.conf, postgresql.conf, journald ini...)."""
    entries = []
    for number, line in meaningful_lines(text, containing=keys):
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


def parse_nginx(text: str, keys: tuple[str, ...] | None = None) -> list[Entry]:
    """Simple directives `name args;` anywhere in the file (block structure ignored)."""
    entries = []
    for number, line in meaningful_lines(text, containing=keys):
        for statement, end in _NGINX_STATEMENT.findall(line):
            if end != ";":
                continue
            name, _, args = statement.strip().partition(" ")
            entries.append(Entry(name, args.strip(), number))
    return entries


def _flatten(data: Any, keys: tuple[str, ...] | None = None) -> list[Entry]:
    """Every value of a document under its dotted key, parents before their children; with
    ``keys``, only these keys' (the subtrees that cannot hold one are not visited)."""
    entries: list[Entry] = []
    wanted = None if keys is None else set(keys)
    # The dotted prefixes of the wanted keys: the branches that lead to one.
    on_the_way = (
        set() if keys is None else {k[:i] for k in keys for i, c in enumerate(k) if c == "."}
    )

    def visit(value: Any, prefix: str) -> None:
        if prefix and (wanted is None or prefix in wanted):
            entries.append(Entry(prefix, value, 0))
        if isinstance(value, dict):
            for key, item in value.items():
                path = f"{prefix}.{key}" if prefix else str(key)
                if wanted is None or path in wanted or path in on_the_way:
                    visit(item, path)

    visit(data, "")
    return entries


def parse_json(text: str, keys: tuple[str, ...] | None = None) -> list[Entry]:
    try:
        return _flatten(json.loads(text), keys)
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


def _first_certificate(text: str) -> tuple[Any, int]:
    """The first certificate of a PEM text and the line it starts on; None when none loads."""
    from cryptography import x509

    start = text.find("-----BEGIN CERTIFICATE-----")
    if start < 0:
        return None, 0
    line = text[:start].count("\n") + 1
    try:
        return x509.load_pem_x509_certificate(text[start:].encode()), line
    except ValueError:
        return None, line


def x509_days_left(text: str, now: dt.datetime) -> int | None:
    """The `days_left` :func:`parse_x509` gives at ``now`` (None: no certificate)."""
    cert, _ = _first_certificate(text)
    return None if cert is None else (cert.not_valid_after_utc - now).days


def parse_x509(text: str, now: dt.datetime | None = None) -> list[Entry]:
    """The first certificate of a PEM file: key_type, rsa_bits or ec_bits, days_left (at
    ``now``, by default this instant), hash."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    cert, line = _first_certificate(text)
    if cert is None:
        return []
    key = cert.public_key()
    entries = [Entry("subject", cert.subject.rfc4514_string(), line)]
    if isinstance(key, rsa.RSAPublicKey):
        entries += [Entry("key_type", "rsa", line), Entry("rsa_bits", key.key_size, line)]
    elif isinstance(key, ec.EllipticCurvePublicKey):
        entries += [Entry("key_type", "ec", line), Entry("ec_bits", key.curve.key_size, line)]
    else:
        entries.append(Entry("key_type", type(key).__name__, line))
    left = (cert.not_valid_after_utc - (now or dt.datetime.now(dt.UTC))).days
    entries.append(Entry("days_left", left, line))
    algorithm = cert.signature_hash_algorithm
    entries.append(Entry("signature_hash", algorithm.name if algorithm else "none", line))
    return entries


# Formats whose parser takes the keys a check reads and returns, for those keys, the entries
# a whole parse gives, doing less work: in nginx and `key = value` files every entry comes
# from one line, so only the lines containing a key are parsed; in JSON documents only the
# branches leading to a key are walked. (YAML is not: loading it is the cost, and the three
# rules reading homeserver.yaml share one load.)
BY_KEYS = {"nginx", "keyvalue", "sysctl", "postfix", "pgconf", "json"}

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
