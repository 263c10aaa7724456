"""What the placed components publish for the shared roles, computed from their manifests.

The shared roles (base's firewall, sso, postgresql, redis, directory) never name a
component: their templates loop over what this gives them (`published` in the render
context), which is what the components enabled and placed in the suite declare in their
`component.yml`.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from souverain.model import backup_plan
from souverain.model.components import BEHIND_FRONT, CATALOG
from souverain.model.services import fill, host_fqdn, host_openings, serves_tenant
from souverain.model.suite import Suite, Tenant


class Published:
    """The published needs of a suite's components; one per render."""

    def __init__(self, suite: Suite) -> None:
        self._suite = suite
        self._databases: dict[str, list[dict[str, Any]]] = {}
        self._databases_by_tenant: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self._backup: dict[str, dict[str, Any]] = {}

    def openings(self, host: str) -> list[dict[str, Any]]:
        """The inbound openings of ``host``: component, proto, port, from."""
        return [
            {
                "component": o.component,
                "proto": o.proto,
                "port": o.port,
                "from": o.origin,
                **(
                    {
                        "sources": list(o.sources),
                        "sources_v4": [a for a in o.sources if ":" not in a],
                        "sources_v6": [a for a in o.sources if ":" in a],
                    }
                    if o.sources
                    else {}
                ),
            }
            for o in host_openings(self._suite, host)
        ]

    @property
    def backend_port(self) -> int:
        """The HTTPS port of the web server on the hosts behind the front (the first opening
        of the behind-front component's manifest)."""
        port = CATALOG[BEHIND_FRONT[0]].manifest.openings[0].port
        assert isinstance(port, int)
        return port

    def backend(self, component: str) -> dict[str, Any]:
        """Where the front reaches the web endpoints of ``component`` when it runs on another
        host: ``host``, that host's internal name (its certificate carries it), and ``port``."""
        name = self._suite.placement[component][0]
        return {"host": host_fqdn(self._suite, name), "port": self.backend_port}

    def sso_clients(self, tenant: Tenant) -> list[dict[str, Any]]:
        """The OpenID Connect clients of a tenant's portal: one per component it uses that
        signs in through the portal. The client id is the component's name and its secret
        secret("sso/<tenant>/<component>"): the component's role reads the same names."""
        suite = self._suite
        clients = []
        for component in CATALOG:
            client = component.manifest.sso_client
            if client is None or not serves_tenant(suite, component, tenant):
                continue
            settings = getattr(suite.components, component.name)
            clients.append(
                {
                    "id": component.name,
                    "secret_name": f"sso/{tenant.id}/{component.name}",
                    "redirect_uris": [fill(uri, settings, tenant) for uri in client.redirect_uris],
                }
            )
        return clients

    def databases(self, host: str) -> list[dict[str, Any]]:
        """The PostgreSQL databases of every tenant, for each component that publishes one:
        name, owner, encoding, lc_collate, lc_ctype, component, tenant, secret, and `remote`:
        the addresses of the hosts other than ``host`` that connect to it."""
        known = self._databases.get(host)
        if known is not None:
            return known
        suite = self._suite
        users = [c for c in CATALOG if c.manifest.databases]
        databases: list[dict[str, Any]] = []
        for tenant in suite.tenants:
            for component in users:
                if not serves_tenant(suite, component, tenant):
                    continue
                remote: list[str] = []
                for name in suite.placement.get(component.name, []):
                    address = suite.host(name).address
                    if name != host and address not in remote:
                        remote.append(address)
                for database in component.manifest.databases:
                    name = f"{database.prefix}_{tenant.id.replace('-', '_')}"
                    databases.append(
                        {
                            "name": name,
                            "owner": name,
                            "encoding": "UTF8",
                            "lc_collate": database.collation,
                            "lc_ctype": database.collation,
                            "component": component.name,
                            "tenant": tenant.id,
                            "secret": f"postgresql/{component.name}/{tenant.id}",
                            "remote": remote,
                        }
                    )
        self._databases[host] = databases
        return databases

    def tenant_databases(self, host: str, tenant: str) -> list[dict[str, Any]]:
        """The databases of one tenant, as `databases` lists them: what a tenant's part of the
        role variables reads. Grouped once per host."""
        grouped = self._databases_by_tenant.get(host)
        if grouped is None:
            grouped = {}
            for database in self.databases(host):
                grouped.setdefault(database["tenant"], []).append(database)
            self._databases_by_tenant[host] = grouped
        return grouped.get(tenant, [])

    @cached_property
    def redis_databases(self) -> dict[str, int]:
        """tenant id -> its Redis database, for the tenants a component with a Redis database
        serves. The index is the tenant's position in suite.yml (0 stays unused), so enabling
        such a component for one tenant never moves the others."""
        suite = self._suite
        users = [c for c in CATALOG if c.manifest.redis_database]
        return {
            tenant.id: suite.tenant_number(tenant.id)
            for tenant in suite.tenants
            if any(serves_tenant(suite, component, tenant) for component in users)
        }

    def directory_readers(self, tenant: Tenant) -> list[str]:
        """The components that read the tenant's people with a service account of their own."""
        return [
            c.name
            for c in CATALOG
            if c.manifest.directory_account and serves_tenant(self._suite, c, tenant)
        ]

    def backup(self, host: str) -> dict[str, Any]:
        """What the backup role does on ``host``: `agent` (its plan: repository, tenants'
        parts) when it holds data, `server` (the agents it accepts) when it keeps the
        repositories. Computed once per host (render.yml's `when` and the templates ask again)."""
        known = self._backup.get(host)
        if known is not None:
            return known
        suite = self._suite
        server = backup_plan.repository_host(suite)
        plans = self._backup_plans
        target = suite.host(server) if server else None
        self._backup[host] = {
            "agent": plans.get(host),
            "server": {"agents": list(plans)} if host == server else None,
            "repository_host": server,
            "repository_address": target.address if target else None,
            "repository_port": (target.ssh_port or 22) if target else None,
            "account": backup_plan.ACCOUNT,
            "home": backup_plan.REPOSITORIES_DIR,
        }
        return self._backup[host]

    @cached_property
    def _backup_plans(self) -> dict[str, dict[str, Any]]:
        """host -> its backup agent's plan (the hosts holding data), computed once."""
        return backup_plan.agent_plans(self._suite)
