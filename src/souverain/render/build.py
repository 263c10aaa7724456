"""The build directory on disk: written whole or not at all, read back for plans.

`build` is a symbolic link to `.build-<digest>`; a render writes a complete new directory,
then swaps the link with one rename. A failed or interrupted render leaves the previous build
as it was. The same input gives the same digest, so a second render writes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from souverain.deployment import Deployment
from souverain.render.engine import Build

MANIFEST = "manifest.json"


def manifest_bytes(build: Build) -> bytes:
    return (json.dumps(build.manifest(), indent=1, sort_keys=True) + "\n").encode()


def read_manifest(deployment: Deployment) -> dict[str, dict[str, Any]]:
    """path -> manifest entry of the current build (empty when there is none)."""
    path = deployment.build_dir / MANIFEST
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return {}
    return {entry["path"]: entry for entry in data.get("files", [])}


def previous_secret_files(deployment: Deployment) -> dict[str, tuple[str, bytes]]:
    """Encrypted files of the current build, so unchanged ones are reused, not re-encrypted."""
    result: dict[str, tuple[str, bytes]] = {}
    for path, entry in read_manifest(deployment).items():
        if entry.get("secret"):
            with contextlib.suppress(OSError):
                result[path] = (entry["sha256"], (deployment.build_dir / path).read_bytes())
    return result


@dataclass(frozen=True)
class WriteResult:
    directory: Path
    changed: bool


def write_build(deployment: Deployment, build: Build) -> WriteResult:
    manifest = manifest_bytes(build)
    digest = hashlib.sha256(manifest)
    for path in sorted(build.files):
        digest.update(path.encode() + b"\0" + build.files[path].content)
    name = f".build-{digest.hexdigest()[:16]}"
    target = deployment.root / name
    link = deployment.build_dir
    if link.is_symlink() and os.readlink(link) == name and _intact(target, build, manifest):
        return WriteResult(target, changed=False)
    if link.exists() and not link.is_symlink():
        # A build directory from elsewhere (copied by hand?): keep it aside, never delete it.
        link.rename(deployment.root / f".build-replaced-{os.getpid()}")
    staging = Path(tempfile.mkdtemp(prefix=".build-new-", dir=deployment.root))
    try:
        for path in sorted(build.files):
            item = build.files[path]
            destination = staging / path
            destination.parent.mkdir(parents=True, exist_ok=True)
            mode = 0o600 if item.secret else 0o644
            fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(item.content)
        (staging / MANIFEST).write_bytes(manifest)
        os.chmod(staging, 0o700)
        if target.exists():
            # Same digest but edited by hand: the rendered files replace the edits.
            target.rename(deployment.root / f".build-stale-{os.getpid()}")
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    temporary_link = deployment.root / f".build-link-{os.getpid()}"
    temporary_link.unlink(missing_ok=True)
    temporary_link.symlink_to(name)
    os.replace(temporary_link, link)
    _remove_stale(deployment.root, keep=name)
    return WriteResult(target, changed=True)


def _intact(target: Path, build: Build, manifest: bytes) -> bool:
    """Whether the build on disk still holds exactly what was rendered (no hand edits)."""
    try:
        if (target / MANIFEST).read_bytes() != manifest:
            return False
        return all(
            (target / path).read_bytes() == item.content for path, item in build.files.items()
        )
    except OSError:
        return False


def _remove_stale(root: Path, *, keep: str) -> None:
    for entry in root.glob(".build-*"):
        if entry.name == keep or entry.name.startswith(".build-replaced-"):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
