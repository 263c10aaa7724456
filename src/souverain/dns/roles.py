"""The records each component publishes, from the DNS template its role declares.

A component's manifest names the template (``dns: dns.yml.j2`` in
``roles/<name>/component.yml``); it is rendered once per tenant that uses the component
(per-tenant components: the tenant's list; suite-wide ones: enabled in suite.yml), with the
roles' Jinja environment (StrictUndefined, the project's filters), and must produce YAML:

    records:
      - name: _ldaps._tcp.example.org      # fully qualified, no trailing dot
        type: SRV
        value: "0 1 636 ldap.example.org."  # presentation form; TXT unquoted
        comment: directory over TLS         # optional
        ttl: 3600                           # optional
    notes:
      - why a record the sysadmin may expect is left out

The template reads, besides the environment's filters (``public_key_base64``, ``sha256``,
``address_type``, ``quote_yaml``...):

    suite              the model
    tenant             the tenant whose records these are
    component          the component's name
    settings           the component's settings in suite.yml
    placement          component name -> names of the hosts that carry it
    host_address(name) a host's address, as text
    secret(name)       a value of the secrets store, or none when it was never generated
"""

from __future__ import annotations

from typing import Any

import jinja2
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from souverain.components import Catalog, Component, default_catalog
from souverain.dns.records import DEFAULT_TTL, DnsContext, Record
from souverain.errors import RenderError
from souverain.model.suite import Suite, Tenant
from souverain.render.templating import environment

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PublishedRecord(_Entry):
    name: StrictStr = Field(pattern=r"^[A-Za-z0-9_*-]([A-Za-z0-9_.*-]*[A-Za-z0-9_-])?$")
    type: StrictStr = Field(pattern=r"^[A-Z][A-Z0-9]*$")
    value: StrictStr
    comment: StrictStr = ""
    ttl: StrictInt = Field(default=DEFAULT_TTL, ge=0, le=2**31 - 1)


class Published(_Entry):
    """What one DNS template renders for one tenant."""

    records: list[PublishedRecord] = Field(default_factory=list)
    notes: list[StrictStr] = Field(default_factory=list)

    @field_validator("records", "notes", mode="before")
    @classmethod
    def _empty(cls, value: Any) -> Any:
        """``records:`` with no item under it (every item was left out) is an empty list."""
        return [] if value is None else value


def serves(component: Component, suite: Suite, tenant: Tenant) -> bool:
    """Whether the tenant's users get the component."""
    if component.per_tenant:
        return component.name in suite.tenant_components(tenant)
    return suite.components.is_enabled(component.name)


def template_context(component: Component, context: DnsContext) -> dict[str, Any]:
    suite = context.suite
    return {
        "suite": suite,
        "tenant": context.tenant,
        "component": component.name,
        "settings": getattr(suite.components, component.name),
        "placement": suite.placement,
        "host_address": lambda name: str(suite.host(name).address),
        "secret": context.secret,
    }


def published(component: Component, template: str, context: DnsContext) -> Published:
    """Render ``template`` (``<name>/<file>`` under the roles directory) and read it."""
    env = environment(component.folder.parent)
    try:
        text = env.get_template(template).render(template_context(component, context))
    except jinja2.TemplateNotFound as error:
        if error.name != template:  # a file the template imports
            raise RenderError(f"{template}: {error.name} does not exist") from None
        raise RenderError(
            f"{component.folder / 'component.yml'}: dns: {template} does not exist"
        ) from None
    except jinja2.TemplateError as error:
        line = getattr(error, "lineno", None)
        raise RenderError(f"{template}{f', line {line}' if line else ''}: {error}") from None
    try:
        return Published.model_validate(yaml.load(text, Loader=_LOADER) or {})
    except yaml.YAMLError as error:
        raise RenderError(f"{template} did not render valid YAML: {error}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise RenderError(
            f"{template} (tenant {context.tenant.id}): {where}: {first['msg']}"
        ) from None


def records(context: DnsContext, catalog: Catalog | None = None) -> list[Record]:
    """The records of every component the tenant uses, in catalog order; notes go to context."""
    found: list[Record] = []
    for component in catalog if catalog is not None else default_catalog():
        template = component.dns_template
        if template is None or not serves(component, context.suite, context.tenant):
            continue
        result = published(component, template, context)
        found += [
            Record(
                each.name,
                each.type,
                each.value,
                ttl=each.ttl,
                component=component.name,
                comment=each.comment,
            )
            for each in result.records
        ]
        for note in result.notes:
            context.note(note)
    return found
