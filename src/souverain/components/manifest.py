"""`roles/<name>/component.yml`: what a component is and what it publishes, validated.

A manifest says where the component goes (every host, or the hosts that list it; one host
only with ``singleton``; beside the components that require it with ``host_local``), whether
it is per suite or per tenant, what it needs, and what the shared roles must do for it: the
names its users reach (``endpoints``), the ports the firewall opens and the audit probes for
TLS (``openings``), its OpenID Connect client (``sso_client``), its PostgreSQL databases, its
Redis database, its directory service account and its DNS records (``dns``, a template in
the role). The shared roles loop over what the placed components publish and never name
one.

Patterns (endpoint names, redirect URIs, ports given as text) are Python format strings
over ``settings`` (the component's settings), ``domain`` (the tenant's main domain) and
``tenant``: ``"{settings.hostname}.{domain}"``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_NAME = r"^[a-z][a-z0-9_]{0,31}$"
SSH_PORT = "ssh"  # an opening's port: the host's SSH server, shared by the component
_PATTERN_FIELDS = ("settings", "domain", "tenant")


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_pattern(value: str) -> str:
    """A format string reading only the fields patterns may use."""
    from string import Formatter

    try:
        fields = [name for _, name, _, _ in Formatter().parse(value) if name is not None]
    except ValueError as error:
        raise ValueError(f"{value!r} is not a valid pattern: {error}") from None
    for name in fields:
        root = name.split(".", 1)[0].split("[", 1)[0]
        if root not in _PATTERN_FIELDS:
            raise ValueError(
                f"{value!r} reads {{{name}}}; a pattern may read only " + ", ".join(_PATTERN_FIELDS)
            )
    return value


class Link(_Entry):
    """A further address under an endpoint that `souverain info` shows (discovery, WebDAV)."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Its key in `info --json`.")
    label: str = Field(min_length=1)
    path: str = Field(description="Appended to the endpoint's URL.")


class Endpoint(_Entry):
    """A name a tenant's users reach, served on ``port`` by the proxy or the component."""

    role: str = Field(pattern=r"^[a-z][a-z0-9-]*$", description="What it is for: webmail, imaps…")
    name: str = Field(description="DNS name pattern, e.g. '{settings.hostname}.{domain}'.")
    port: int = Field(default=443, ge=1, le=65535)
    scheme: str = Field(default="https", pattern=r"^[a-z][a-z0-9+.-]*$")
    via: Literal["proxy", "direct"] = Field(
        default="proxy", description="proxy: a virtual host of the proxy; direct: the component."
    )
    label: str = Field(min_length=1, description="What the tenant's landing page calls it.")
    media: bool = Field(
        default=False, description="The page may use the camera and microphone (calls)."
    )
    menu: bool = Field(
        default=False,
        description="An application people open: listed in the menu of the tenant's SSO "
        "portal after they sign in.",
    )
    links: list[Link] = Field(default_factory=list)

    _check_name = field_validator("name")(_check_pattern)


class Tls(_Entry):
    """How an opening speaks TLS, for the audit's probe on the host."""

    service: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    starttls: Literal["smtp", "imap", "ldap", "postgres"] | None = Field(
        default=None, description="The plain-text preamble before the handshake, if any."
    )
    names: Literal["tenants", "host"] = Field(
        description="tenants: the names in 'name' for each tenant served; host: the host's "
        "own name (<host>.<suite>.internal)."
    )
    name: str = "{domain}"
    loopback_unless_remote_users: bool = Field(
        default=False,
        description="Listens beyond loopback only when a component requiring this one runs "
        "on another host.",
    )

    _check_name = field_validator("name")(_check_pattern)


class Opening(_Entry):
    """A port the component serves, and who may reach it."""

    proto: Literal["tcp", "udp"] = "tcp"
    port: int | str = Field(
        description="A number, a pattern such as '{settings.turn_port}', or 'ssh': the host's "
        "SSH server, which the component uses (its port comes from the SSH settings)."
    )
    origins: list[Literal["any", "suite", "clients", "front", "admin", "host"]] = Field(
        alias="from",
        min_length=1,
        description="any: everyone; suite: the suite's hosts; clients: the other hosts that "
        "carry a component requiring this one; front: the hosts of the front (the proxy); "
        "admin: the admin networks; host: the host itself (not opened in the firewall, still "
        "probed for TLS).",
    )
    tls: Tls | None = None

    @field_validator("port")
    @classmethod
    def _port_pattern(cls, value: int | str) -> int | str:
        if value == SSH_PORT:
            return value
        if isinstance(value, str):
            _check_pattern(value)
        elif not 1 <= value <= 65535:
            raise ValueError("a port is between 1 and 65535")
        return value


class SsoClient(_Entry):
    """An OpenID Connect client registered on each tenant's portal (client id: the component)."""

    redirect_uris: list[str] = Field(min_length=1)

    @field_validator("redirect_uris")
    @classmethod
    def _patterns(cls, values: list[str]) -> list[str]:
        return [_check_pattern(value) for value in values]


class Database(_Entry):
    """A PostgreSQL database per tenant: '<prefix>_<tenant id>'."""

    prefix: str = Field(pattern=r"^[a-z][a-z0-9]*$")
    collation: str = Field(default="C.UTF-8", description="lc_collate and lc_ctype.")


class BackupData(_Entry):
    """What a component keeps that only a backup brings back (`backup:`), on its hosts.

    Rendered configuration is not in it: the deployment directory makes it again.
    """

    paths: list[str] = Field(
        default_factory=list,
        description="A tenant's directories, as patterns with '{tenant}'.",
    )
    user_paths: list[str] = Field(
        default_factory=list,
        description="One person's part of them, with '{tenant}' and '{user}' (the uid): what "
        "`backup restore --user` puts back.",
    )
    stop: list[str] = Field(
        default_factory=list,
        description="systemd units ('{tenant}' pattern) stopped while the tenant's data of "
        "this component (files or databases) is put back, started again after.",
    )
    dump: bool = Field(
        default=False,
        description="The role installs /usr/local/lib/souverain/backup/<component>, run as "
        "`dump TENANT DIR` before a backup and `restore TENANT DIR` to put it back.",
    )
    databases: bool = Field(
        default=False,
        description="It holds the databases the components publish (`databases:`): one dump "
        "per database, in the archive of the database's tenant.",
    )

    releases: dict[str, str] = Field(
        default_factory=dict,
        description="Releases the role upgrades in place, migrating this data: name -> the "
        "component's setting that pins it. The role archives the data before the release "
        "changes (note 'before-<name>-<old release, dots as dashes>'); `backup rollback` "
        "puts that archive back and the setting to the old release.",
    )

    @field_validator("releases")
    @classmethod
    def _release_names(cls, values: dict[str, str]) -> dict[str, str]:
        for name, setting in values.items():
            if not re.fullmatch(r"[a-z]{1,20}", name) or not re.fullmatch(_NAME, setting):
                raise ValueError(f"{name}: {setting}: a name of letters, and a setting name")
        return values

    @field_validator("paths", "user_paths", "stop")
    @classmethod
    def _patterns(cls, values: list[str]) -> list[str]:
        for value in values:
            names = set(re.findall(r"{([^{}]*)}", value))
            if not names <= {"tenant", "user"}:
                raise ValueError(f"{value!r}: only {{tenant}} and {{user}} may be filled in")
        return values


class Manifest(_Entry):
    """The whole of `component.yml`."""

    description: str = Field(min_length=1)
    order: int = Field(ge=0, description="Rendering, verify and listing order (lowest first).")
    placement: Literal["everywhere", "placed", "behind_front"] = Field(
        default="placed",
        description="everywhere: on every host whatever it lists; placed: on the hosts that "
        "list it (every host of a single-host suite); behind_front: on the hosts that carry "
        "a component publishing `via: proxy` endpoints and are not the front's (no host "
        "lists it).",
    )
    scope: Literal["suite", "tenant"] = Field(
        default="suite", description="tenant: each tenant switches it on or off for its users."
    )
    always_on: bool = Field(default=False, description="Has no 'enabled' setting.")
    singleton: bool = Field(default=False, description="Runs on one host of the suite only.")
    singleton_reason: str | None = Field(
        default=None,
        min_length=1,
        description="Why it runs on one host only: `validate` says it when a suite places "
        "the component on several hosts (needs singleton: true).",
    )
    host_local: bool = Field(
        default=False,
        description="Serves only the components on its own host (it listens on loopback): "
        "every component that requires it must be on a host that carries it.",
    )
    host_local_reason: str | None = Field(
        default=None,
        min_length=1,
        description="Why it serves its own host only: `validate` says it when a component "
        "that requires it is placed elsewhere (needs host_local: true).",
    )
    requires: list[str] = Field(default_factory=list)
    endpoints: list[Endpoint] = Field(default_factory=list)
    openings: list[Opening] = Field(default_factory=list)
    sso_client: SsoClient | None = None
    databases: list[Database] = Field(default_factory=list)
    redis_database: bool = Field(
        default=False, description="A Redis database per tenant the component serves."
    )
    directory_account: bool = Field(
        default=False,
        description="A service account per tenant that reads the tenant's people.",
    )
    generated: list[Literal["suite_ca", "host_certificate", "tenant_certificates", "extra_ca"]] = (
        Field(
            default_factory=list,
            description="Files souverain makes in Python for this component's role to place: "
            "the suite CA, the host's certificate, each tenant's certificate (on the hosts "
            "carrying a component with tenant_certificates), the extra CAs of suite.yml.",
        )
    )
    front: bool = Field(
        default=False,
        description="Its host serves the endpoints the components publish `via: proxy`: "
        "every web name points at it, so it runs on one host only, as a singleton does.",
    )
    tenant_certificates: bool = Field(
        default=False,
        description="The hosts carrying it need each tenant's certificate (it serves the "
        "tenants' names).",
    )
    dns: str | None = Field(
        default=None, description="Template (under the role) of the tenant's DNS records."
    )
    backup: BackupData | None = Field(
        default=None, description="The data only a backup brings back (see BackupData)."
    )
    on_data_hosts: bool = Field(
        default=False,
        description="Besides the hosts that list it, it runs on every host that carries a "
        "component with `backup:` data (the backup agent).",
    )

    @field_validator("requires")
    @classmethod
    def _names(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.match(_NAME, value):
                raise ValueError(f"{value!r} is not a component name")
        return values

    @model_validator(mode="after")
    def _placement_rules_make_sense(self) -> Manifest:
        if self.singleton_reason is not None and not self.singleton:
            raise ValueError("singleton_reason is set but singleton is false")
        if self.host_local_reason is not None and not self.host_local:
            raise ValueError("host_local_reason is set but host_local is false")
        if self.placement == "everywhere" and (self.singleton or self.host_local):
            raise ValueError(
                "a component placed everywhere is on every host: it cannot be singleton or "
                "host_local"
            )
        return self
