"""testinfra checks of the directory role (run against hosts of the `directory` group)."""

from __future__ import annotations

import pytest


def test_slapd_runs_and_listens_for_tls(host):
    assert host.service("slapd").is_running
    assert host.service("slapd").is_enabled
    for port in (389, 636):
        assert host.socket(f"tcp://0.0.0.0:{port}").is_listening


def test_loaded_configuration_is_the_rendered_one(host):
    assert host.run("/usr/local/sbin/souverain-slapd-config --check").rc == 0


@pytest.mark.parametrize(
    "setting",
    ["olcTLSProtocolMin: 3.3", "olcSecurity: ssf=71", "olcPasswordHash: {ARGON2}"],
)
def test_security_settings_are_live(host, setting):
    result = host.run("ldapsearch -Q -LLL -Y EXTERNAL -H ldapi:/// -b cn=config -o ldif_wrap=no")
    assert result.rc == 0
    assert setting in result.stdout


# The certificate names <host>.<suite>.internal, not localhost: these checks are about
# access rules, not names, so they do not verify the name.
LOCAL_TLS = "LDAPTLS_REQCERT=allow ldapsearch -x -LLL -ZZ -H ldap://localhost"


def suffix_of(host) -> str:
    root = host.run(f"{LOCAL_TLS} -b '' -s base namingContexts")
    assert root.rc == 0, root.stderr
    return root.stdout.split("namingContexts: ")[1].split()[0]


def test_clear_text_bind_is_refused(host):
    admin = f"cn=admin,{suffix_of(host)}"
    result = host.run(f"ldapwhoami -x -H ldap://127.0.0.1 -D {admin} -w not-the-password")
    assert result.rc != 0
    assert "onfidentiality required" in result.stderr


def test_anonymous_reads_root_dse_only(host):
    tree = host.run(f"{LOCAL_TLS} -b {suffix_of(host)} '(objectClass=*)'")
    # The search itself must have run over TLS and been answered: 0 (nothing visible) or 32
    # (noSuchObject: the base is not even disclosed). A server down or a failed STARTTLS
    # also prints no entry, with another status.
    assert tree.rc in (0, 32), f"ldapsearch exited {tree.rc}: {tree.stderr}"
    assert "dn:" not in tree.stdout
