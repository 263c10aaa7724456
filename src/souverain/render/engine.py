"""Model -> every file of the build, in memory. Writing it out is build.py's job.

For each host, each component it carries contributes the files its `render.yml` lists
(rendered from the role's templates, once per host or once per tenant), the certificates it
needs, and the role variables Ansible reads. The same input always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

from souverain.errors import RenderError
from souverain.model.components import ALL_COMPONENTS, TENANT_COMPONENTS
from souverain.model.services import tenant_services, tenant_web_names
from souverain.model.suite import Host, Suite, Tenant
from souverain.render.materials import TLS_DIR, Materials
from souverain.render.spec import FileSpec, load_spec
from souverain.render.templating import environment

EXTRA_CA_DIR = "/usr/local/share/ca-certificates"
# Role variables can list every tenant: libyaml parses them many times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class RenderedFile:
    path: str  # relative to the build root
    content: bytes  # as stored in the build (vault-encrypted when secret)
    sha256: str  # of the plaintext: what the file on the host will hold
    host: str | None = None
    dest: str | None = None  # absolute path on the host
    component: str = "inventory"
    tenant: str | None = None
    mode: str = "0644"
    owner: str = "root"
    group: str = "root"
    service: str = "files"
    secret: bool = False

    def manifest_entry(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "host": self.host,
            "dest": self.dest,
            "sha256": self.sha256,
            "component": self.component,
            "tenant": self.tenant,
            "mode": self.mode,
            "owner": self.owner,
            "group": self.group,
            "service": self.service,
            "secret": self.secret,
        }

    def placement(self) -> dict[str, Any]:
        """What the role needs to place the file (Ansible variable `<component>_files`)."""
        return {
            "src": self.path,
            "dest": self.dest,
            "mode": self.mode,
            "owner": self.owner,
            "group": self.group,
            "service": self.service,
            "tenant": self.tenant,
            "sha256": self.sha256,
        }


@dataclass
class Build:
    files: dict[str, RenderedFile] = field(default_factory=dict)

    def add(self, item: RenderedFile) -> None:
        if item.path in self.files:
            raise RenderError(f"two components render {item.path}")
        self.files[item.path] = item

    def manifest(self) -> dict[str, Any]:
        return {
            "format": 1,
            "files": [self.files[path].manifest_entry() for path in sorted(self.files)],
        }


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _dump(data: Any) -> bytes:
    """Variables files: JSON, which is YAML too, sorted for byte-identical output."""
    return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


@dataclass
class Renderer:
    suite: Suite
    materials: Materials
    roles_dir: Path
    build_root: Path  # where the build will be visible (deployment/build)
    suite_root: Path  # the deployment directory (extra CA files are relative to it)
    previous: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # path -> (sha, bytes)
    _expressions: dict[str, Callable[..., Any]] = field(default_factory=dict)
    _dest_templates: dict[str, jinja2.Template] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = environment(self.roles_dir)

    # ---- entry point -------------------------------------------------------------------

    def render(self) -> Build:
        build = Build()
        for host in self.suite.hosts:
            self._render_host(build, host)
        self._render_inventory(build)
        return build

    # ---- per host ----------------------------------------------------------------------

    def _render_host(self, build: Build, host: Host) -> None:
        components = self.suite.components_of_host(host.name)
        host_vars: dict[str, Any] = {"souverain_components": components}
        secret_vars: dict[str, Any] = {}
        placed: dict[str, list[RenderedFile]] = {name: [] for name in components}
        for component in ALL_COMPONENTS:
            if component not in components:
                continue
            spec = load_spec(self.roles_dir, component)
            base_context = self._context(host, components, component)
            for file_spec in spec.files:
                for tenant in self._tenants_for(file_spec, component):
                    context = {**base_context, "tenant": tenant}
                    if file_spec.when and not self._expression(file_spec.when)(**context):
                        continue
                    item = self._render_file(host, component, file_spec, context, tenant)
                    build.add(item)
                    placed[component].append(item)
            for item in self._generated_files(host, component):
                build.add(item)
                placed[component].append(item)
            if spec.vars_template:
                host_vars.update(self._render_vars(component, spec.vars_template, base_context))
            if spec.secret_vars_template:
                secret_vars.update(
                    self._render_vars(component, spec.secret_vars_template, base_context)
                )
        for component, items in placed.items():
            host_vars[f"{component}_files"] = [item.placement() for item in items]
        base = f"inventory/host_vars/{host.name}"
        build.add(self._plain(f"{base}/souverain.json", _dump(host_vars)))
        build.add(self._secret(f"{base}/secrets.yml", _dump(secret_vars)))

    def _tenants_for(self, spec: FileSpec, component: str) -> list[Tenant | None]:
        if spec.per == "host":
            return [None]
        if component in TENANT_COMPONENTS:
            return [t for t in self.suite.tenants if component in self.suite.tenant_components(t)]
        return list(self.suite.tenants)

    def _context(self, host: Host, components: list[str], component: str) -> dict[str, Any]:
        suite = self.suite
        return {
            "suite": suite,
            "host": host,
            "host_components": components,
            "component": component,
            "settings": getattr(suite.components, component),
            "tenants": [
                t
                for t in suite.tenants
                if component not in TENANT_COMPONENTS or component in suite.tenant_components(t)
            ],
            "placement": suite.placement,
            "services": lambda tenant: tenant_services(suite, tenant),
            "web_names": lambda tenant: tenant_web_names(suite, tenant),
            "tls_dir": TLS_DIR,
            "secret": self.materials.secret,
        }

    def _expression(self, source: str) -> Callable[..., Any]:
        compiled = self._expressions.get(source)
        if compiled is None:
            compiled = self.env.compile_expression(source)
            self._expressions[source] = compiled
        return compiled

    def _dest(self, pattern: str, context: dict[str, Any]) -> str:
        if "{" not in pattern:
            return pattern
        template = self._dest_templates.get(pattern)
        if template is None:
            template = self._dest_templates[pattern] = self.env.from_string(pattern)
        return template.render(context)

    def _render_file(
        self,
        host: Host,
        component: str,
        spec: FileSpec,
        context: dict[str, Any],
        tenant: Tenant | None,
    ) -> RenderedFile:
        template_name = f"{component}/templates/{spec.template}"
        used_secret = False
        secret = context["secret"]

        def tracked_secret(*args: Any, **kwargs: Any) -> str:
            nonlocal used_secret
            used_secret = True
            return secret(*args, **kwargs)

        try:
            dest = self._dest(spec.dest, context)
            text = self.env.get_template(template_name).render(
                {**context, "secret": tracked_secret, "dest": dest}
            )
        except jinja2.TemplateError as error:
            where = f"{template_name}, line {getattr(error, 'lineno', '?')}"
            raise RenderError(f"{where}: {error}") from None
        if used_secret and not spec.secret:
            raise RenderError(
                f"{template_name} uses a secret but render.yml does not mark it 'secret: true'; "
                "it would be stored unencrypted in build/"
            )
        data = text.encode()
        path = f"hosts/{host.name}/files{dest}"
        return self._item(
            path,
            data,
            secret=spec.secret,
            host=host.name,
            dest=dest,
            component=component,
            tenant=tenant.id if tenant else None,
            mode=spec.mode,
            owner=spec.owner,
            group=spec.group,
            service=spec.service,
        )

    def _generated_files(self, host: Host, component: str) -> list[RenderedFile]:
        """Files made by Python rather than templates: certificates and trusted CAs."""
        items: list[RenderedFile] = []
        common = {"host": host.name, "component": component}
        if component == "pki":
            items.append(
                self._item(
                    f"hosts/{host.name}/files{TLS_DIR}/ca.crt",
                    self.materials.ca_pem(),
                    dest=f"{TLS_DIR}/ca.crt",
                    service="ca",
                    **common,
                )
            )
            items += self._certificate(host, f"host-{host.name}", [self._host_fqdn(host)], None)
            if host.name in self.suite.placement["proxy"]:
                for tenant in self.suite.tenants:
                    names = tenant_web_names(self.suite, tenant)
                    items += self._certificate(host, f"tenant-{tenant.id}", names, tenant.id)
        if component == "base":
            for index, name in enumerate(self.suite.trust.extra_ca):
                pem = (self.suite_root / name).read_bytes()
                dest = f"{EXTRA_CA_DIR}/souverain-extra-{index}.crt"
                items.append(
                    self._item(
                        f"hosts/{host.name}/files{dest}", pem, dest=dest, service="ca", **common
                    )
                )
        return items

    def _host_fqdn(self, host: Host) -> str:
        return f"{host.name}.{self.suite.name}.internal"

    def _certificate(
        self, host: Host, name: str, dns_names: list[str], tenant: str | None
    ) -> list[RenderedFile]:
        files = self.materials.certificate(name, dns_names)
        crt, key = f"{TLS_DIR}/{name}.crt", f"{TLS_DIR}/{name}.key"
        common = {"host": host.name, "component": "pki", "tenant": tenant, "service": "tls"}
        return [
            self._item(f"hosts/{host.name}/files{crt}", files.fullchain_pem, dest=crt, **common),
            RenderedFile(
                path=f"hosts/{host.name}/files{key}",
                content=files.encrypted_key,
                sha256=files.key_sha256,
                dest=key,
                # A host key is read by local services (slapd, PostgreSQL...) through Debian's
                # ssl-cert group; a tenant key only by nginx, as root.
                mode="0600" if tenant else "0640",
                group="root" if tenant else "ssl-cert",
                secret=True,
                **common,
            ),
        ]

    def _render_vars(self, component: str, template: str, context: dict[str, Any]) -> dict:
        name = f"{component}/templates/{template}"
        try:
            text = self.env.get_template(name).render(context)
        except jinja2.TemplateError as error:
            raise RenderError(f"{name}: {error}") from None
        data = yaml.load(text, Loader=_YAML_LOADER) or {}
        if not isinstance(data, dict):
            raise RenderError(f"{name} must render a mapping of variables")
        wrong = [key for key in data if not str(key).startswith(f"{component}_")]
        if wrong:
            raise RenderError(f"{name}: variables must start with '{component}_': {wrong}")
        return data

    # ---- inventory ---------------------------------------------------------------------

    def _render_inventory(self, build: Build) -> None:
        suite = self.suite
        connection = suite.connection
        hosts: dict[str, Any] = {}
        for host in suite.hosts:
            entry: dict[str, Any] = {
                "ansible_host": host.address,
                "ansible_port": host.ssh_port or suite.components.base.ssh_port,
                "ansible_user": host.ssh_user or connection.user,
            }
            if connection.private_key_file:
                key = (self.suite_root / connection.private_key_file).resolve()
                entry["ansible_ssh_private_key_file"] = str(key)
            if connection.known_hosts_file:
                known = (self.suite_root / connection.known_hosts_file).resolve()
                entry["ansible_ssh_common_args"] = (
                    f"-o UserKnownHostsFile={known} -o StrictHostKeyChecking=yes"
                )
            hosts[host.name] = entry
        children = {
            component: {"hosts": {name: None for name in names}}
            for component, names in suite.placement.items()
        }
        inventory = {"all": {"hosts": hosts, "children": children}}
        build.add(self._plain("inventory/hosts.yml", _dump(inventory)))
        group_vars = {
            "souverain_build_dir": str(self.build_root),
            "souverain_suite_name": suite.name,
        }
        build.add(self._plain("inventory/group_vars/all/souverain.json", _dump(group_vars)))

    # ---- helpers -----------------------------------------------------------------------

    def _plain(self, path: str, data: bytes) -> RenderedFile:
        return RenderedFile(path=path, content=data, sha256=_sha256(data))

    def _secret(self, path: str, data: bytes) -> RenderedFile:
        return self._item(path, data, secret=True)

    def _item(self, path: str, data: bytes, *, secret: bool = False, **meta: Any) -> RenderedFile:
        digest = _sha256(data)
        if secret:
            previous = self.previous.get(path)
            content = previous[1] if previous and previous[0] == digest else None
            if content is None:
                content = self.materials.encrypt(data)
            if "mode" not in meta:
                meta["mode"] = "0600"
        else:
            content = data
        return RenderedFile(path=path, content=content, sha256=digest, secret=secret, **meta)
