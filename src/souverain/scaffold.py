"""New deployment directories: `souverain init` and the lab's ready-made suite.yml."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import jinja2

from souverain.deployment import Deployment
from souverain.errors import UsageError
from souverain.fsutil import atomic_write
from souverain.paths import TEMPLATES_DIR


@dataclass(frozen=True)
class ScaffoldHost:
    name: str
    address: str
    components: tuple[str, ...] | None = None  # None: the single host carries everything
    comment: str | None = None  # a line above the host in suite.yml


# The layouts `souverain init --layout` writes, with example addresses (RFC 5737).
LAYOUTS: dict[str, tuple[ScaffoldHost, ...]] = {
    "single": (ScaffoldHost("srv1", "192.0.2.10"),),
    "split": (
        ScaffoldHost(
            "front",
            "192.0.2.10",
            ("proxy", "directory", "sso"),
            "nginx (every web name points here), OpenLDAP and the SSO portals",
        ),
        ScaffoldHost("mail", "192.0.2.11", ("mail",), "Postfix, Dovecot, Rspamd and the webmail"),
        ScaffoldHost(
            "data", "192.0.2.12", ("postgresql",), "PostgreSQL, reached over TLS by chat and drive"
        ),
        ScaffoldHost(
            "apps",
            "192.0.2.13",
            ("redis", "chat", "visio", "drive"),
            "Synapse, Jitsi and Nextcloud, with Redis beside Nextcloud (loopback only)",
        ),
    ),
}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR / "scaffold"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["q"] = lambda value: json.dumps(value, ensure_ascii=False)
    return env


def suite_yaml(
    *,
    name: str,
    hosts: list[ScaffoldHost],
    domain: str,
    tenant_id: str,
    tenant_name: str,
    provider: str = "on-premises",
    country: str = "FR",
    region: str | None = None,
    ssh_user: str = "root",
    private_key_file: str | None = None,
    known_hosts_file: str | None = None,
    ntp_servers: list[str] | None = None,
    admin_networks: list[str] | None = None,
    extra_ca: list[str] | None = None,
) -> str:
    """A commented, valid suite.yml. Backups are on when a host carries them: the single host
    (implicitly) or a host that lists `backup`."""
    backup = len(hosts) == 1 and hosts[0].components is None
    backup = backup or any("backup" in (host.components or ()) for host in hosts)
    return (
        _environment()
        .get_template("suite.yml.j2")
        .render(
            name=name,
            hosts=hosts,
            domain=domain,
            tenant_id=tenant_id,
            tenant_name=json.dumps(tenant_name, ensure_ascii=False),
            provider=json.dumps(provider, ensure_ascii=False),
            country=country,
            region=json.dumps(region, ensure_ascii=False) if region else None,
            ssh_user=ssh_user,
            private_key_file=private_key_file,
            known_hosts_file=known_hosts_file,
            ntp_servers=ntp_servers or [f"ntp1.{domain}", f"ntp2.{domain}"],
            admin_networks=admin_networks or ["10.0.0.0/8"],
            extra_ca=extra_ca or [],
            backup=backup,
        )
    )


def default_placed() -> tuple[str, ...]:
    """The components a host lists that are on unless suite.yml turns them off."""
    from souverain.model.components import PLACEABLE, Components

    def on_by_default(name: str) -> bool:
        factory = Components.model_fields[name].default_factory
        return factory is None or bool(getattr(factory(), "enabled", True))  # type: ignore[call-arg]

    return tuple(name for name in PLACEABLE if on_by_default(name))


def lab_suite_yaml(
    hosts: list[tuple[str, str]],
    *,
    domain: str,
    private_key_file: str,
    known_hosts_file: str,
    extra_ca_files: list[str],
    admin_networks: list[str],
    ntp_servers: list[str] | None = None,
) -> str:
    """suite.yml for a lab: everything on the first host, one tenant on a lab domain; with
    several hosts, the last one keeps the backup repositories."""
    first_name, last_name = hosts[0][0], hosts[-1][0]

    def carried(name: str) -> tuple[str, ...] | None:
        if len(hosts) == 1:
            return None
        return (
            default_placed() if name == first_name else (("backup",) if name == last_name else ())
        )

    scaffold_hosts = [
        ScaffoldHost(name=name, address=address, components=carried(name))
        for name, address in hosts
    ]
    # With several lab hosts, the others carry only base and pki (an empty list).
    return suite_yaml(
        name=domain.split(".")[0],
        hosts=scaffold_hosts,
        domain=domain,
        tenant_id="demo",
        tenant_name="Demo organisation",
        provider="souverain lab (this machine)",
        country="FR",
        private_key_file=private_key_file,
        known_hosts_file=known_hosts_file,
        ntp_servers=ntp_servers or [hosts[0][1]],
        admin_networks=admin_networks,
        extra_ca=extra_ca_files,
    )


def init_deployment(
    directory: Path, *, domain: str, name: str, force: bool = False, layout: str = "single"
) -> Deployment:
    """Create a deployment directory with suite.yml, .gitignore and README.md.

    ``layout`` is a key of LAYOUTS: one host carrying everything, or four hosts.
    """
    if layout not in LAYOUTS:
        raise UsageError(f"unknown layout {layout!r}", hint="choose one of: " + ", ".join(LAYOUTS))
    deployment = Deployment.at(directory)
    if deployment.suite_file.exists() and not force:
        raise UsageError(
            f"{deployment.suite_file} already exists; nothing was changed",
            hint="edit it, or choose another directory",
        )
    from souverain.model.base import TENANT_ID_MAX

    env = _environment()
    suite = suite_yaml(
        name=name,
        hosts=list(LAYOUTS[layout]),
        domain=domain,
        tenant_id=domain.split(".")[0][:TENANT_ID_MAX].strip("-") or "org",
        tenant_name=domain.split(".")[0].capitalize(),
        provider="on-premises",
        country="FR",
    )
    deployment.root.mkdir(parents=True, exist_ok=True)
    atomic_write(deployment.root / ".gitignore", env.get_template("gitignore.j2").render())
    atomic_write(
        deployment.root / "README.md",
        env.get_template("README.md.j2").render(name=name, directory=directory),
    )
    atomic_write(deployment.suite_file, suite)
    return deployment
