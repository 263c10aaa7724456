"""validate -> render -> build/, as one call used by `render`, `plan`, `deploy` and `up`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from souverain.builddir import BuildDir, ManifestEntry
from souverain.deployment import Deployment
from souverain.errors import BuildReadError
from souverain.model.loader import load_suite
from souverain.model.suite import Suite
from souverain.paths import ROLES_DIR
from souverain.render.build import WriteResult, previous_index, write_build
from souverain.render.engine import Build, Renderer
from souverain.render.materials import Materials


def render_in_memory(deployment: Deployment, suite: Suite, *, dry_run: bool) -> Build:
    materials = Materials.open(deployment, suite.components.pki.organisation, dry_run=dry_run)
    renderer = Renderer(
        suite=suite,
        materials=materials,
        roles_dir=ROLES_DIR,
        build_root=deployment.build_dir,
        suite_root=deployment.root,
        index=previous_index(deployment),
    )
    build = renderer.render()
    materials.save()
    return build


@dataclass(frozen=True)
class RenderOutcome:
    suite: Suite
    build: Build
    written: WriteResult


def render_deployment(deployment: Deployment) -> RenderOutcome:
    suite = load_suite(deployment.suite_file)
    build = render_in_memory(deployment, suite, dry_run=False)
    return RenderOutcome(suite, build, write_build(deployment, build))


@dataclass(frozen=True)
class Change:
    action: str  # added | changed | removed
    path: str
    host: str | None
    dest: str | None
    component: str
    tenant: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "path": self.path,
            "host": self.host,
            "dest": self.dest,
            "component": self.component,
            "tenant": self.tenant,
        }


def plan_changes(deployment: Deployment) -> tuple[Suite, list[Change]]:
    """What a render would change in build/, computed without writing anything there."""
    suite = load_suite(deployment.suite_file)
    build = render_in_memory(deployment, suite, dry_run=True)
    current = _current_files(deployment)
    changes: list[Change] = []
    for path, item in sorted(build.files.items()):
        old = current.get(path)
        if old is None:
            action = "added"
        elif old["sha256"] != item.sha256 or old["mode"] != item.mode:
            action = "changed"
        else:
            continue
        changes.append(Change(action, path, item.host, item.dest, item.component, item.tenant))
    for path, entry in sorted(current.items()):
        if path not in build.files:
            changes.append(
                Change(
                    "removed",
                    path,
                    entry.get("host"),
                    entry.get("dest"),
                    entry.get("component", "inventory"),
                    entry.get("tenant"),
                )
            )
    return suite, changes


def _current_files(deployment: Deployment) -> dict[str, ManifestEntry]:
    """path -> manifest entry of the current build (empty when there is none to read)."""
    try:
        entries = BuildDir(deployment.build_dir).manifest()
    except BuildReadError:
        return {}
    return {entry["path"]: entry for entry in entries}
