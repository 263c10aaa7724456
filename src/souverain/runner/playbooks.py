"""What ``playbooks/site.yml`` deploys, which enabled components it cannot deploy yet, and to
which hosts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

from souverain.builddir import BuildDir, Inventory
from souverain.components import load_catalog
from souverain.errors import BuildReadError, DeployError
from souverain.paths import PLAYBOOKS_DIR, ROLES_DIR

SITE = PLAYBOOKS_DIR / "site.yml"


def site_components(site: Path = SITE) -> list[str]:
    """Components imported by site.yml, in order (``import_playbook: <component>.yml``)."""
    try:
        plays = YAML(typ="safe", pure=True).load(site.read_text()) or []
    except (OSError, ValueError) as error:
        raise DeployError(f"cannot read {site}: {error}") from None
    components = []
    for play in plays:
        target = play.get("ansible.builtin.import_playbook") or play.get("import_playbook")
        if target:
            components.append(Path(str(target)).stem)
    return components


@dataclass(frozen=True)
class Coverage:
    deployed: list[str]  # enabled and deployed by site.yml, in site order
    not_deployable: dict[str, str]  # enabled component -> why it is not deployed yet


def coverage(enabled: Iterable[str], site: Path = SITE, roles_dir: Path = ROLES_DIR) -> Coverage:
    """Check site.yml against roles/ and say which enabled components will not be deployed.

    A playbook whose role is missing makes Ansible refuse the whole run, so that is an error;
    an enabled component without a playbook or role is reported, never silently skipped.
    """
    imported = site_components(site)
    catalog = load_catalog(roles_dir)
    broken = [name for name in imported if name not in catalog or not catalog[name].deployable]
    if broken:
        raise DeployError(
            f"{site} imports {', '.join(broken)} but roles/{broken[0]}/tasks is missing",
            hint="The project tree is incomplete: update your checkout.",
        )
    wanted = list(enabled)
    missing: dict[str, str] = {}
    for name in wanted:
        if name in imported:
            continue
        if name in catalog and catalog[name].deployable:
            missing[name] = f"not deployable yet: role {name} is not in {site.name}"
        else:
            missing[name] = "not deployable yet: no role"
    return Coverage([name for name in imported if name in wanted], missing)


def deploy_inventory(build: BuildDir) -> Inventory:
    """The hosts and component groups to deploy to (DeployError when render wrote none)."""
    try:
        return build.inventory()
    except BuildReadError as error:
        raise DeployError(error.message, hint="Run `souverain render`.") from None
