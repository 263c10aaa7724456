"""The suite's directory seen from the controller: ldap3 over LDAPS, as the directory admin.

The connection goes to the address of the host that carries the directory, checks the
certificate against the deployment's CA and the host's certificate name
(``<host>.<suite>.internal``, as issued by the render), and binds as ``cn=admin,<suffix>``
with the password kept in the secrets store as ``directory/admin``. TLS 1.2 at least.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from souverain.deployment import Deployment
from souverain.errors import EXIT_DEPLOY_FAILED, SouverainError, UsageError
from souverain.model.suite import Suite
from souverain.users.people import Person

ADMIN_SECRET = "directory/admin"
LDAPS_PORT = 636
# Set by `souverain user remove` before the entry goes: ppolicy's "locked until reset".
LOCKED_FOREVER = "000001010000Z"
PERSON_CLASSES = ["top", "person", "organizationalPerson", "inetOrgPerson"]
PERSON_ATTRIBUTES = ["uid", "givenName", "sn", "mail", "cn", "pwdAccountLockedTime"]


class DirectoryUnavailable(SouverainError):
    """The directory cannot be reached or refused the administrator."""

    exit_code = EXIT_DEPLOY_FAILED


def host_certificate_name(suite: Suite, host: str) -> str:
    """The DNS name in a host's certificate (see render/engine.py, _host_fqdn)."""
    return f"{host}.{suite.name}.internal"


@dataclass(frozen=True)
class Target:
    """Where the directory is and how to bind to it."""

    host: str
    address: str
    port: int
    server_name: str
    ca_file: str
    suffix: str

    @property
    def admin_dn(self) -> str:
        return f"cn=admin,{self.suffix}"

    @classmethod
    def of(cls, suite: Suite, deployment: Deployment) -> Target:
        if not suite.components.is_enabled("directory"):
            raise UsageError("the directory is disabled in suite.yml (components.directory)")
        host = suite.placement["directory"][0]
        if not deployment.ca_certificate.exists():
            raise UsageError(
                f"no CA certificate at {deployment.ca_certificate}",
                hint="Run `souverain render` and deploy the directory first.",
            )
        return cls(
            host=host,
            address=suite.host(host).address,
            port=LDAPS_PORT,
            server_name=host_certificate_name(suite, host),
            ca_file=str(deployment.ca_certificate),
            suffix=suite.directory_suffix,
        )

    def tenant_dn(self, tenant: str) -> str:
        return f"ou={tenant},{self.suffix}"

    def people_dn(self, tenant: str) -> str:
        return f"ou=people,{self.tenant_dn(tenant)}"

    def groups_dn(self, tenant: str) -> str:
        return f"ou=groups,{self.tenant_dn(tenant)}"

    def person_dn(self, tenant: str, uid: str) -> str:
        return f"uid={uid},{self.people_dn(tenant)}"

    def group_dn(self, tenant: str, group: str) -> str:
        return f"cn={group},{self.groups_dn(tenant)}"


def _first(entry: dict[str, Any], name: str) -> str:
    value = entry.get(name)
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return "" if value is None else str(value)


class Directory:
    """Operations on one tenant's people and groups. Open with :func:`connect`."""

    def __init__(self, target: Target, connection: Any) -> None:
        self.target = target
        self._connection = connection

    # ---- low level ----------------------------------------------------------------------

    def _check(self, ok: bool, what: str) -> None:
        if ok:
            return
        result = self._connection.result
        description = result.get("description", "error")
        message = result.get("message") or ""
        if description in ("constraintViolation", "invalidCredentials"):
            raise UsageError(f"{what}: the directory refused it ({description}: {message})")
        raise SouverainError(f"{what}: {description} {message}".strip())

    def _search(self, base: str, query: str, attributes: list[str], scope: str = "LEVEL") -> list:
        import ldap3

        self._connection.search(
            base, query, search_scope=getattr(ldap3, scope), attributes=attributes
        )
        description = self._connection.result.get("description")
        if description == "noSuchObject":
            raise UsageError(
                f"{base} does not exist in the directory",
                hint="Deploy the directory for this tenant first (souverain deploy).",
            )
        if description != "success":
            raise SouverainError(f"searching {base}: {description}")
        response = self._connection.response or []
        return [entry for entry in response if entry.get("type") == "searchResEntry"]

    # ---- people -------------------------------------------------------------------------

    def _groups_of(self, tenant: str) -> dict[str, list[str]]:
        """dn of each member -> names of their groups."""
        membership: dict[str, list[str]] = {}
        for entry in self._search(
            self.target.groups_dn(tenant), "(objectClass=groupOfNames)", ["cn", "member"]
        ):
            name = _first(entry["attributes"], "cn")
            for member in entry["attributes"].get("member", []):
                membership.setdefault(member.lower(), []).append(name)
        return membership

    def _person(self, entry: dict[str, Any], groups: dict[str, list[str]]) -> Person:
        attributes = entry["attributes"]
        return Person(
            uid=_first(attributes, "uid"),
            given_name=_first(attributes, "givenName"),
            surname=_first(attributes, "sn"),
            email=_first(attributes, "mail"),
            groups=tuple(sorted(groups.get(entry["dn"].lower(), []))),
            locked=bool(attributes.get("pwdAccountLockedTime")),
        )

    def people(self, tenant: str) -> list[Person]:
        groups = self._groups_of(tenant)
        entries = self._search(
            self.target.people_dn(tenant), "(objectClass=inetOrgPerson)", PERSON_ATTRIBUTES
        )
        return sorted((self._person(e, groups) for e in entries), key=lambda p: p.uid)

    def person(self, tenant: str, uid: str) -> Person | None:
        from ldap3.utils.conv import escape_filter_chars

        entries = self._search(
            self.target.people_dn(tenant),
            f"(uid={escape_filter_chars(uid)})",
            PERSON_ATTRIBUTES,
        )
        if not entries:
            return None
        return self._person(entries[0], self._groups_of(tenant))

    def uids_with_email(self, tenant: str, email: str) -> list[str]:
        from ldap3.utils.conv import escape_filter_chars

        entries = self._search(
            self.target.people_dn(tenant), f"(mail={escape_filter_chars(email)})", ["uid"]
        )
        return [_first(e["attributes"], "uid") for e in entries]

    def add(self, tenant: str, person: Person, password: str) -> None:
        """Create the person and their group memberships; on failure, undo what was made."""
        dn = self.target.person_dn(tenant, person.uid)
        attributes = {
            "uid": person.uid,
            "givenName": person.given_name,
            "sn": person.surname,
            "cn": person.display_name,
            "displayName": person.display_name,
            "mail": person.email,
            "userPassword": password,
        }
        ok = self._connection.add(dn, PERSON_CLASSES, attributes)
        self._check(ok, f"cannot add {person.uid}")
        try:
            for group in person.groups:
                self.join(tenant, person.uid, group)
        except SouverainError:
            self._connection.delete(dn)
            for group in person.groups:
                self._leave_quietly(tenant, dn, group)
            raise

    def update_names(self, tenant: str, person: Person) -> None:
        import ldap3

        dn = self.target.person_dn(tenant, person.uid)
        changes = {
            "givenName": [(ldap3.MODIFY_REPLACE, [person.given_name])],
            "sn": [(ldap3.MODIFY_REPLACE, [person.surname])],
            "cn": [(ldap3.MODIFY_REPLACE, [person.display_name])],
            "displayName": [(ldap3.MODIFY_REPLACE, [person.display_name])],
            "mail": [(ldap3.MODIFY_REPLACE, [person.email])],
        }
        self._check(self._connection.modify(dn, changes), f"cannot update {person.uid}")

    def set_password(self, tenant: str, uid: str, password: str) -> None:
        """Password Modify extended operation: slapd hashes it with its scheme (Argon2)."""
        dn = self.target.person_dn(tenant, uid)
        ok = self._connection.extend.standard.modify_password(dn, new_password=password)
        self._check(bool(ok), f"cannot set the password of {uid}")

    def lock(self, tenant: str, uid: str) -> None:
        import ldap3

        dn = self.target.person_dn(tenant, uid)
        change = {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [LOCKED_FOREVER])]}
        self._check(self._connection.modify(dn, change), f"cannot disable {uid}")

    def delete(self, tenant: str, person: Person) -> None:
        dn = self.target.person_dn(tenant, person.uid)
        for group in person.groups:
            self.leave(tenant, person.uid, group)
        self._check(self._connection.delete(dn), f"cannot delete {person.uid}")

    # ---- groups -------------------------------------------------------------------------

    def join(self, tenant: str, uid: str, group: str) -> bool:
        """Add uid to group, creating the group; whether something changed."""
        import ldap3

        member = self.target.person_dn(tenant, uid)
        group_dn = self.target.group_dn(tenant, group)
        existing = []
        if self._exists(group_dn):
            existing = self._search(group_dn, "(objectClass=groupOfNames)", ["member"], "BASE")
        if not existing:
            ok = self._connection.add(
                group_dn, ["top", "groupOfNames"], {"cn": group, "member": [member]}
            )
            self._check(ok, f"cannot create group {group}")
            return True
        members = {m.lower() for m in existing[0]["attributes"].get("member", [])}
        if member.lower() in members:
            return False
        ok = self._connection.modify(group_dn, {"member": [(ldap3.MODIFY_ADD, [member])]})
        self._check(ok, f"cannot add {uid} to group {group}")
        return True

    def leave(self, tenant: str, uid: str, group: str) -> None:
        """Remove uid from group; a group left empty is deleted (groupOfNames needs a member)."""
        import ldap3

        member = self.target.person_dn(tenant, uid)
        group_dn = self.target.group_dn(tenant, group)
        if not self._exists(group_dn):
            return
        entry = self._search(group_dn, "(objectClass=groupOfNames)", ["member"], "BASE")
        members = list(entry[0]["attributes"].get("member", [])) if entry else []
        remaining = [m for m in members if m.lower() != member.lower()]
        if len(remaining) == len(members):
            return
        if not remaining:
            self._check(self._connection.delete(group_dn), f"cannot delete group {group}")
            return
        ok = self._connection.modify(group_dn, {"member": [(ldap3.MODIFY_DELETE, [member])]})
        self._check(ok, f"cannot remove {uid} from group {group}")

    def _leave_quietly(self, tenant: str, dn: str, group: str) -> None:
        with suppress(SouverainError):
            self.leave(tenant, dn.split(",")[0].split("=", 1)[1], group)

    def _exists(self, dn: str) -> bool:
        import ldap3

        self._connection.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=[])
        return (
            bool(self._connection.response)
            and self._connection.result.get("description") == "success"
        )


@contextmanager
def connect(target: Target, password: str, *, timeout: float = 10) -> Iterator[Directory]:
    """An LDAPS connection bound as the directory administrator."""
    import ldap3
    from ldap3.core.exceptions import LDAPException

    tls = ldap3.Tls(
        validate=ssl.CERT_REQUIRED,
        ca_certs_file=target.ca_file,
        valid_names=[target.server_name],
        sni=target.server_name,
    )
    server = ldap3.Server(
        target.address, port=target.port, use_ssl=True, tls=tls, connect_timeout=timeout
    )
    where = f"{target.host} ({target.address}:{target.port})"
    try:
        connection = ldap3.Connection(
            server,
            user=target.admin_dn,
            password=password,
            receive_timeout=timeout,
            raise_exceptions=False,
        )
        if not connection.bind():
            raise DirectoryUnavailable(
                f"the directory on {where} refused {target.admin_dn}: "
                f"{connection.result.get('description')}",
                hint="Deploy the directory again so the admin password matches the secrets "
                "store (souverain deploy).",
            )
    except LDAPException as error:
        raise DirectoryUnavailable(
            f"cannot reach the directory on {where}: {error}",
            hint="Is the directory deployed, and does the firewall let this machine reach "
            "port 636 (components.base.admin_networks)?",
        ) from None
    try:
        yield Directory(target, connection)
    finally:
        connection.unbind()
