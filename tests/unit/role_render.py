"""Render one role's templates alone for a fresh `souverain init` suite (role render tests)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from souverain.model.loader import load_suite
from souverain.model.suite import Suite
from souverain.paths import ROLES_DIR
from souverain.render.engine import Build, Renderer
from souverain.render.materials import Materials
from souverain.scaffold import init_deployment


def render_role(
    tmp_path: Path, role: str, edit: Callable[[Any], None] | None = None
) -> tuple[Build, Materials, Suite]:
    """Only ``role`` is visible to the renderer (other roles may be half-written); ``edit``
    changes suite.yml first, keeping its comments."""
    roles = tmp_path / "roles"
    roles.mkdir(parents=True)
    (roles / role).symlink_to(ROLES_DIR / role)
    deployment = init_deployment(tmp_path / "deploy", domain="example.org", name="example")
    if edit:
        yaml = YAML()
        yaml.preserve_quotes = True
        data = yaml.load(deployment.suite_file.read_text())
        edit(data)
        with deployment.suite_file.open("w") as handle:
            yaml.dump(data, handle)
    suite = load_suite(deployment.suite_file)
    materials = Materials.open(deployment, suite.components.pki.organisation, dry_run=False)
    build = Renderer(
        suite=suite,
        materials=materials,
        roles_dir=roles,
        build_root=deployment.build_dir,
        suite_root=deployment.root,
    ).render()
    return build, materials, suite
