"""Golden files: what `souverain render` produces for the `souverain init` suite, byte for byte.

A change to a template shows here as a diff to review. After an intended change, refresh with
    SOUVERAIN_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_render_golden.py
Secret files and certificates are left out: they differ on every fresh deployment by design.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from souverain.deployment import Deployment
from souverain.render.pipeline import render_deployment

GOLDEN = Path(__file__).parent / "golden" / "init"
UPDATE = os.environ.get("SOUVERAIN_UPDATE_GOLDEN") == "1"


def rendered_plain_files(deployment_dir: Path) -> dict[str, bytes]:
    deployment = Deployment.at(deployment_dir)
    render_deployment(deployment)
    manifest = json.loads((deployment.build_dir / "manifest.json").read_text())
    files = {}
    for entry in manifest["files"]:
        if entry["secret"] or entry["component"] in ("pki", "inventory"):
            continue
        if entry["service"] == "ca":
            continue
        files[entry["path"]] = (deployment.build_dir / entry["path"]).read_bytes()
    return files


def test_rendered_files_match_the_golden_files(deployment_dir: Path):
    files = rendered_plain_files(deployment_dir)
    assert files, "the init suite renders no plain file"
    if UPDATE:
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for path, data in files.items():
            target = GOLDEN / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        pytest.skip("golden files refreshed")
    expected = {
        str(path.relative_to(GOLDEN)): path.read_bytes()
        for path in sorted(GOLDEN.rglob("*"))
        if path.is_file()
    }
    assert sorted(files) == sorted(expected), "files added or removed: refresh the golden files"
    for path, data in files.items():
        assert data.decode() == expected[path].decode(), path
