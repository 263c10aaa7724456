"""Settings of each component, with defaults that are secure and sovereign."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import AfterValidator, Field, create_model, model_validator

from souverain.components import default_catalog
from souverain.model.base import DomainName, IPAddress, Network, Port, Strict
from souverain.model.bounds import SECONDS_PER_YEAR, within
from souverain.model.strings import (
    DirectorySuffix,
    EmailAddress,
    GroupName,
    HostLabel,
    OrganisationName,
    ReleaseVersion,
    ServerAddress,
    ServerAddressWithPort,
    SizeWithUnit,
    SshUrl,
    TimeZoneName,
    WebUrl,
    display_name,
)

# The names come from the components' manifests (roles/<name>/component.yml).
CATALOG = default_catalog()
EVERYWHERE = CATALOG.everywhere  # base and pki go on every host whatever the host lists
PLACEABLE = CATALOG.placeable  # what a host lists in suite.yml
BEHIND_FRONT = CATALOG.behind_front  # on the hosts the front reaches for web endpoints
ALL_COMPONENTS = CATALOG.names
TENANT_COMPONENTS = CATALOG.tenant_scoped  # what a tenant switches on or off for its users
SINGLETONS = CATALOG.singletons  # run once for the whole suite (no high availability yet)
REQUIRES = CATALOG.requires  # what each component needs running somewhere in the suite
HOST_LOCAL = CATALOG.host_local  # serve only the components on their own host (Redis)
DATA_HOLDERS = CATALOG.data_holders  # keep data only a backup brings back
ON_DATA_HOSTS = CATALOG.on_data_hosts  # also on every host of a data holder (backup agent)

ComponentName = Literal[PLACEABLE]  # type: ignore[valid-type]
TenantComponentName = Literal[TENANT_COMPONENTS]  # type: ignore[valid-type]

# The settings class of each component, registered by @settings_of. A component without one
# gets Toggle (only `enabled`), or no settings at all when it is always on.
_SETTINGS: dict[str, type[Strict]] = {}

_S = TypeVar("_S", bound=type[Strict])


def settings_of(component: str) -> Callable[[_S], _S]:
    """Register a class as the settings of `components.<component>` in suite.yml."""

    def register(cls: _S) -> _S:
        _SETTINGS[component] = cls
        return cls

    return register


class OpenscapSettings(Strict):
    """OpenSCAP on the hosts, for `souverain audit --live` (rule OS-01)."""

    enabled: bool = Field(
        default=False,
        description="Install openscap-scanner and ssg-debian (ComplianceAsCode content) on "
        "every host, so that `souverain audit --live` evaluates the ANSSI-BP-028 profile "
        "there. Off by default: two more packages, and an evaluation takes minutes.",
    )
    profile: Literal["minimal", "intermediary", "enhanced", "high"] = Field(
        default="intermediary",
        description="ANSSI-BP-028 level evaluated (profile anssi_bp28_<level>).",
    )


class LynisSettings(Strict):
    """Lynis on the hosts, for `souverain audit --live` (rule OS-21)."""

    enabled: bool = Field(
        default=False,
        description="Install Debian's lynis on every host, so that `souverain audit --live` "
        "runs its system audit there and shows its hardening index and warnings. Off by "
        "default: one more package, and a run takes a minute or two per host.",
    )


BannerLine = Annotated[str, AfterValidator(display_name(120))]

DEFAULT_BANNER = [
    "Système d'information réservé aux personnes autorisées.",
    "Les connexions et les actions sont journalisées. Tout accès ou tentative d'accès",
    "non autorisé est passible de poursuites (articles 323-1 et suivants du Code pénal).",
    # For administrators who do not read French, and for scanners (Lynis) that look for
    # English words in a banner.
    "Restricted system: authorised users only. Connections and actions are logged and",
    "monitored; unauthorised access is prohibited and prosecuted under French criminal law.",
]


@settings_of("base")
class BaseSettings(Strict):
    """Every host: SSH, firewall, time, logs, updates, kernel hardening."""

    ntp_servers: list[ServerAddress] = Field(
        min_length=1,
        description="NTP servers the hosts may use. No public pool is set by default: "
        "name internal or national servers you trust.",
    )
    admin_networks: list[Network] = Field(
        min_length=1,
        description="Networks allowed to reach SSH; everything else is dropped.",
    )
    ssh_port: Port = 22
    journald_retention_days: Annotated[
        int,
        within(
            30,
            3650,
            "days journald keeps logs (MaxRetentionSec): at least a month for incident "
            "analysis, at most ten years",
        ),
    ] = 365
    journald_max_use: SizeWithUnit = "2G"
    unattended_security_upgrades: bool = True
    security_archive: WebUrl | None = Field(
        default=None,
        description="Where the hosts fetch the release's security suite (<codename>-security). "
        "By default the base role derives it from the Debian archive each host already uses: "
        "the last part of its path, debian, becomes debian-security, as Debian's own archive "
        "lays them out. Name it here for an internal mirror laid out otherwise; a host whose "
        "archive gives no such path and no value here fails its deploy rather than run "
        "without security updates.",
    )
    timezone: TimeZoneName = "Europe/Paris"
    openscap: OpenscapSettings = Field(default_factory=OpenscapSettings)
    lynis: LynisSettings = Field(default_factory=LynisSettings)
    banner: list[BannerLine] = Field(
        default_factory=lambda: list(DEFAULT_BANNER),
        min_length=1,
        max_length=20,
        description="The legal notice shown before every login, one item per line: on the "
        "console (/etc/issue) and by the SSH server before authentication (/etc/issue.net). "
        "French by default, followed by its English translation; write it in the languages "
        "of the people who log in.",
    )


@settings_of("proxy")
class ProxySettings(Strict):
    """nginx in front of every web service."""

    hsts_max_age: Annotated[
        int,
        within(
            SECONDS_PER_YEAR,
            10 * SECONDS_PER_YEAR,
            "seconds of the Strict-Transport-Security header: at least one year (HSTS "
            "preload), at most ten",
        ),
    ] = Field(default=63072000, description="At least one year.")
    client_max_body_size_mb: Annotated[
        int,
        within(
            1,
            65536,
            "nginx's client_max_body_size, in MB: the largest upload, up to 64 GiB",
        ),
    ] = 512


class AcmeSettings(Strict):
    directory_url: WebUrl = Field(description="The ACME directory of the CA you choose.")
    email: EmailAddress


@settings_of("pki")
class PkiSettings(Strict):
    """Certificates: an internal CA (on-premises, lab) or ACME (public hosts)."""

    mode: Literal["internal", "acme"] = "internal"
    acme: AcmeSettings | None = None
    organisation: OrganisationName = "souverain"

    @model_validator(mode="after")
    def _acme_needs_settings(self) -> PkiSettings:
        if self.mode == "acme" and self.acme is None:
            raise ValueError("mode acme needs an 'acme' section with directory_url and email")
        return self


class Toggle(Strict):
    enabled: bool = True


@settings_of("postgresql")
class PostgresqlSettings(Toggle):
    """Shared PostgreSQL for the components that need one (databases per component and tenant)."""


@settings_of("redis")
class RedisSettings(Toggle):
    """Shared Redis (drive file locking and cache)."""


@settings_of("directory")
class DirectorySettings(Toggle):
    """OpenLDAP: one base DN for the suite, one organisational unit per tenant."""

    suffix: DirectorySuffix | None = Field(
        default=None,
        description="Base DN; derived from the first tenant's domain when absent.",
    )
    password_min_length: Annotated[
        int,
        within(
            8,
            128,
            "OpenLDAP's ppolicy pwdMinLength: fewer than 8 characters are guessed, a longer "
            "minimum than 128 locks users out",
        ),
    ] = 12
    lockout_failures: Annotated[
        int,
        within(
            3,
            20,
            "OpenLDAP's ppolicy pwdMaxFailure: below 3 typos lock users out, above 20 "
            "guessing goes on too long",
        ),
    ] = 5


@settings_of("sso")
class SsoSettings(Toggle):
    """LemonLDAP::NG, an OpenID Connect provider with one portal per tenant."""

    hostname: HostLabel = "auth"
    admin_group: GroupName = "admins"
    admin_mfa: bool = Field(default=True, description="TOTP required for the admin group.")


class SpamSettings(Strict):
    """Rspamd. Third-party lookups (fuzzy servers, maps, public blocklists) are off by default."""

    external_lookups: bool = False
    fuzzy_servers: list[ServerAddressWithPort] = Field(default_factory=list)
    dns_blocklists: list[DomainName] = Field(default_factory=list)


@settings_of("mail")
class MailSettings(Toggle):
    """Postfix, Dovecot, Rspamd and webmail."""

    hostname: HostLabel = "mail"
    webmail_hostname: HostLabel = "webmail"
    dkim_key_bits: Literal[2048, 3072, 4096] = 2048
    dmarc_policy: Literal["none", "quarantine", "reject"] = "quarantine"
    mta_sts_mode: Literal["testing", "enforce"] = "enforce"
    max_message_size_mb: Annotated[
        int,
        within(
            1,
            1024,
            "Postfix's message_size_limit, in MB: other servers refuse mail much above 50 MB, "
            "none takes more than 1 GiB",
        ),
    ] = 50
    spam: SpamSettings = Field(default_factory=SpamSettings)


class FederationSettings(Strict):
    mode: Literal["off", "allowlist"] = "off"
    allowlist: list[DomainName] = Field(default_factory=list)

    @model_validator(mode="after")
    def _allowlist_matches_mode(self) -> FederationSettings:
        if self.mode == "allowlist" and not self.allowlist:
            raise ValueError("mode allowlist needs at least one domain in 'allowlist'")
        if self.mode == "off" and self.allowlist:
            raise ValueError("'allowlist' is set but mode is off; set mode: allowlist")
        return self


@settings_of("chat")
class ChatSettings(Toggle):
    """Matrix Synapse (one per tenant) and Element web."""

    # Not a setting: each tenant's homeserver runs as its own system user, <prefix><tenant id>,
    # so that one homeserver cannot read another's keys, secrets or media. The tenant id's
    # length limit (base.TENANT_ID_MAX) leaves room for it.
    user_prefix: ClassVar[str] = "mx-"

    hostname: HostLabel = "matrix"
    element_hostname: HostLabel = "chat"
    synapse_version: ReleaseVersion = "1.163.2"
    federation: FederationSettings = Field(default_factory=FederationSettings)
    url_previews: bool = False
    media_retention_days: (
        Annotated[
            int,
            within(
                1,
                36500,
                "days Synapse keeps remote and local media (media_retention): at most a "
                "hundred years",
            ),
        ]
        | None
    ) = None


@settings_of("visio")
class VisioSettings(Toggle):
    """Jitsi Meet, Prosody and coturn."""

    hostname: HostLabel = "visio"
    guests_allowed: bool = False
    media_port: Port = 10000
    turn_port: Port = 3478
    turns_port: Port = 5349
    recording: bool = False
    public_address: IPAddress | None = None  # the videobridge's and TURN's address behind NAT


@settings_of("drive")
class DriveSettings(Toggle):
    """Nextcloud, one instance per tenant."""

    hostname: HostLabel = "drive"
    server_side_encryption: bool = False
    app_store: bool = Field(default=False, description="Off: no call to the public app store.")


class BackupRetention(Strict):
    daily: Annotated[
        int,
        within(1, 3660, "daily archives borg prune keeps (keep_daily): up to ten years"),
    ] = 7
    weekly: Annotated[
        int,
        within(0, 522, "weekly archives borg prune keeps (keep_weekly): up to ten years"),
    ] = 4
    monthly: Annotated[
        int,
        within(0, 1200, "monthly archives borg prune keeps (keep_monthly): up to a century"),
    ] = 6


@settings_of("backup")
class BackupSettings(Toggle):
    """BorgBackup driven by borgmatic, encrypted, append-only: every host holding data sends
    its archives to the host that lists `backup` (or to `repository`, outside the suite)."""

    enabled: bool = False
    repository: SshUrl | None = Field(
        default=None,
        description="A Borg server outside the suite, e.g. ssh://borg@backup.example.org/./suite: "
        "each host gets a repository under it (<repository>/<host>). Leave it out to keep the "
        "repositories on the suite host that lists `backup`.",
    )
    time: str = Field(
        default="01:30",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="When the daily backup starts (host time, HH:MM), before the random delay.",
    )
    randomized_delay_minutes: Annotated[
        int, within(0, 720, "minutes the start is put off at random (RandomizedDelaySec)")
    ] = 30
    retention: BackupRetention = Field(default_factory=BackupRetention)


class ComponentsBase(Strict):
    """`components:` of suite.yml; its fields (one per component) are made from the catalog."""

    def is_enabled(self, name: str) -> bool:
        """Whether the component is on (always-on components have no `enabled`)."""
        if name in CATALOG.always_on:
            return True
        return bool(getattr(self, name).enabled)

    def enabled_names(self) -> list[str]:
        return [name for name in ALL_COMPONENTS if self.is_enabled(name)]


def _settings_field(name: str) -> tuple[Any, Any]:
    cls = _SETTINGS.get(name) or (Strict if name in CATALOG.always_on else Toggle)
    required = any(info.is_required() for info in cls.model_fields.values())
    return (cls, ...) if required else (cls, Field(default_factory=cls))


Components = create_model(  # type: ignore[call-overload]
    "Components",
    __base__=ComponentsBase,
    __doc__="Settings of each component, under its name.",
    __module__=__name__,
    **{name: _settings_field(name) for name in ALL_COMPONENTS},
)


__all__ = [
    "ALL_COMPONENTS",
    "BEHIND_FRONT",
    "CATALOG",
    "DATA_HOLDERS",
    "EVERYWHERE",
    "HOST_LOCAL",
    "ON_DATA_HOSTS",
    "PLACEABLE",
    "REQUIRES",
    "SINGLETONS",
    "TENANT_COMPONENTS",
    "ComponentName",
    "Components",
    "ComponentsBase",
    "Port",
    "TenantComponentName",
    "settings_of",
]
