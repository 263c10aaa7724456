"""Model -> every file of the build, in memory. Writing it out is build.py's job.

For each host, each component it carries contributes the files its `render.yml` lists
(rendered from the role's templates, once per host or once per tenant), the certificates it
needs, and the role variables Ansible reads. The same input always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import yaml

from souverain.builddir import GROUP_VARS_FILE, HOSTS_FILE, host_secret_vars_file, host_vars_file
from souverain.errors import RenderError
from souverain.model.components import ALL_COMPONENTS, CATALOG, TENANT_COMPONENTS
from souverain.model.published import Published
from souverain.model.services import tenant_services, tenant_web_names
from souverain.model.suite import Host, Suite, Tenant
from souverain.render.cache import GroupRecord, RenderIndex, SecretDigest, code_digest, key_of
from souverain.render.materials import TLS_DIR, Materials
from souverain.render.spec import FileSpec, load_spec
from souverain.render.templating import environment

EXTRA_CA_DIR = "/usr/local/share/ca-certificates"
# Role variables can list every tenant: libyaml parses them many times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class RenderedFile:
    path: str  # relative to the build root
    stored: bytes | None  # as stored in the build (vault-encrypted when secret); None: see origin
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
    stored_sha256: str = ""  # of the stored bytes
    origin: str | None = None  # a file of the previous build holding the same stored bytes

    @property
    def content(self) -> bytes:
        """The bytes as stored in the build (read from the previous build when reused)."""
        if self.stored is not None:
            return self.stored
        assert self.origin is not None
        with open(self.origin, "rb") as handle:
            return handle.read()

    def index_entry(self) -> list[Any]:
        """The file as render-index.json keeps it (cache.FILE_FIELDS)."""
        return [
            self.path, self.host, self.dest, self.sha256, self.component, self.tenant,
            self.mode, self.owner, self.group, self.service, self.secret, self.stored_sha256,
        ]  # fmt: skip

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
            # Only when set, so the host variables of files without secrets stay as they were.
            **({"secret": True} if self.secret else {}),
        }


@dataclass
class VarsParts:
    """One component's plain variables on one host, as its templates gave them."""

    host: dict[str, Any] | None = None
    tenants: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Build:
    files: dict[str, RenderedFile] = field(default_factory=dict)
    groups: dict[str, GroupRecord] = field(default_factory=dict)  # what the next render reuses
    reused: int = 0  # groups taken from the previous build as they were
    # Per host, each component's plain variables as parts: its host template's, and each
    # tenant's (what a deploy narrowed to one tenant merges again: see render/narrow.py).
    vars_parts: dict[str, dict[str, VarsParts]] = field(default_factory=dict)
    host_vars: dict[str, dict[str, Any]] = field(default_factory=dict)  # plain, per host
    # Per host, the components with a host-wide file or variable that lists the tenants, and
    # the destinations of those files.
    listing_tenants: dict[str, set[str]] = field(default_factory=dict)
    listing_files: dict[str, set[str]] = field(default_factory=dict)
    previous: RenderIndex | None = None  # the index of the build the render borrowed from

    def add(self, item: RenderedFile) -> None:
        if item.path in self.files:
            raise RenderError(f"two components render {item.path}")
        self.files[item.path] = item


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# One encoder for every value: json.dumps with options would build a new one per call.
_COMPACT = json.JSONEncoder(sort_keys=True, separators=(", ", ": "), ensure_ascii=False)
_compact = _COMPACT.encode


def _dump_indented(data: Any) -> bytes:
    """Small variables files, indented for the reader."""
    return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _dump(data: dict[str, Any]) -> bytes:
    """Variables files: JSON, which is YAML too, sorted for byte-identical output.

    One top-level key per line and one list item per line: readable and diffable, and written
    by the json module's fast encoder (an indented dump is several times slower).
    """
    lines = []
    for key in sorted(data):
        value = data[key]
        if isinstance(value, list) and value:
            items = ",\n  ".join(map(_compact, value))
            lines.append(f" {json.dumps(key)}: [\n  {items}\n ]")
        else:
            lines.append(f" {json.dumps(key)}: {_compact(value)}")
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode()


# What a secret template's `secret(...)` returns in place of the value: characters from
# Unicode's private use area, which no string of the model may hold (model/strings.py), so no
# value from suite.yml can pass for a stand-in.
_STAND_IN_START, _STAND_IN_END = "\ue000", "\ue001"
_STAND_IN = re.compile(f"{_STAND_IN_START}([^{_STAND_IN_END}]+){_STAND_IN_END}")


def merge_vars(data: dict[str, Any], part: dict[str, Any], source: str) -> None:
    """Merge one tenant's variables into a component's: a list extended, a mapping updated,
    a variable the host template did not set taken as the tenant gives it."""
    for key, value in part.items():
        found = data.get(key)
        if found is None:
            data[key] = (
                list(value)
                if isinstance(value, list)
                else (dict(value) if isinstance(value, dict) else value)
            )
        elif isinstance(found, list) and isinstance(value, list):
            found.extend(value)
        elif isinstance(found, dict) and isinstance(value, dict):
            found.update(value)
        else:
            raise RenderError(
                f"{source}: {key} must be a list or a mapping to merge per tenant, as the host "
                "template sets it"
            )


class _OtherTenants:
    """What a per-tenant template gets for `tenants`: reading it is an error (see cache.py)."""

    def _refuse(self, *args: Any) -> Any:
        raise RenderError(
            "a per-tenant template reads the list of tenants: it must depend on its own "
            "tenant only (render it once per host instead)"
        )

    __iter__ = __len__ = __getitem__ = __contains__ = _refuse


class _TenantScopedSuite:
    """The suite as a per-tenant template sees it: everything but the other tenants."""

    def __init__(self, suite: Suite) -> None:
        self._suite = suite

    def __getattr__(self, name: str) -> Any:
        if name == "tenants":
            _OtherTenants()._refuse()
        return getattr(self._suite, name)


@dataclass
class _HostScope:
    """A host group's keys (see Renderer._host_scope) and whether its templates read the
    tenants, which the watchers below note while it renders: it is recorded under the narrow
    key unless they did."""

    lookup: str
    narrow: str
    wide: str
    read_tenants: bool = False

    def recorded(self) -> str:
        return self.wide if self.read_tenants else self.narrow


def _lookup(key: str | _HostScope) -> str:
    return key.lookup if isinstance(key, _HostScope) else key


def _recorded(key: str | _HostScope) -> str:
    return key.recorded() if isinstance(key, _HostScope) else key


class _WatchedTenants:
    """The tenant list of a host group's context: any use of it is a read."""

    def __init__(self, tenants: list[Tenant], scope: _HostScope) -> None:
        self._tenants = tenants
        self._scope = scope

    def _read(self) -> list[Tenant]:
        self._scope.read_tenants = True
        return self._tenants

    def __iter__(self) -> Any:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())

    def __bool__(self) -> bool:
        return bool(self._read())

    def __getitem__(self, index: Any) -> Any:
        return self._read()[index]

    def __contains__(self, item: Any) -> bool:
        return item in self._read()


class _WatchedSuite:
    """The suite in a host group's context: its tenant list, and what is computed from it, are
    reads of the tenants. The directory suffix (the first tenant's domain) is in the narrow key
    itself."""

    READS = frozenset({"tenants", "tenant_number", "_tenant_numbers", "tenant_components"})

    def __init__(self, suite: Suite, scope: _HostScope) -> None:
        self._suite = suite
        self._scope = scope

    def __getattr__(self, name: str) -> Any:
        if name in self.READS:
            self._scope.read_tenants = True
        return getattr(self._suite, name)


class _WatchedPublished:
    """The published needs in a host group's context: all but the few computed from the hosts
    and components alone read the tenants."""

    TENANT_FREE = frozenset({"openings", "backend_port", "backend"})

    def __init__(self, published: Published, scope: _HostScope) -> None:
        self._published = published
        self._scope = scope

    def __getattr__(self, name: str) -> Any:
        if name not in self.TENANT_FREE:
            self._scope.read_tenants = True
        return getattr(self._published, name)


@dataclass
class Renderer:
    suite: Suite
    materials: Materials
    roles_dir: Path
    build_root: Path  # where the build will be visible (deployment/build)
    suite_root: Path  # the deployment directory (extra CA files are relative to it)
    index: RenderIndex = field(default_factory=RenderIndex)  # of the previous build
    _expressions: dict[str, Callable[..., Any]] = field(default_factory=dict)
    _dest_templates: dict[str, jinja2.Template] = field(default_factory=dict)
    build: Build = field(default_factory=Build, init=False)  # the one being rendered

    def __post_init__(self) -> None:
        self.env = environment(self.roles_dir)
        self._secret_digest = SecretDigest(self.materials.secrets.peek)
        self._published = Published(self.suite)
        self._tenant_digests: dict[tuple[str, str], str] = {}
        code = code_digest(self.roles_dir)
        suite = self.suite
        # What every group's templates can read besides their host and tenant (cache.py).
        self._whole_suite = key_of(code, suite.model_dump_json())
        self._suite_but_tenants = key_of(
            code, suite.model_dump_json(exclude={"tenants"}), suite.directory_suffix
        )

    # ---- entry point -------------------------------------------------------------------

    def render(self) -> Build:
        build = self.build = Build(previous=self.index)
        for host in self.suite.hosts:
            self._render_host(build, host)
        self._render_inventory(build)
        return build

    # ---- per host ----------------------------------------------------------------------

    def _render_host(self, build: Build, host: Host) -> None:
        suite = self.suite
        components = suite.components_of_host(host.name)
        ordered = [name for name in ALL_COMPONENTS if name in components]
        placed: dict[str, list[RenderedFile]] = {name: [] for name in components}
        host_key = key_of(host.model_dump_json(), ",".join(components))
        contexts = {name: self._context(host, components, name) for name in ordered}
        for component in ordered:
            spec = load_spec(self.roles_dir, component)
            base_context = contexts[component]
            host_files = [each for each in spec.files if each.per == "host"]
            tenant_files = [each for each in spec.files if each.per == "tenant"]
            # One group per host file, named host/component:destination (a colon, which no
            # host or tenant name holds): the few that list the tenants render again when one
            # changes, the others stay on their narrow key (see _host_scope).
            for file_spec in host_files:
                group = f"{host.name}/{component}:{file_spec.dest}"
                scope = self._host_scope(group, host_key, component, group)
                context = {**self._watched(base_context, scope), "tenant": None}
                items = self._group(build, group, scope, [file_spec], context)
                placed[component] += items
                if self._note_listing(build, host, component, group, scope):
                    listing = build.listing_files.setdefault(host.name, set())
                    listing.update(item.dest for item in items if item.dest)
            if tenant_files:
                scoped = self._scoped(base_context)
                for tenant in base_context["tenants"]:
                    key = self._tenant_key(host_key, component, tenant)
                    context = {**scoped, "tenant": tenant}
                    group = f"{host.name}/{component}/{tenant.id}"
                    placed[component] += self._group(build, group, key, tenant_files, context)
            for item in self._generated_files(host, component):
                build.add(item)
                placed[component].append(item)
        host_vars: dict[str, Any] = {"souverain_components": components}
        secret_vars: dict[str, Any] = {}
        for component in ordered:
            spec = load_spec(self.roles_dir, component)
            host_vars.update(
                self._component_vars(build, host, component, host_key, contexts[component])
            )
            if spec.secret_vars_template or spec.tenant_secret_vars_template:
                secret_vars.update(
                    self._component_vars(
                        build, host, component, host_key, contexts[component], secret=True
                    )
                )
        for component, items in placed.items():
            host_vars[f"{component}_files"] = [
                item.placement() for item in sorted(items, key=lambda item: item.path)
            ]
        build.host_vars[host.name] = host_vars
        build.add(self._plain(host_vars_file(host.name), _dump(host_vars)))
        build.add(self._secret(host_secret_vars_file(host.name), _dump(self._reveal(secret_vars))))

    # ---- role variables ----------------------------------------------------------------

    def _component_vars(
        self,
        build: Build,
        host: Host,
        component: str,
        host_key: str,
        base_context: dict[str, Any],
        secret: bool = False,
    ) -> dict[str, Any]:
        """One component's role variables on a host: its host template's, then each tenant's
        fragment merged in, in the suite's order (a list extended, a mapping updated).

        Each part is a group of its own, reused while its key holds: a component whose tenant
        variables come from fragments renders its host template without the tenant list, so
        adding or changing a tenant renders that tenant's fragment and nothing else. Secret
        variables are kept with stand-ins for the values (see `_reveal`): the index never
        holds a value, and an edited value is picked up without rendering anything again.
        """
        spec = load_spec(self.roles_dir, component)
        host_template = spec.secret_vars_template if secret else spec.vars_template
        tenant_template = spec.tenant_secret_vars_template if secret else spec.tenant_vars_template
        kind = "secret-vars" if secret else "vars"
        data: dict[str, Any] = {}
        parts = VarsParts()
        if not secret:
            build.vars_parts.setdefault(host.name, {})[component] = parts
        if host_template:
            name = f"{host.name}/{component}/{kind}"
            key: str | _HostScope
            if tenant_template:
                key = key_of(self._suite_but_tenants, host_key, component, kind)
                context = self._scoped(base_context)
            else:
                key = self._host_scope(name, host_key, component, kind)
                context = {**self._watched(base_context, key), "tenant": None}
            part = self._vars_part(build, name, key, component, host_template, context, secret)
            if isinstance(key, _HostScope):
                self._note_listing(build, host, component, name, key)
            # Merged into a new mapping: the part may be the index's record, which the tenant
            # parts must not extend.
            merge_vars(data, part, f"{component}/templates/{host_template}")
            parts.host = part
        if tenant_template:
            scoped = self._scoped(base_context)
            for tenant in base_context["tenants"]:
                key = key_of(self._tenant_key(host_key, component, tenant), kind)
                name = f"{host.name}/{component}/{tenant.id}/{kind}"
                context = {**scoped, "tenant": tenant}
                part = self._vars_part(
                    build, name, key, component, tenant_template, context, secret
                )
                merge_vars(data, part, f"{component}/templates/{tenant_template}")
                parts.tenants[tenant.id] = part
        return data

    @staticmethod
    def _note_listing(
        build: Build, host: Host, component: str, group: str, scope: _HostScope
    ) -> bool:
        """Note ``component`` on ``host`` when this host group read the tenants (rendered now,
        or reused from a render when it did); whether it did."""
        if build.groups[group].key != scope.wide:
            return False
        build.listing_tenants.setdefault(host.name, set()).add(component)
        return True

    def _vars_part(
        self,
        build: Build,
        name: str,
        key: str | _HostScope,
        component: str,
        template: str,
        context: dict[str, Any],
        secret: bool,
    ) -> dict[str, Any]:
        """The variables one template renders, or as the previous render left them (``key``
        as for `_group`)."""
        record = self.index.reusable(name, _lookup(key), self._secret_digest)
        if record is not None and record.data is not None:
            build.reused += 1
            build.groups[name] = record
            return record.data
        used: set[str] = set()
        data = self._render_vars(component, template, context, used, secret)
        names = sorted(used)
        build.groups[name] = GroupRecord(
            _recorded(key), self._secret_digest.of(names), names, [], data
        )
        return data

    def _reveal(self, data: Any) -> Any:
        """``data`` with each secret's stand-in replaced by its value."""
        if isinstance(data, str):
            if _STAND_IN_START not in data:
                return data
            return _STAND_IN.sub(lambda found: self.materials.secrets.get(found[1]), data)
        if isinstance(data, dict):
            return {key: self._reveal(value) for key, value in data.items()}
        if isinstance(data, list):
            return [self._reveal(value) for value in data]
        return data

    def _scoped(self, context: dict[str, Any]) -> dict[str, Any]:
        """A context without the other tenants (what per-tenant templates are given)."""
        return {**context, "suite": _TenantScopedSuite(self.suite), "tenants": _OtherTenants()}

    def _host_scope(self, name: str, host_key: str, *parts: str) -> _HostScope:
        """The keys of a host group (files or variables rendered once per host): the one to
        look it up with (the narrow one, of the suite without its tenants, if the previous
        render found that its templates read no tenant, else the whole suite's), then the
        narrow and the wide one, recorded as the templates read tenants this time or not.
        A template that did not read the tenants takes the same path again as long as the
        narrow key holds: adding or changing a tenant then leaves the group as it is
        (design §6)."""
        narrow = key_of(self._suite_but_tenants, host_key, *parts, "no tenant read")
        wide = key_of(self._whole_suite, host_key, *parts)
        record = self.index.groups.get(name)
        lookup = narrow if record is not None and record.key == narrow else wide
        return _HostScope(lookup, narrow, wide)

    def _watched(self, context: dict[str, Any], scope: _HostScope) -> dict[str, Any]:
        """A host group's context, where reading the tenants is noticed (see `_host_scope`)."""
        return {
            **context,
            "suite": _WatchedSuite(self.suite, scope),
            "tenants": _WatchedTenants(context["tenants"], scope),
            "published": _WatchedPublished(self._published, scope),
        }

    def _tenant_key(self, host_key: str, component: str, tenant: Tenant) -> str:
        """Everything a per-tenant template can read, for one tenant (see cache.py). The
        tenant's part is digested once per host and reused by each component's groups."""
        known = self._tenant_digests.get((host_key, tenant.id))
        if known is None:
            suite = self.suite
            known = key_of(
                self._suite_but_tenants,
                host_key,
                tenant.model_dump_json(),
                str(suite.tenant_number(tenant.id)),
                ",".join(suite.tenant_components(tenant)),
            )
            self._tenant_digests[(host_key, tenant.id)] = known
        return key_of(known, component)

    def _group(
        self,
        build: Build,
        name: str,
        key: str | _HostScope,
        specs: list[FileSpec],
        context: dict[str, Any],
    ) -> list[RenderedFile]:
        """The files of one group: rendered, or taken as they are from the previous build.

        ``key``: a tenant group's key, or a host group's scope (`_host_scope`), looked up
        with one key and recorded under the narrow or the wide one as its templates read the
        tenants or not.
        """
        record = self.index.reusable(name, _lookup(key), self._secret_digest)
        if record is not None:
            items = [self._reused(entry) for entry in record.files]
            build.reused += 1
        else:
            used: set[str] = set()
            items = []
            for spec in specs:
                if spec.when and not self._expression(spec.when)(**context):
                    continue
                items.append(self._render_file(spec, context, used))
            names = sorted(used)
            record = GroupRecord(
                _recorded(key),
                self._secret_digest.of(names),
                names,
                [item.index_entry() for item in items],
            )
        build.groups[name] = record
        for item in items:
            build.add(item)
        return items

    def _reused(self, entry: list[Any]) -> RenderedFile:
        """A file of the previous build, as its index entry describes it (cache.FILE_FIELDS)."""
        path, host, dest, sha, component, tenant, mode, owner, group, service, secret, kept = entry
        return RenderedFile(
            path, None, sha, host, dest, component, tenant, mode, owner, group, service,
            secret, kept, f"{self.index.directory}/{path}",
        )  # fmt: skip

    def _tenants_of(self, component: str) -> list[Tenant]:
        suite = self.suite
        if component not in TENANT_COMPONENTS:
            return list(suite.tenants)
        return [t for t in suite.tenants if component in suite.tenant_components(t)]

    def _context(self, host: Host, components: list[str], component: str) -> dict[str, Any]:
        suite = self.suite
        return {
            "suite": suite,
            "host": host,
            "host_components": components,
            "component": component,
            "settings": getattr(suite.components, component),
            "tenants": self._tenants_of(component),
            "placement": suite.placement,
            "services": lambda tenant: tenant_services(suite, tenant),
            "web_names": lambda tenant: tenant_web_names(suite, tenant),
            "tls_dir": TLS_DIR,
            "secret": self.materials.secret,
            "published": self._published,
        }

    def _expression(self, source: str) -> Callable[..., Any]:
        compiled = self._expressions.get(source)
        if compiled is None:
            compiled = self.env.compile_expression(source)
            self._expressions[source] = compiled
        return compiled

    def _dest(self, pattern: str, context: dict[str, Any]) -> str:
        """A file's destination, owner or group: a Jinja pattern when it holds braces."""
        if "{" not in pattern:
            return pattern
        template = self._dest_templates.get(pattern)
        if template is None:
            template = self._dest_templates[pattern] = self.env.from_string(pattern)
        return template.render(context)

    def _render_file(self, spec: FileSpec, context: dict[str, Any], used: set[str]) -> RenderedFile:
        """One file from its template; the names of the secrets it asks for go into ``used``."""
        host: Host = context["host"]
        component: str = context["component"]
        tenant: Tenant | None = context["tenant"]
        template_name = f"{component}/templates/{spec.template}"
        secret = context["secret"]
        asked: list[str] = []

        def tracked_secret(name: str, *args: Any, **kwargs: Any) -> str:
            asked.append(name)
            return secret(name, *args, **kwargs)

        try:
            dest = self._dest(spec.dest, context)
            text = self.env.get_template(template_name).render(
                {**context, "secret": tracked_secret, "dest": dest}
            )
        except jinja2.TemplateError as error:
            where = f"{template_name}, line {getattr(error, 'lineno', '?')}"
            raise RenderError(f"{where}: {error}") from None
        except RenderError as error:
            raise RenderError(f"{template_name}: {error}") from None
        if asked and not spec.secret:
            raise RenderError(
                f"{template_name} uses a secret but render.yml does not mark it 'secret: true'; "
                "it would be stored unencrypted in build/"
            )
        used.update(asked)
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
            owner=self._dest(spec.owner, context),
            group=self._dest(spec.group, context),
            service=spec.service,
        )

    def _generated_files(self, host: Host, component: str) -> list[RenderedFile]:
        """Files made by Python rather than templates, as the component's manifest asks:
        certificates and trusted CAs."""
        items: list[RenderedFile] = []
        common = {"host": host.name, "component": component}
        generated = CATALOG[component].manifest.generated
        if "suite_ca" in generated:
            items.append(
                self._item(
                    f"hosts/{host.name}/files{TLS_DIR}/ca.crt",
                    self.materials.ca_pem(),
                    dest=f"{TLS_DIR}/ca.crt",
                    service="ca",
                    **common,
                )
            )
        if "host_certificate" in generated:
            items += self._certificate(
                host, component, f"host-{host.name}", [self._host_fqdn(host)], None
            )
        if "tenant_certificates" in generated and self._serves_tenant_names(host):
            for tenant in self.suite.tenants:
                names = tenant_web_names(self.suite, tenant)
                items += self._certificate(host, component, f"tenant-{tenant.id}", names, tenant.id)
        if "extra_ca" in generated:
            for index, name in enumerate(self.suite.trust.extra_ca):
                pem = (self.suite_root / name).read_bytes()
                dest = f"{EXTRA_CA_DIR}/souverain-extra-{index}.crt"
                items.append(
                    self._item(
                        f"hosts/{host.name}/files{dest}", pem, dest=dest, service="ca", **common
                    )
                )
        return items

    def _serves_tenant_names(self, host: Host) -> bool:
        """Whether a component on the host needs the tenants' certificates."""
        return any(
            CATALOG[name].manifest.tenant_certificates
            for name in self.suite.components_of_host(host.name)
        )

    def _host_fqdn(self, host: Host) -> str:
        return f"{host.name}.{self.suite.name}.internal"

    def _certificate(
        self, host: Host, component: str, name: str, dns_names: list[str], tenant: str | None
    ) -> list[RenderedFile]:
        """A certificate and its key, from the previous build while the PKI files are the
        same and renewal is not due (checking a certificate costs a signature check)."""
        group = f"{host.name}/{component}/{name}"
        stamp = self.materials.certificate_stamp(name)
        key = key_of("certificate", name, ",".join(sorted(dns_names)), str(tenant), stamp or "")
        if stamp is not None:
            record = self.index.reusable(group, key, self._secret_digest)
            renew_after = record.data.get("renew_after") if record and record.data else None
            if record is not None and renew_after and datetime.now(UTC).isoformat() < renew_after:
                self.build.reused += 1
                self.build.groups[group] = record
                return [self._reused(entry) for entry in record.files]
        files = self.materials.certificate(name, dns_names)
        crt, private = f"{TLS_DIR}/{name}.crt", f"{TLS_DIR}/{name}.key"
        common = {"host": host.name, "component": component, "tenant": tenant, "service": "tls"}
        items = [
            self._item(f"hosts/{host.name}/files{crt}", files.fullchain_pem, dest=crt, **common),
            RenderedFile(
                path=f"hosts/{host.name}/files{private}",
                stored=files.encrypted_key,
                stored_sha256=_sha256(files.encrypted_key),
                sha256=files.key_sha256,
                dest=private,
                # A host key is read by local services (slapd, PostgreSQL...) through Debian's
                # ssl-cert group; a tenant key only by nginx, as root.
                mode="0600" if tenant else "0640",
                group="root" if tenant else "ssl-cert",
                secret=True,
                **common,
            ),
        ]
        if stamp is None:  # issued just now: the next render can reuse it
            stamp = self.materials.certificate_stamp(name)
            key = key_of("certificate", name, ",".join(sorted(dns_names)), str(tenant), stamp or "")
        if stamp is not None and files.renew_after is not None:
            data = {"renew_after": files.renew_after.astimezone(UTC).isoformat()}
            entries = [item.index_entry() for item in items]
            no_secret = self._secret_digest.of([])
            self.build.groups[group] = GroupRecord(key, no_secret, [], entries, data)
        return items

    def _render_vars(
        self, component: str, template: str, context: dict[str, Any], used: set[str], secret: bool
    ) -> dict[str, Any]:
        """The variables ``template`` renders; names of the secrets it asks for go in ``used``.

        In a secret template, `secret(...)` makes the value if it is new and returns a
        stand-in for it (`_reveal` puts the value in): use it as it is, not transformed.
        """
        name = f"{component}/templates/{template}"
        make_secret = context["secret"]

        def stand_in(secret_name: str, *args: Any, **kwargs: Any) -> str:
            if not secret:
                raise RenderError(
                    f"{name} uses the secret {secret_name!r}: role variables are stored in "
                    "clear; ask for it in the secret variables template instead"
                )
            used.add(secret_name)
            make_secret(secret_name, *args, **kwargs)
            return f"{_STAND_IN_START}{secret_name}{_STAND_IN_END}"

        try:
            text = self.env.get_template(name).render({**context, "secret": stand_in})
        except jinja2.TemplateError as error:
            raise RenderError(f"{name}: {error}") from None
        try:
            if template.endswith(".json.j2"):
                data = json.loads(text)  # large variables: JSON reads many times faster
            else:
                data = yaml.load(text, Loader=_YAML_LOADER) or {}
        except (ValueError, yaml.YAMLError) as error:
            raise RenderError(f"{name} did not render valid variables: {error}") from None
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
        build.add(self._plain(HOSTS_FILE, _dump_indented(inventory)))
        group_vars = {
            "souverain_build_dir": str(self.build_root),
            "souverain_suite_name": suite.name,
        }
        build.add(self._plain(GROUP_VARS_FILE, _dump_indented(group_vars)))

    # ---- helpers -----------------------------------------------------------------------

    def _plain(self, path: str, data: bytes) -> RenderedFile:
        digest = _sha256(data)
        return RenderedFile(path=path, stored=data, sha256=digest, stored_sha256=digest)

    def _secret(self, path: str, data: bytes) -> RenderedFile:
        return self._item(path, data, secret=True)

    def _item(self, path: str, data: bytes, *, secret: bool = False, **meta: Any) -> RenderedFile:
        digest = _sha256(data)
        if not secret:
            return RenderedFile(path=path, stored=data, sha256=digest, stored_sha256=digest, **meta)
        if "mode" not in meta:
            meta["mode"] = "0600"
        stored = self._previous_encryption(path, digest)
        if stored is None:
            stored = self.materials.encrypt(data)
        return RenderedFile(
            path=path,
            stored=stored,
            sha256=digest,
            stored_sha256=_sha256(stored),
            secret=True,
            **meta,
        )

    def _previous_encryption(self, path: str, plain_sha256: str) -> bytes | None:
        """The previous build's encrypted bytes of the same plaintext: encrypting again would
        cost a key derivation (PBKDF2) and give the same bytes anyway."""
        recorded = self.index.stored.get(path)
        if recorded is None or recorded[0] != plain_sha256 or not self.index.untouched(path):
            return None
        assert self.index.directory is not None
        try:
            stored = (self.index.directory / path).read_bytes()
        except OSError:
            return None
        return stored if _sha256(stored) == recorded[1] else None
