"""The build directory on disk: written whole or not at all, read back for plans.

`build` is a symbolic link to `.build-<digest>`; a render writes a complete new directory,
then swaps the link with one rename. A failed or interrupted render leaves the previous build
as it was. The same input gives the same digest, so a second render writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from souverain.builddir import MANIFEST_FILE
from souverain.deployment import Deployment
from souverain.render.cache import RenderIndex, write_index
from souverain.render.engine import Build


def manifest_bytes(build: Build) -> bytes:
    """The manifest: JSON with one file per line (fast to write, easy to diff)."""
    encode = json.JSONEncoder(sort_keys=True).encode
    lines = ",\n".join(
        "  " + encode(build.files[path].manifest_entry()) for path in sorted(build.files)
    )
    return ('{\n "files": [\n' + lines + '\n ],\n "format": 1\n}\n').encode()


def previous_index(deployment: Deployment) -> RenderIndex:
    """What the current build can lend the next render (empty when there is no build)."""
    link = deployment.build_dir
    if not link.is_symlink():
        return RenderIndex()
    return RenderIndex.load(link.resolve())


@dataclass(frozen=True)
class WriteResult:
    directory: Path
    changed: bool


def build_digest(build: Build) -> str:
    """Names the build directory: every manifest field and the stored bytes of every file."""
    digest = hashlib.sha256(b"build 2\n")
    for path in sorted(build.files):
        item = build.files[path]
        digest.update(
            f"{path}\0{item.host}\0{item.dest}\0{item.sha256}\0{item.component}\0"
            f"{item.tenant}\0{item.mode}\0{item.owner}\0{item.group}\0{item.service}\0"
            f"{item.secret}\0{item.stored_sha256}\n".encode()
        )
    return digest.hexdigest()


def write_build(deployment: Deployment, build: Build) -> WriteResult:
    name = f".build-{build_digest(build)[:16]}"
    target = deployment.root / name
    link = deployment.build_dir
    if link.is_symlink() and os.readlink(link) == name and _intact(target, build):
        if build.reused < len(build.groups):
            # Same bytes from groups rendered again (souverain or its templates changed):
            # record their new keys so the next render can reuse them.
            _write_index(target, build)
        return WriteResult(target, changed=False)
    manifest = manifest_bytes(build)
    if link.exists() and not link.is_symlink():
        # A build directory from elsewhere (copied by hand?): keep it aside, never delete it.
        link.rename(deployment.root / f".build-replaced-{os.getpid()}")
    staging = Path(tempfile.mkdtemp(prefix=".build-new-", dir=deployment.root))
    try:
        _write_files(staging, build)
        (staging / MANIFEST_FILE).write_bytes(manifest)
        _write_index(staging, build)
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


def _write_index(directory: Path, build: Build) -> None:
    """render-index.json of ``build`` as written in ``directory`` (manifest included)."""
    stored = {path: (item.sha256, item.stored_sha256) for path, item in build.files.items()}
    write_index(directory, build.groups, stored, [*sorted(build.files), MANIFEST_FILE])


def _write_files(staging: Path, build: Build) -> None:
    """Every file of the build under ``staging``: files taken from the previous build are
    hard-linked (the previous build is never modified, so sharing is safe), others written."""
    made: set[Path] = set()
    for path in sorted(build.files):
        item = build.files[path]
        destination = staging / path
        parent = destination.parent
        if parent not in made:
            parent.mkdir(parents=True, exist_ok=True)
            made.add(parent)
        if item.origin is not None:
            try:
                os.link(item.origin, destination)
                continue
            except OSError:
                pass  # another file system, or no hard links: copy the bytes instead
        mode = 0o600 if item.secret else 0o644
        fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(item.content)


def _intact(target: Path, build: Build) -> bool:
    """Whether the build on disk still holds exactly what was rendered (no hand edits).

    The index recorded each file's size and modification time when it was written: an edit
    changes them (the check git uses for its index). Files the render took from this very
    build were checked when they were taken.
    """
    previous = build.previous
    same = previous is not None and previous.directory == target.resolve()
    index = previous if same and previous is not None else RenderIndex.load(target)
    if not index.stats or not index.untouched(MANIFEST_FILE):
        return False
    same_build = str(target.resolve())
    return all(
        index.untouched(path)
        for path, item in build.files.items()
        if item.origin is None or not item.origin.startswith(same_build + "/")
    )


def _remove_stale(root: Path, *, keep: str) -> None:
    """Remove the builds the link no longer points to.

    A build of many tenants holds thousands of directories, and removing them can take
    seconds on a busy disk: they are renamed out of the way at once (so nothing can mistake
    them for the current build) and deleted by a detached `rm`, which the next render starts
    again if it was interrupted.
    """
    trash = []
    for entry in root.glob(".build-*"):
        if entry.name == keep or entry.name.startswith(".build-replaced-"):
            continue
        if entry.is_dir() and not entry.is_symlink():
            if entry.name.startswith(".build-trash-"):
                trash.append(entry)
                continue
            moved = root / f".build-trash-{os.getpid()}-{entry.name.removeprefix('.build-')}"
            try:
                entry.rename(moved)
            except OSError:
                continue
            trash.append(moved)
        else:
            entry.unlink(missing_ok=True)
    if trash:
        subprocess.Popen(
            ["rm", "-rf", "--one-file-system", "--", *map(str, trash)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
