"""The components of the suite, read from their manifests: the one place that lists them.

Each folder of ``roles/`` with a ``component.yml`` is a component. Everything that used to
name components (the model's name lists, rendering, verify, audit, the runner, DNS, the
shared roles' templates) asks the catalog instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

import yaml
from pydantic import ValidationError

from souverain.components.manifest import Manifest
from souverain.errors import ManifestError

MANIFEST = "component.yml"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Component:
    """One component: its name, its role folder and what its manifest says."""

    name: str
    folder: Path
    manifest: Manifest

    @property
    def everywhere(self) -> bool:
        return self.manifest.placement == "everywhere"

    @property
    def behind_front(self) -> bool:
        return self.manifest.placement == "behind_front"

    @property
    def proxied(self) -> bool:
        """Whether the front serves some of its endpoints (`via: proxy`)."""
        return any(endpoint.via == "proxy" for endpoint in self.manifest.endpoints)

    @property
    def per_tenant(self) -> bool:
        return self.manifest.scope == "tenant"

    @property
    def deployable(self) -> bool:
        """Whether the role has tasks (a component may be modelled before its role exists)."""
        return (self.folder / "tasks").is_dir()

    @property
    def render_spec(self) -> Path:
        return self.folder / "render.yml"

    @property
    def test_files(self) -> list[Path]:
        """The role's testinfra suite."""
        return sorted((self.folder / "tests").glob("test_*.py"))

    @property
    def audit_rules(self) -> Path | None:
        path = self.folder / "audit" / "rules.yml"
        return path if path.is_file() else None

    @property
    def dns_template(self) -> str | None:
        """The DNS template's name for the roles' Jinja loader, or None."""
        return f"{self.name}/{self.manifest.dns}" if self.manifest.dns else None


class Catalog:
    """Every component of a roles directory, in manifest order."""

    def __init__(self, roles_dir: Path, components: list[Component]) -> None:
        self.roles_dir = roles_dir
        self.components = sorted(components, key=lambda c: (c.manifest.order, c.name))
        self._by_name = {component.name: component for component in self.components}

    def __getitem__(self, name: str) -> Component:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.components)

    def get(self, name: str) -> Component | None:
        return self._by_name.get(name)

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(component.name for component in self.components)

    @cached_property
    def everywhere(self) -> tuple[str, ...]:
        """Components on every host (base, pki), whatever the host lists."""
        return tuple(c.name for c in self.components if c.everywhere)

    @cached_property
    def placeable(self) -> tuple[str, ...]:
        """Components a host lists in suite.yml."""
        return tuple(c.name for c in self.components if c.manifest.placement == "placed")

    @cached_property
    def behind_front(self) -> tuple[str, ...]:
        """Components placed by souverain on the hosts whose web endpoints the front reaches
        over the network (the web server there)."""
        return tuple(c.name for c in self.components if c.behind_front)

    @cached_property
    def tenant_scoped(self) -> tuple[str, ...]:
        """Components a tenant switches on or off for its users."""
        return tuple(c.name for c in self.components if c.per_tenant)

    @cached_property
    def singletons(self) -> tuple[str, ...]:
        """Components on one host only: those marked singleton, and the front."""
        return tuple(c.name for c in self.components if c.manifest.singleton or c.manifest.front)

    def singleton_reason(self, name: str) -> str:
        """Why ``name`` runs on one host only, as `validate` says it."""
        manifest = self[name].manifest
        if manifest.singleton_reason:
            return manifest.singleton_reason
        if manifest.front:
            return "every web name of every tenant points at a single proxy host (the front)"
        return "it runs on one host only"

    def host_local_reason(self, name: str) -> str:
        """Why ``name`` serves the components on its own host only, as `validate` says it."""
        reason = self[name].manifest.host_local_reason
        return reason or f"{name} serves the components on its own host only"

    @cached_property
    def host_local(self) -> tuple[str, ...]:
        """Components that serve only the components on their own host (loopback only)."""
        return tuple(c.name for c in self.components if c.manifest.host_local)

    @cached_property
    def data_holders(self) -> tuple[str, ...]:
        """Components that keep data only a backup brings back (`backup:` in the manifest)."""
        return tuple(c.name for c in self.components if c.manifest.backup is not None)

    @cached_property
    def on_data_hosts(self) -> tuple[str, ...]:
        """Components that also run on every host carrying a data holder (the backup agent)."""
        return tuple(c.name for c in self.components if c.manifest.on_data_hosts)

    @cached_property
    def always_on(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.components if c.manifest.always_on)

    @cached_property
    def front(self) -> str | None:
        """The component serving the endpoints published `via: proxy` (the proxy)."""
        return next((c.name for c in self.components if c.manifest.front), None)

    @cached_property
    def requires(self) -> dict[str, tuple[str, ...]]:
        return {c.name: tuple(c.manifest.requires) for c in self.components if c.manifest.requires}

    def required_by(self, name: str) -> tuple[str, ...]:
        """The components that need ``name``."""
        return tuple(c.name for c in self.components if name in c.manifest.requires)


def load_manifest(path: Path) -> Manifest:
    try:
        data = yaml.load(path.read_text(), Loader=_LOADER) or {}
        return Manifest.model_validate(data)
    except OSError as error:
        raise ManifestError(f"cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ManifestError(f"{path} is not valid YAML: {error}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise ManifestError(
            f"{path}: {where}: {first['msg']}",
            hint="A component's manifest is part of the project tree: fix it or update "
            "your checkout.",
        ) from None


@cache
def load_catalog(roles_dir: Path) -> Catalog:
    """The catalog of ``roles_dir`` (read once per process)."""
    components = [
        Component(path.parent.name, path.parent, load_manifest(path))
        for path in sorted(roles_dir.glob(f"*/{MANIFEST}"))
    ]
    if not components:
        raise ManifestError(
            f"no component manifest under {roles_dir}",
            hint="Run souverain from its project tree, or set SOUVERAIN_HOME to it.",
        )
    catalog = Catalog(roles_dir, components)
    for component in catalog:
        unknown = [need for need in component.manifest.requires if need not in catalog]
        if unknown:
            raise ManifestError(
                f"{component.folder / MANIFEST}: requires: unknown component " + ", ".join(unknown)
            )
    return catalog


def default_catalog() -> Catalog:
    """The catalog of the project's roles (SOUVERAIN_HOME/roles)."""
    from souverain.paths import ROLES_DIR

    return load_catalog(ROLES_DIR)
