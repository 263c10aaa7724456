"""The mail role's rendered files: TLS per ANSSI, tenants kept apart, DKIM keys, no lookups."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from souverain import vault
from souverain.deployment import Deployment
from souverain.model.loader import load_suite
from souverain.paths import ROLES_DIR
from souverain.render.templating import environment
from souverain.secrets import SecretStore, read_password
from tests.unit.test_role_directory_render import render

ROLES = ("base", "pki", "proxy", "directory", "sso", "mail")


def shared_with_dns():
    """What the mail role's files and its DNS records share, from its one definition."""
    return environment(ROLES_DIR).get_template("mail/templates/_dns.j2").module


def two_tenants(data) -> None:
    data["tenants"][0]["extra_domains"] = ["acme-mail.example.org"]
    data["tenants"].append(
        {
            "id": "beta",
            "name": "Beta",
            "domain": "beta.example.net",
            "components": ["mail"],
            "quotas": {"mail_mb": 512},
        }
    )
    data["components"]["mail"]["dkim_key_bits"] = 3072


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return render(tmp_path_factory.mktemp("mail"), two_tenants, roles=ROLES)


def built(deployment: Deployment, dest: str) -> str:
    [path] = deployment.build_dir.glob(f"hosts/*/files{dest}")
    stored = path.read_bytes()
    if vault.is_encrypted(stored):
        return vault.decrypt(stored, read_password(deployment)).decode()
    return stored.decode()


def is_secret(deployment: Deployment, dest: str) -> bool:
    [path] = deployment.build_dir.glob(f"hosts/*/files{dest}")
    return vault.is_encrypted(path.read_bytes())


def settings(text: str) -> dict[str, str]:
    """key = value lines of a Postfix-style file (continuation lines ignored)."""
    found = {}
    for line in text.splitlines():
        match = re.match(r"^([a-z_]+) = ?(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def test_postfix_tls_follows_anssi_and_auth_needs_tls(deployment):
    main = settings(built(deployment, "/etc/postfix/main.cf"))
    assert main["smtpd_tls_auth_only"] == "yes"
    for key in ("smtpd_tls_protocols", "smtpd_tls_mandatory_protocols", "smtp_tls_protocols"):
        assert main[key] == ">=TLSv1.2"
    assert main["smtpd_tls_mandatory_ciphers"] == "high"
    for suite in main["tls_high_cipherlist"].split(":"):
        assert suite.startswith("ECDHE-") and ("GCM" in suite or "CHACHA20" in suite)
    assert main["smtpd_relay_restrictions"].endswith("reject_unauth_destination")
    assert main["smtpd_sasl_auth_enable"] == "no"  # port 25 offers no AUTH at all
    master = built(deployment, "/etc/postfix/master.cf")
    for service in ("submission", "submissions"):
        block = master.split(f"\n{service} ")[1].split("\n\n")[0]
        assert "-o smtpd_tls_security_level=encrypt" in block
        assert "-o smtpd_sasl_auth_enable=yes" in block
        assert "-o smtpd_sender_restrictions=reject_sender_login_mismatch" in block
    assert "-o smtpd_tls_wrappermode=yes" in master.split("\nsubmissions ")[1]


def test_postfix_knows_every_domain_and_each_tenant_binds_with_its_own_account(deployment):
    main = settings(built(deployment, "/etc/postfix/main.cf"))
    assert main["virtual_mailbox_domains"].split() == [
        "acme.example.org",
        "acme-mail.example.org",
        "beta.example.net",
    ]
    store = SecretStore.open(deployment)
    for tenant in ("acme", "beta"):
        dest = f"/etc/postfix/souverain/{tenant}-people.cf"
        assert is_secret(deployment, dest)
        people = settings(built(deployment, dest))
        assert people["bind_dn"].startswith(f"cn=mail,ou=services,ou={tenant},")
        assert people["bind_pw"] == store.get(f"directory/{tenant}/mail")
        assert people["server_host"].startswith("ldaps://")
        assert people["tls_require_cert"] == "yes"
    acme = settings(built(deployment, "/etc/postfix/souverain/acme-people.cf"))
    assert acme["domain"] == "acme.example.org, acme-mail.example.org"
    assert acme["result_format"] == "%s@acme.example.org"
    roles = built(deployment, "/etc/postfix/souverain/roles")
    for domain in ("acme.example.org", "acme-mail.example.org"):
        assert f"postmaster@{domain} admins@acme.example.org" in roles
        assert f"abuse@{domain} admins@acme.example.org" in roles


def test_dovecot_requires_tls_and_keeps_tenants_apart(deployment):
    conf = built(deployment, "/etc/dovecot/dovecot.conf")
    assert "ssl = required" in conf
    assert "ssl_min_protocol = TLSv1.2" in conf
    assert "auth_allow_cleartext = no" in conf
    assert "dovecot_config_version = 2.4.0" in conf
    assert "local_name mail.beta.example.net {" in conf
    assert re.search(r"inet_listener imap \{\s+port = 0", conf)
    assert not is_secret(deployment, "/etc/dovecot/dovecot.conf")
    auth = built(deployment, "/etc/dovecot/souverain-auth.conf")
    assert is_secret(deployment, "/etc/dovecot/souverain-auth.conf")
    acme = auth.split("passdb acme {")[1].split("\n}")[0]
    assert "username_filter = *@acme.example.org *@acme-mail.example.org" in acme
    assert "ldap_base = ou=people,ou=acme," in acme and "ldap_bind = yes" in acme
    beta = auth.split("passdb beta {")[1].split("\n}")[0]
    assert "username_filter = *@beta.example.net" in beta
    userdb = auth.split("userdb mailboxes {")[1]
    assert "regexp('^acme-mail[.]example[.]org$', 'acme')" in userdb
    assert "regexp('^beta[.]example[.]net$', '512M')" in userdb


def test_dkim_key_is_per_tenant_secret_and_of_the_configured_size(deployment):
    from cryptography.hazmat.primitives import serialization

    store = SecretStore.open(deployment)
    suite = load_suite(deployment.suite_file)
    for tenant in suite.tenants:
        dest = f"/var/lib/souverain-mail/dkim/{tenant.id}.key"
        assert is_secret(deployment, dest)
        pem = built(deployment, dest)
        assert pem.strip() == store.get(shared_with_dns().dkim_secret(tenant)).strip()
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        assert key.key_size == 3072
    signing = built(deployment, "/etc/rspamd/local.d/dkim_signing.conf")
    assert f'selector = "{shared_with_dns().dkim_selector}";' in signing
    assert '"acme-mail.example.org" {\n    path = "/var/lib/souverain-mail/dkim/acme.key";' in (
        signing
    )
    assert "try_fallback = false;" in signing
    assert "/var/lib/souverain-mail/dkim/beta.key" in built(
        deployment, "/etc/rspamd/local.d/arc.conf"
    )


def test_a_second_render_keeps_the_dkim_key(deployment):
    from souverain.render import pipeline

    before = SecretStore.open(deployment).get("mail/acme/dkim")
    with pytest.MonkeyPatch.context() as patch:
        linked = deployment.root.parent / "roles"
        patch.setattr(pipeline, "ROLES_DIR", linked)
        pipeline.render_deployment(deployment)
    assert SecretStore.open(deployment).get("mail/acme/dkim") == before


THIRD_PARTY = ("fuzzy_check", "rbl", "asn", "phishing", "multimap", "rspamd_update")


def test_rspamd_third_party_lookups_are_off_and_say_why(deployment):
    for module in (*THIRD_PARTY, "known_senders", "whitelist", "mid"):
        text = built(deployment, f"/etc/rspamd/local.d/{module}.conf")
        assert "enabled = false;" in text
        assert "off for sovereignty" in text and "By default it " in text
    mime = built(deployment, "/etc/rspamd/override.d/mime_types.conf")
    assert "https://" not in mime


def test_rspamd_uses_only_the_lookups_suite_yml_names(tmp_path):
    def allow(data) -> None:
        data["components"]["mail"]["spam"] = {
            "fuzzy_servers": ["fuzzy.internal.example.org:11335"],
            "dns_blocklists": ["rbl.internal.example.org"],
        }

    deployment = render(tmp_path, allow, roles=ROLES)
    fuzzy = built(deployment, "/etc/rspamd/override.d/fuzzy_check.conf")
    assert 'servers = "round-robin:fuzzy.internal.example.org:11335";' in fuzzy
    rbl = built(deployment, "/etc/rspamd/override.d/rbl.conf")
    assert 'rbl = "rbl.internal.example.org";' in rbl and "spamhaus" not in rbl
    assert not list(deployment.build_dir.glob("hosts/*/files/etc/rspamd/local.d/rbl.conf"))
    assert "enabled = false;" in built(deployment, "/etc/rspamd/local.d/asn.conf")


def test_mta_sts_policy_served_is_the_one_dns_announces(deployment):
    suite = load_suite(deployment.suite_file)
    for tenant in suite.tenants:
        vhost = built(deployment, f"/etc/nginx/sites-available/souverain-tenant-{tenant.id}.conf")
        served = vhost.split("location = /.well-known/mta-sts.txt {")[1].split('return 200 "')[1]
        served = served.split('";')[0].replace("\\n", "\n")
        assert served == shared_with_dns().mta_sts_policy(suite.components.mail, tenant.domain)


def test_autoconfig_and_webmail_are_behind_the_proxy(deployment):
    vhost = built(deployment, "/etc/nginx/sites-available/souverain-tenant-beta.conf")
    auto = vhost.split("server_name autoconfig.beta.example.net;")[1].split("\n}\n")[0]
    assert "<hostname>mail.beta.example.net</hostname>" in auto
    assert "<socketType>STARTTLS</socketType>" in auto
    assert "autodiscover" in auto
    webmail = vhost.split("server_name webmail.beta.example.net;")[1].split("\n}\n")[0]
    assert "fastcgi_pass unix:/run/php/souverain-roundcube.sock;" in webmail
    apex = vhost.split("server_name beta.example.net;")[1].split("\n}\n")[0]
    assert "/.well-known/autoconfig/mail/config-v1.1.xml" in apex
    roundcube = built(deployment, "/etc/roundcube/config.inc.php")
    assert is_secret(deployment, "/etc/roundcube/config.inc.php")
    assert "'verify_peer' => true" in roundcube and "ssl://127.0.0.1:993" in roundcube


def test_no_rendered_file_lives_in_the_mailboxes(deployment):
    manifest = (deployment.build_dir / "manifest.json").read_text()
    assert "/var/vmail" not in manifest


def test_mail_role_argument_spec_lists_every_service(deployment):
    spec = Path("roles/mail/meta/argument_specs.yml").read_text()
    services = set(re.findall(r"service: ([a-z-]+)", Path("roles/mail/render.yml").read_text()))
    choices = re.search(r"choices: \[([^\]]+)\]", spec).group(1)
    assert services == {choice.strip() for choice in choices.split(",")}


def test_rspamd_refuses_a_header_from_other_than_the_checked_sender(deployment):
    """Postfix checks that the login owns the envelope sender; rspamd's rule makes the From:
    header that sender, so no person writes as another tenant's person."""
    rule = built(deployment, "/etc/rspamd/rspamd.local.lua")
    assert "task:get_user()" in rule
    assert "task:get_from('smtp')" in rule and "task:get_from('mime')" in rule
    assert "set_pre_result('reject'" in rule


def test_a_suspended_tenants_domains_are_given_to_the_role_to_end_its_sessions(tmp_path):
    """Every domain of a suspended tenant (main and extra) reaches the role, whose deploy
    ends their open IMAP sessions; an active tenant's do not."""
    from tests.unit.test_role_directory_render import host_vars

    def suspend_the_first(data) -> None:
        two_tenants(data)
        data["tenants"][0]["suspended"] = True

    made = render(tmp_path / "suspended", suspend_the_first, roles=ROLES)
    suspended = host_vars(made)
    suite = load_suite(made.suite_file)
    assert suspended["mail_suspended_domains"] == suite.tenants[0].domains
    assert "beta.example.net" not in suspended["mail_suspended_domains"]
    active = host_vars(render(tmp_path / "active", two_tenants, roles=ROLES))
    assert active.get("mail_suspended_domains", []) == []
