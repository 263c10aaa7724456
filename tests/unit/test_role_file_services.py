"""Every service a role's render.yml gives its files is one its argument spec accepts: the
role validates its variables first on the host, and an unknown service fails the deploy."""

from __future__ import annotations

import pytest
import yaml

from souverain.paths import ROLES_DIR


def roles_with_file_services() -> list[str]:
    found = []
    for spec_file in sorted(ROLES_DIR.glob("*/meta/argument_specs.yml")):
        role = spec_file.parent.parent.name
        if (ROLES_DIR / role / "render.yml").is_file() and service_choices(role) is not None:
            found.append(role)
    return found


def service_choices(role: str) -> set[str] | None:
    spec = yaml.safe_load((ROLES_DIR / role / "meta" / "argument_specs.yml").read_text())
    files = spec["argument_specs"]["main"]["options"].get(f"{role}_files", {})
    choices = files.get("options", {}).get("service", {}).get("choices")
    return set(choices) if choices is not None else None


def test_some_roles_constrain_their_file_services():
    assert {"chat", "mail"} <= set(roles_with_file_services())


@pytest.mark.parametrize("role", roles_with_file_services())
def test_render_gives_only_services_the_argument_spec_accepts(role: str):
    rendered = yaml.safe_load((ROLES_DIR / role / "render.yml").read_text())
    services = {entry["service"] for entry in rendered["files"]}
    assert services <= service_choices(role), sorted(services - service_choices(role))
