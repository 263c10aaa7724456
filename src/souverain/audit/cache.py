"""Judgements of unchanged files, kept between audits: a re-audit reads only what changed.

A file check's judgement of one file (its evidence, verdict hint and reason) depends on the
file's bytes, the check (settings, patterns, format), the file's path and whether the build
stores it encrypted, the audit's own code, and for a certificate its days left on the day of
the audit. The cache key is a SHA-256 over all of these. The file's bytes are hashed as they
are on disk, never taken from manifest.json, which a hand edit of the build does not update.

The judgement also depends on the secret values its evidence masks. The cache keeps a salted
hash of each secret value it was made with: when secrets were only added (a new tenant's), a
kept judgement is used unless its evidence holds one of the new values; when one was removed
or changed, every judgement is made again. So adding a tenant re-reads that tenant's files
and those listing every tenant, not the whole build.

What it saves: reading a secret file means deriving its key (PBKDF2, several milliseconds per
file, one file per tenant and rule); parsing a thousand tenants' nginx, Synapse and LemonLDAP
files costs seconds more. Hashing the same files costs milliseconds.

The cache is one file in the deployment directory, encrypted with the vault password like
the secrets: it holds evidence read from secret files (masked, but nobody else's business),
and a cache anyone could write could turn a failure into a pass; the vault HMAC rules that
out. A cache the password does not open, that is damaged or from another version of the
code, is ignored and replaced. An audit that cannot write it still succeeds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
import zlib
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from souverain import vault
from souverain.audit.buildview import BuiltFile
from souverain.audit.expect import Judged
from souverain.audit.findings import Evidence
from souverain.audit.rules import FileCheck
from souverain.errors import SecretsError
from souverain.fsutil import atomic_write

CACHE_FILE = ".audit-cache.vault"
FORMAT = 2


@cache
def code_fingerprint() -> str:
    """The audit code and the libraries that parse files: a change to any makes a new cache."""
    import yaml

    digest = hashlib.sha256(f"{FORMAT}\0{sys.version}\0{yaml.__version__}\0".encode())
    digest.update(b"libyaml" if hasattr(yaml, "CSafeLoader") else b"pure")
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _encode(judged: list[Judged] | None) -> Any:
    if judged is None:
        return None
    return [[j.ok, j.reason, [[e.text, e.where, e.line, e.ok] for e in j.evidence]] for j in judged]


class CachedJudged:
    """A :class:`Judged` read from the cache. Its evidence objects are made when first read:
    a report shows a few items per check out of thousands of files."""

    __slots__ = ("_evidence", "_raw", "ok", "reason")

    def __init__(self, ok: bool | None, reason: str, raw: list[list[Any]]) -> None:
        self.ok = ok
        self.reason = reason
        self._raw = raw
        self._evidence: tuple[Evidence, ...] | None = None

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        if self._evidence is None:
            self._evidence = tuple([Evidence(*item) for item in self._raw])
        return self._evidence


def _decode(data: Any) -> list[CachedJudged] | None:
    if data is None:
        return None
    return [CachedJudged(ok, reason, evidence) for ok, reason, evidence in data]


class JudgementCache:
    """(check, file) -> judgements, for the files whose bytes did not change."""

    def __init__(self, path: Path, password: bytes, secrets: Iterable[str]) -> None:
        self.path = path
        self._password = password
        self._salt = f"{code_fingerprint()}\0"
        self._secrets = {self._secret_hash(value): value for value in secrets}
        self._new_secrets: list[str] = []  # values the kept judgements were not masked with
        self._entries: dict[str, Any] = {}
        self._used: set[str] = set()
        self._added = False
        self._checks: dict[int, tuple[FileCheck, str]] = {}

    def _secret_hash(self, value: str) -> str:
        return hashlib.sha256(f"{self._salt}{value}".encode()).hexdigest()

    @classmethod
    def open(cls, path: Path, password: bytes, secrets: Iterable[str]) -> JudgementCache:
        cache = cls(path, password, secrets)
        with contextlib.suppress(OSError, SecretsError, ValueError, zlib.error):
            packed = vault.decrypt(path.read_bytes(), password, source=str(path))
            document = json.loads(zlib.decompress(packed))
            known = set(document.get("secrets", ()))
            if (
                document.get("format") == FORMAT
                and document.get("salt") == cache._salt
                and known <= cache._secrets.keys()  # none removed or changed
            ):
                cache._entries = dict(document["entries"])
                cache._new_secrets = [v for h, v in cache._secrets.items() if h not in known]
        return cache

    def key(self, check: FileCheck, item: BuiltFile, digest: str, extra: str = "") -> str:
        """The key of this check on this file (whose bytes hash to ``digest``); ``extra``:
        whatever else the judgement depends on (a certificate's days left)."""
        known = self._checks.get(id(check))
        if known is None or known[0] is not check:
            known = (check, check.model_dump_json())
            self._checks[id(check)] = known
        text = f"{self._salt}{known[1]}\0{item.path}\0{item.secret}\0{digest}\0{extra}"
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, key: str) -> tuple[bool, list[CachedJudged] | None]:
        """(found, judgements); judgements None means the file could not be read."""
        if key not in self._entries:
            return False, None
        data = self._entries[key]
        if self._new_secrets and data is not None and self._shows_a_new_secret(data):
            return False, None
        self._used.add(key)
        return True, _decode(data)

    def _shows_a_new_secret(self, data: list[Any]) -> bool:
        """Whether evidence masked before these secrets existed shows one of them."""
        texts = [f"{text}\0{where}" for _, _, evidence in data for text, where, *_ in evidence]
        return any(secret in text for text in texts for secret in self._new_secrets if secret)

    def put(self, key: str, judged: list[Judged] | None) -> None:
        self._entries[key] = _encode(judged)
        self._used.add(key)
        self._added = True

    def save(self, *, complete: bool) -> bool:
        """Write the cache when it learnt something, or (after a ``complete`` audit, every
        rule run) when it holds judgements of files no longer in the build; return whether."""
        stale = complete and len(self._used) < len(self._entries)
        if not (self._added or stale or self._new_secrets):
            return False
        entries = (
            {key: self._entries[key] for key in sorted(self._used)}
            if complete
            else dict(sorted(self._entries.items()))
        )
        document = {
            "format": FORMAT,
            "salt": self._salt,
            "secrets": sorted(self._secrets),
            "entries": entries,
        }
        data = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        try:
            packed = zlib.compress(data, 6)  # evidence repeats itself from tenant to tenant
            atomic_write(self.path, vault.encrypt(packed, self._password), mode=0o600)
        except OSError:
            return False
        return True
