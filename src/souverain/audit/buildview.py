"""The rendered build as the audit reads it: the manifest, and each file's text in memory."""

from __future__ import annotations

import bisect
import fnmatch
import hashlib
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from souverain import vault
from souverain.builddir import BuildDir
from souverain.errors import BuildReadError, UsageError

PRIVATE_KEY_MARK = "PRIVATE KEY"
_WILDCARD = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class BuiltFile:
    path: str  # relative to the build root
    host: str | None
    dest: str | None
    component: str
    mode: str
    secret: bool

    @property
    def where(self) -> str:
        return f"build/{self.path}"


@dataclass
class BuildView:
    root: Path
    password: bytes | None
    files: list[BuiltFile]
    _text: dict[str, str | None] = field(default_factory=dict)
    _by_host: dict[str | None, list[BuiltFile]] = field(default_factory=dict)
    _parsed: dict[tuple[str, Any], Any] = field(default_factory=dict)
    # Destinations of each pool (a host, or None for all files) sorted, with each file's
    # position in the pool, so a glob is matched only against paths sharing its literal prefix.
    _sorted: dict[str | None, tuple[list[str], list[int]]] = field(default_factory=dict)
    _matches: dict[tuple[str | None, str], list[BuiltFile]] = field(default_factory=dict)
    _digests: dict[str, str] = field(default_factory=dict)

    @classmethod
    def open(cls, root: Path, password: bytes | None) -> BuildView:
        try:
            entries = BuildDir(root).manifest()
        except BuildReadError as error:
            raise UsageError(
                f"no readable build in {root} ({error.reason})",
                hint="Run `souverain render` first, or drop --no-render.",
            ) from None
        files = [
            BuiltFile(
                path=entry["path"],
                host=entry.get("host"),
                dest=entry.get("dest"),
                component=entry.get("component", "inventory"),
                mode=str(entry.get("mode", "0644")),
                secret=bool(entry.get("secret")),
            )
            for entry in entries
        ]
        view = cls(root, password, files)
        for item in files:
            view._by_host.setdefault(item.host, []).append(item)
        return view

    @property
    def hosts(self) -> list[str]:
        return sorted(host for host in self._by_host if host)

    def matching(self, host: str | None, pattern: str) -> list[BuiltFile]:
        """Files placed on ``host`` (every host when None) whose destination matches."""
        key = (host, pattern)
        if key not in self._matches:
            pool = self.files if host is None else self._by_host.get(host, [])
            if host not in self._sorted:
                order = sorted((item.dest, n) for n, item in enumerate(pool) if item.dest)
                self._sorted[host] = ([dest for dest, _ in order], [n for _, n in order])
            dests, positions = self._sorted[host]
            # Every match starts with the pattern's literal prefix (fnmatch's * also matches /).
            prefix = _WILDCARD.split(pattern, 1)[0]
            match = re.compile(fnmatch.translate(pattern)).match
            found = []
            for index in range(bisect.bisect_left(dests, prefix), len(dests)):
                dest = dests[index]
                if not dest.startswith(prefix):
                    break
                if match(dest):
                    found.append(positions[index])
            self._matches[key] = [pool[n] for n in sorted(found)]
        return list(self._matches[key])

    def text(self, item: BuiltFile) -> str | None:
        """The plaintext (decrypted in memory for secret files); None for private keys."""
        if item.path in self._text:
            return self._text[item.path]
        return self._keep(item, self._plaintext(item))

    def _plaintext(self, item: BuiltFile) -> bytes | None:
        data = self._read(item)
        if not item.secret:
            return data
        if self.password is None:
            return None
        return vault.decrypt(data, self.password, source=item.where)

    def _keep(self, item: BuiltFile, data: bytes | None) -> str | None:
        text = None if data is None else data.decode("utf-8", errors="replace")
        result = None if text is None or PRIVATE_KEY_MARK in text else text
        self._text[item.path] = result
        return result

    def prefetch(self, items: list[BuiltFile]) -> None:
        """Decrypt these files' secret ones on every core at once: deriving each file's key
        (PBKDF2) is most of an audit's work, and it runs outside the interpreter's lock."""
        todo = [item for item in items if item.secret and item.path not in self._text]
        workers = min(len(todo), os.cpu_count() or 1)
        if workers < 2 or self.password is None:
            return
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for item, data in zip(todo, pool.map(self._plaintext, todo), strict=True):
                self._keep(item, data)

    def digest(self, item: BuiltFile) -> str:
        """SHA-256 of the file as it is in the build now (encrypted for secret files)."""
        if item.path not in self._digests:
            self._digests[item.path] = hashlib.sha256(self._read(item)).hexdigest()
        return self._digests[item.path]

    def _read(self, item: BuiltFile) -> bytes:
        # Plain strings, not Path objects: thousands of files, and pathlib's joins add up.
        with open(os.path.join(self.root, item.path), "rb") as handle:
            return handle.read()

    def cached(self, item: BuiltFile, kind: Any, make: Any) -> Any:
        """``make(text)`` once per file and kind (parsed settings, meaningful lines...)."""
        key = (item.path, kind)
        if key not in self._parsed:
            text = self.text(item)
            self._parsed[key] = None if text is None else make(text)
        return self._parsed[key]
