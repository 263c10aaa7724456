"""What a component renders: `roles/<component>/render.yml`, read and checked.

files:
  - template: etc/ssh/sshd_config.d/50-souverain.conf.j2   # under the role's templates/
    dest: /etc/ssh/sshd_config.d/50-souverain.conf
    mode: "0644"
    owner: root           # owner, group and dest may use the context, as in "mx-{{ tenant.id }}"
    service: ssh          # which handler the role notifies for it
    per: host             # host (default) or tenant: one file per tenant served
    secret: false         # true: stored ansible-vault encrypted in build/
    when: "'mail' in host_components"   # optional Jinja expression
vars_template: vars.yml.j2          # optional: role variables (YAML, or JSON if .json.j2)
secret_vars_template: secrets.yml.j2  # optional: the same, stored vault-encrypted
tenant_vars_template: tenant_vars.json.j2  # optional: each tenant's part of the variables
tenant_secret_vars_template: tenant_secrets.json.j2  # optional: the same, secret

A tenant part is rendered once per tenant the component serves, seeing that tenant only, and
merged into the host template's variables in the suite's order (a list extended, a mapping
updated). With a tenant part, the host template is rendered without the tenant list: adding or
changing one tenant then renders that tenant's part, not every tenant's (design §6).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from souverain.errors import RenderError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FileSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    template: str
    dest: str = Field(pattern=r"^/")
    mode: str = Field(default="0644", pattern=r"^0[0-7]{3}$")
    owner: str = "root"
    group: str = "root"
    service: str = "files"
    per: Literal["host", "tenant"] = "host"
    secret: bool = False
    when: str | None = None


class RenderSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    files: list[FileSpec] = Field(default_factory=list)
    vars_template: str | None = None
    secret_vars_template: str | None = None
    tenant_vars_template: str | None = None
    tenant_secret_vars_template: str | None = None


@cache
def load_spec(roles_dir: Path, component: str) -> RenderSpec:
    path = roles_dir / component / "render.yml"
    if not path.exists():
        return RenderSpec()
    try:
        data = yaml.load(path.read_text(), Loader=_LOADER) or {}
        return RenderSpec.model_validate(data)
    except (ValidationError, ValueError, yaml.YAMLError) as error:
        raise RenderError(f"{path} is invalid: {error}") from None
