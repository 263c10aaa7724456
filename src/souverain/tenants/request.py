"""The options of `souverain tenant add`, checked on their own and turned into a suite.yml entry.

Each option maps onto a field of the model's Tenant: ID → id, --name → name, --domain →
domain, --extra-domain → extra_domains, --component → components, --quota KEY=VALUE →
quotas.KEY. The entry is checked by the model itself (domain syntax, bounds of each quota);
what needs the rest of the suite (a domain used elsewhere) is conflicts.py's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from souverain.errors import ConfigError, Problem
from souverain.model.components import TENANT_COMPONENTS
from souverain.model.suite import Quotas, Tenant
from souverain.model.yamlsource import format_path

WHERE = "command line"
# The option each field of Tenant comes from.
OPTIONS = {
    "id": "ID",
    "name": "--name",
    "domain": "--domain",
    "extra_domains": "--extra-domain",
    "components": "--component",
    "quotas": "--quota",
}


@dataclass(frozen=True)
class TenantRequest:
    """A tenant to add, as the model read it (domains in their A-label form)."""

    tenant: Tenant
    listed: frozenset[str]  # the fields the options set; the others keep the model's default

    def entry(self) -> dict[str, Any]:
        """The mapping written under `tenants:`, in the model's field order, set fields only."""
        data = self.tenant.model_dump(include=set(self.listed))
        if "quotas" in data:
            data["quotas"] = {
                key: value
                for key, value in data["quotas"].items()
                if key in self.tenant.quotas.model_fields_set
            }
        return {name: data[name] for name in Tenant.model_fields if name in data}

    @property
    def domains(self) -> list[str]:
        return self.tenant.domains


def _problem(message: str, option: str, hint: str | None = None) -> Problem:
    return Problem(message, WHERE, path=option, hint=hint)


def _components(names: tuple[str, ...]) -> tuple[list[str], list[Problem]]:
    chosen: list[str] = []
    problems = []
    for name in names:
        if name not in TENANT_COMPONENTS:
            problems.append(
                _problem(
                    f"{name!r} is not a component a tenant switches on or off",
                    "--component",
                    "one of: " + ", ".join(TENANT_COMPONENTS),
                )
            )
        elif name not in chosen:
            chosen.append(name)
    return chosen, problems


def _quotas(values: tuple[str, ...]) -> tuple[dict[str, int], list[Problem]]:
    allowed = list(Quotas.model_fields)
    quotas: dict[str, int] = {}
    problems = []
    for value in values:
        key, equals, number = value.partition("=")
        key = key.strip()
        if not equals:
            problems.append(
                _problem(f"{value!r} is not KEY=VALUE", "--quota", "for example mail_mb=4096")
            )
        elif key not in allowed:
            problems.append(
                _problem(f"unknown quota {key!r}", "--quota", "one of: " + ", ".join(allowed))
            )
        elif key in quotas:
            problems.append(_problem(f"quota {key!r} is given twice", "--quota"))
        else:
            try:
                quotas[key] = int(number.strip())
            except ValueError:
                problems.append(
                    _problem(f"quota {key}: {number!r} is not a whole number", "--quota")
                )
    return quotas, problems


def _option_of(loc: tuple[str | int, ...]) -> str:
    if not loc:
        return WHERE
    option = OPTIONS.get(str(loc[0]), format_path(loc))
    if loc[0] == "quotas" and len(loc) > 1:
        return f"--quota {loc[1]}"
    if loc[0] == "extra_domains" and len(loc) > 1:
        return f"--extra-domain #{int(loc[1]) + 1}"
    return option


def _message(item: Any) -> str:
    message = str(item["msg"]).removeprefix("Value error, ")
    return message if "(got " in message else f"{message} (got {item['input']!r})"


def parse_request(
    tenant_id: str,
    *,
    domain: str,
    name: str | None = None,
    extra_domains: tuple[str, ...] = (),
    components: tuple[str, ...] = (),
    quotas: tuple[str, ...] = (),
) -> TenantRequest:
    """The tenant the options describe, or a ConfigError naming each bad option."""
    chosen, problems = _components(components)
    limits, quota_problems = _quotas(quotas)
    problems += quota_problems
    entry: dict[str, Any] = {"id": tenant_id, "name": tenant_id if name is None else name}
    entry["domain"] = domain
    if extra_domains:
        entry["extra_domains"] = list(extra_domains)
    if components and not problems:
        entry["components"] = chosen
    if limits:
        entry["quotas"] = limits
    if problems:
        raise ConfigError(problems)
    try:
        tenant = Tenant.model_validate(entry)
    except ValidationError as error:
        raise ConfigError(
            [
                _problem(_message(item), _option_of(tuple(item["loc"])))
                for item in error.errors(include_url=False)
            ]
        ) from None
    duplicates = [d for index, d in enumerate(tenant.domains) if d in tenant.domains[:index]]
    if duplicates:
        raise ConfigError([_problem(f"domain {duplicates[0]} is given twice", "--extra-domain")])
    return TenantRequest(tenant, frozenset(entry))
