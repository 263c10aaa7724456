"""The catalog of components, read from roles/<name>/component.yml, and what relies on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from souverain.components import default_catalog, load_catalog
from souverain.errors import ManifestError
from souverain.model.components import Components
from souverain.paths import ROLES_DIR
from souverain.runner.playbooks import site_components


def test_every_role_with_tasks_has_a_manifest():
    roles = {path.parent.name for path in ROLES_DIR.glob("*/tasks")}
    assert roles <= set(default_catalog().names)


def test_the_model_has_settings_for_every_component():
    assert list(Components.model_fields) == list(default_catalog().names)


def test_site_deploys_each_component_after_what_it_requires():
    catalog = default_catalog()
    order = site_components()
    for position, name in enumerate(order):
        for need in catalog[name].manifest.requires:
            assert need in order[:position], f"site.yml deploys {name} before {need}"
    deployable = [c.name for c in catalog if c.deployable]
    assert sorted(order) == sorted(deployable)


def _role(roles: Path, name: str, text: str) -> None:
    (roles / name).mkdir(parents=True)
    (roles / name / "component.yml").write_text(text)


def test_an_invalid_manifest_names_its_file_and_key(tmp_path: Path):
    _role(tmp_path, "widget", "description: w\norder: 1\nscope: everyone\n")
    with pytest.raises(ManifestError, match=r"widget/component.yml: scope: "):
        load_catalog(tmp_path)


def test_a_pattern_may_read_only_settings_and_the_tenant(tmp_path: Path):
    manifest = (
        "description: w\norder: 1\nendpoints:\n  - {role: a, name: '{suite.name}', label: A}\n"
    )
    _role(tmp_path, "widget", manifest)
    with pytest.raises(ManifestError, match="may read only settings, domain, tenant"):
        load_catalog(tmp_path)


def test_an_unknown_requirement_is_refused(tmp_path: Path):
    _role(tmp_path, "widget", "description: w\norder: 1\nrequires: [nothing]\n")
    with pytest.raises(ManifestError, match="unknown component nothing"):
        load_catalog(tmp_path)
