"""Reusing what the previous render produced, so a render costs what changed, not what exists.

A render is cut into groups: the files one component renders once per host, and the files it
renders for one tenant. Each group has a key, a digest of everything its templates can read:

- the code and templates of souverain itself (any change to either renders everything again);
- for a tenant group, the suite without its tenant list, the tenant, and the two facts that
  depend on the other tenants (the tenant's position and the directory suffix). Tenant
  templates are given no way to read other tenants (the engine hides them), so this key is
  complete;
- for a host group, the whole suite if its templates read the tenants when it last
  rendered, else the suite without its tenant list: the engine watches the tenant list, the
  suite's tenant-derived facts and the published needs while a host group renders, and a
  template that read none of them takes the same path for as long as the rest is unchanged.
  Adding a tenant then renders that tenant's groups and the host groups that list tenants,
  not the others.

The previous build keeps, in `render-index.json`, each group's key, the digest of the secret
values its templates asked for, and its files with their size and modification time. A group
whose key and secrets are unchanged and whose files are untouched on disk is not rendered
again: its files are taken from the previous build as they are. The index holds digests, never
a secret value.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from souverain.fsutil import atomic_write

INDEX = "render-index.json"
INDEX_FORMAT = 2
_PACKAGE = Path(__file__).resolve().parents[1]
# The modules whose behaviour shapes what templates produce.
_CODE_DIRS = ("components", "model", "render")
# A file as the index keeps it: a list in this order (smaller and faster to read than objects).
FILE_FIELDS = (
    "path", "host", "dest", "sha256", "component", "tenant", "mode", "owner", "group",
    "service", "secret", "stored_sha256",
)  # fmt: skip
_PATH, _SHA256, _STORED_SHA256 = 0, 3, 11


@dataclass
class GroupRecord:
    key: str
    secrets: str  # digest of the names and values of the secrets the group's templates used
    secret_names: list[str]
    files: list[list[Any]]  # each file's FILE_FIELDS
    data: dict[str, Any] | None = None  # role variables (never secret ones) the group made

    def as_json(self, stats: list[list[int]]) -> dict[str, Any]:
        found = {
            "key": self.key,
            "secrets": self.secrets,
            "secret_names": self.secret_names,
            "files": self.files,
            "stats": stats,
        }
        if self.data is not None:
            found["data"] = self.data
        return found


@dataclass
class RenderIndex:
    """The index of one build directory (empty when there is none or it is unreadable)."""

    directory: Path | None = None
    groups: dict[str, GroupRecord] = field(default_factory=dict)
    stats: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (size, mtime_ns)
    # path -> (sha256 of the plaintext, sha256 of the bytes stored in the build)
    stored: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path) -> RenderIndex:
        index = cls(directory.resolve())
        try:
            data = json.loads((directory / INDEX).read_bytes())
            if data.get("format") != INDEX_FORMAT:
                return cls()
            for name, entry in data["groups"].items():
                files = entry["files"]
                index.groups[name] = GroupRecord(
                    entry["key"], entry["secrets"], entry["secret_names"], files, entry.get("data")
                )
                for found, (size, mtime) in zip(files, entry["stats"], strict=True):
                    path = found[_PATH]
                    index.stats[path] = (size, mtime)
                    index.stored[path] = (found[_SHA256], found[_STORED_SHA256])
            for path, plain, kept, size, mtime in data["loose"]:
                index.stats[path] = (size, mtime)
                if plain is not None:
                    index.stored[path] = (plain, kept)
        except (OSError, ValueError, KeyError, TypeError):
            return cls()
        return index

    def untouched(self, path: str) -> bool:
        """Whether the file is in the build as the render left it (size and mtime unchanged)."""
        recorded = self.stats.get(path)
        if recorded is None or self.directory is None:
            return False
        try:
            found = os.stat(f"{self.directory}/{path}")  # a str join: pathlib is slower here
        except OSError:
            return False
        return (found.st_size, found.st_mtime_ns) == recorded

    def reusable(self, name: str, key: str, secrets: SecretDigest) -> GroupRecord | None:
        record = self.groups.get(name)
        if record is None or record.key != key:
            return None
        if secrets.of(record.secret_names) != record.secrets:
            return None
        untouched = self.untouched
        if not all(untouched(entry[_PATH]) for entry in record.files):
            return None
        return record


class SecretDigest:
    """Digests of the current secret values, by name, without ever keeping them in the index."""

    def __init__(self, lookup: Callable[[str], str | None]) -> None:
        self._lookup = lookup

    def of(self, names: list[str]) -> str:
        digest = hashlib.sha256()
        for name in names:
            value = self._lookup(name)
            if value is None:
                return "missing"
            digest.update(name.encode() + b"\0" + value.encode() + b"\0")
        return digest.hexdigest()


def write_index(
    directory: Path,
    groups: dict[str, GroupRecord],
    stored: dict[str, tuple[str, str]],
    paths: list[str],
) -> None:
    """Record groups and the size and mtime of every file, as found in ``directory``.

    ``stored`` gives the plaintext and stored digests of the files; ``paths`` lists every file
    (those of no group too, such as the manifest).
    """

    def stat(path: str) -> list[int]:
        found = os.stat(f"{directory}/{path}")
        return [found.st_size, found.st_mtime_ns]

    grouped: set[str] = set()
    lines = ["{", f'"format": {INDEX_FORMAT},', '"groups": {']
    entries = []
    for name in sorted(groups):
        record = groups[name]
        paths_of = [entry[_PATH] for entry in record.files]
        grouped.update(paths_of)
        entries.append(
            f"{json.dumps(name)}: {_compact(record.as_json([stat(p) for p in paths_of]))}"
        )
    lines.append(",\n".join(entries))
    lines += ["},", '"loose": [']
    loose = []
    for path in paths:
        if path not in grouped:
            plain, kept = stored.get(path, (None, None))
            loose.append(_compact([path, plain, kept, *stat(path)]))
    lines += [",\n".join(loose), "]", "}"]
    atomic_write(directory / INDEX, "\n".join(lines) + "\n", mode=0o600)


_compact = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def _digest_tree(digest: Any, root: Path, pattern: str) -> None:
    for path in sorted(root.glob(pattern)):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(path.read_bytes())


def code_digest(roles_dir: Path) -> str:
    """Digest of souverain's rendering code and of every role's templates and render.yml."""
    digest = hashlib.sha256(f"index {INDEX_FORMAT}".encode())
    for name in _CODE_DIRS:
        _digest_tree(digest, _PACKAGE / name, "*.py")
    _digest_tree(digest, roles_dir, "*/component.yml")
    _digest_tree(digest, roles_dir, "*/render.yml")
    _digest_tree(digest, roles_dir, "*/templates/**/*")
    _digest_tree(digest, roles_dir, "*/proxy/**/*")
    return digest.hexdigest()


def key_of(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()
