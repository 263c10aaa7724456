#!/usr/bin/python3
# Part of souverain's directory role. GNU Affero General Public License v3.0 or later.
"""Converge entries of the local slapd through its ldapi socket, as root (SASL EXTERNAL)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: directory_entries
short_description: Keep LDAP entries and account passwords of the local slapd as declared
description:
  - Connects to slapd over its local socket with SASL EXTERNAL (root is the database's
    root DN) and, for each entry, adds it when missing or replaces the listed attributes
    whose values differ. Attributes and entries that are not listed are left alone.
  - For each DN in I(passwords), binds with that password; only when the bind fails is the
    password set (Password Modify extended operation, so slapd hashes it with its
    configured scheme). Passwords never appear in arguments or output.
  - Reports C(changed) only when it modified something. Supports check mode.
  - Needs python3-ldap on the host.
options:
  entries:
    description:
      - Entries, parents first, each with C(dn) and C(attributes).
      - An attribute maps a name to a string or a list of strings.
    type: list
    elements: dict
    required: true
  passwords:
    description: Password of accounts, by DN (a C(simpleSecurityObject) entry needs one).
    type: dict
    default: {}
  uri:
    description: The ldapi URI of the local server.
    type: str
    default: ldapi:///
author: souverain
"""

RETURN = r"""
added:
  description: DNs of the entries added.
  type: list
  returned: always
modified:
  description: DNs of the entries whose attributes were replaced, with the attribute names.
  type: dict
  returned: always
passwords_set:
  description: DNs whose password was set.
  type: list
  returned: always
"""

from contextlib import suppress  # noqa: E402
from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

try:
    import ldap
    import ldap.sasl

    HAS_LDAP = True
except ImportError:
    HAS_LDAP = False

# Attribute values compared without regard to case (their matching rule ignores case).
CASE_INSENSITIVE = {"objectclass"}


def as_values(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return [str(value)]


def same_values(name: str, current: list[str], wanted: list[str]) -> bool:
    if name.lower() in CASE_INSENSITIVE:
        return {v.lower() for v in current} == {v.lower() for v in wanted}
    return sorted(current) == sorted(wanted)


def connect(uri: str) -> Any:
    connection = ldap.initialize(uri)
    connection.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
    connection.sasl_interactive_bind_s("", ldap.sasl.external())
    return connection


def read_entry(connection: Any, dn: str, names: list[str]) -> dict[str, list[str]] | None:
    try:
        found = connection.search_s(dn, ldap.SCOPE_BASE, "(objectClass=*)", [*names, "+"])
    except ldap.NO_SUCH_OBJECT:
        return None
    if not found:
        return None
    attributes = found[0][1]
    return {
        key.lower(): [value.decode("utf-8") for value in values]
        for key, values in attributes.items()
    }


def password_works(uri: str, dn: str, password: str) -> bool:
    probe = ldap.initialize(uri)
    probe.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
    try:
        probe.simple_bind_s(dn, password)
        return True
    except ldap.INVALID_CREDENTIALS:
        return False
    finally:
        with suppress(ldap.LDAPError):
            probe.unbind_s()


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "entries": {"type": "list", "elements": "dict", "required": True},
            "passwords": {"type": "dict", "default": {}, "no_log": True},
            "uri": {"type": "str", "default": "ldapi:///"},
        },
        supports_check_mode=True,
    )
    if not HAS_LDAP:
        module.fail_json(msg="python3-ldap is needed on the host (apt install python3-ldap)")
    entries = module.params["entries"]
    passwords = module.params["passwords"] or {}
    uri = module.params["uri"]
    added, modified, passwords_set = [], {}, []
    try:
        connection = connect(uri)
    except ldap.LDAPError as error:
        module.fail_json(msg=f"cannot connect to slapd at {uri} as root: {error}")
    for entry in entries:
        dn = entry.get("dn")
        wanted = {name: as_values(value) for name, value in (entry.get("attributes") or {}).items()}
        if not dn or not wanted:
            module.fail_json(msg=f"every entry needs a dn and attributes: {entry!r}")
        try:
            current = read_entry(connection, dn, list(wanted))
            if current is None:
                record = [
                    (name, [value.encode("utf-8") for value in values])
                    for name, values in wanted.items()
                ]
                if dn in passwords:
                    record.append(("userPassword", [passwords[dn].encode("utf-8")]))
                if not module.check_mode:
                    connection.add_s(dn, record)
                added.append(dn)
                continue
            changes = []
            for name, values in wanted.items():
                if not same_values(name, current.get(name.lower(), []), values):
                    changes.append((ldap.MOD_REPLACE, name, [v.encode("utf-8") for v in values]))
            if changes:
                if not module.check_mode:
                    connection.modify_s(dn, changes)
                modified[dn] = [name for _, name, _ in changes]
        except ldap.LDAPError as error:
            module.fail_json(msg=f"{dn}: {error}", added=added, modified=modified)
    for dn, password in sorted(passwords.items()):
        if dn in added:
            continue
        try:
            if password_works(uri, dn, password):
                continue
            if not module.check_mode:
                connection.passwd_s(dn, None, password)
            passwords_set.append(dn)
        except ldap.LDAPError as error:
            module.fail_json(msg=f"{dn}: cannot set the password: {error.__class__.__name__}")
    connection.unbind_s()
    module.exit_json(
        changed=bool(added or modified or passwords_set),
        added=added,
        modified=modified,
        passwords_set=passwords_set,
    )


if __name__ == "__main__":
    main()
