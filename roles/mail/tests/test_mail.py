"""testinfra checks of the mail role (run against hosts of the `mail` group)."""

from __future__ import annotations

import pytest

from souverain.verify.old_tls import OLD_TLS, client_options, client_refusal, negotiated

SERVICES = ("postfix", "dovecot", "rspamd")
PUBLIC_PORTS = (25, 465, 587, 993)
CHECKERS = ("/usr/sbin/postfix check", "/usr/bin/doveconf -n", "/usr/bin/rspamadm configtest")
THIRD_PARTY_MODULES = ("fuzzy_check", "rbl", "asn", "phishing", "multimap", "rspamd_update")


def smtp_probe(host, port: int, script: str):
    """Run a few lines of Python smtplib on the host against 127.0.0.1:port."""
    code = f"import smtplib; s = smtplib.SMTP('127.0.0.1', {port}, timeout=10); s.ehlo(); {script}"
    return host.run(f"python3 -c {code!r}")


@pytest.mark.parametrize("name", SERVICES)
def test_service_runs_and_is_enabled(host, name):
    service = host.service(name)
    assert service.is_running and service.is_enabled


@pytest.mark.parametrize("command", CHECKERS)
def test_configuration_passes_the_service_checker(host, command):
    assert host.run(command).rc == 0


@pytest.mark.parametrize("port", PUBLIC_PORTS)
def test_mail_port_listens(host, port):
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening


def test_cleartext_imap_and_rspamd_are_not_on_the_network(host):
    assert not host.socket("tcp://0.0.0.0:143").is_listening
    for port in (11332, 11334):
        assert host.socket(f"tcp://127.0.0.1:{port}").is_listening
        assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening


def handshake(host, port: int, version: str, *, starttls: bool):
    command = f"openssl s_client -connect 127.0.0.1:{port} {client_options(version)}"
    if starttls:
        command += " -starttls smtp"
    result = host.run(command + " </dev/null")
    return result.stdout + result.stderr


def tls_problem(host, port: int, version: str, *, starttls: bool) -> str | None:
    """None when the server accepts `version` if it is TLS 1.2 or later and refuses it
    otherwise; else what is wrong."""
    output = handshake(host, port, version, starttls=starttls)
    if "CONNECTED(" not in output:
        return f"nothing answered on port {port}: {output.strip()[-300:]}"
    protocol = negotiated(output)
    if version not in OLD_TLS:
        return None if protocol else f"port {port} refused {version}: {output.strip()[-300:]}"
    refused_here = client_refusal(output, version)
    if refused_here:
        return refused_here
    return f"port {port} accepted {version} (negotiated {protocol})" if protocol else None


@pytest.mark.parametrize("version", ("tls1_2", *sorted(OLD_TLS)))
@pytest.mark.parametrize("port", (25, 587))
def test_starttls_accepts_tls_1_2_only(host, port, version):
    problem = tls_problem(host, port, version, starttls=True)
    assert problem is None, problem


@pytest.mark.parametrize("version", ("tls1_2", *sorted(OLD_TLS)))
def test_imaps_accepts_tls_1_2_only(host, version):
    problem = tls_problem(host, 993, version, starttls=False)
    assert problem is None, problem


def test_no_auth_before_starttls_on_submission(host):
    result = smtp_probe(host, 587, "print('auth' in s.esmtp_features)")
    assert result.stdout.strip() == "False"


def test_port_25_never_offers_auth(host):
    result = smtp_probe(host, 25, "print('auth' in s.esmtp_features)")
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("module", THIRD_PARTY_MODULES)
def test_rspamd_third_party_module_is_off(host, module):
    if host.file(f"/etc/rspamd/override.d/{module}.conf").exists:
        pytest.skip(f"suite.yml names its own servers for {module}")
    dump = host.run(f"rspamadm configdump {module}")
    assert "enabled = false;" in dump.stdout


def test_dkim_keys_are_private_to_rspamd(host):
    keys = host.run("find /var/lib/souverain-mail/dkim -name '*.key'").stdout.split()
    assert keys
    for path in keys:
        key = host.file(path)
        assert key.user == "_rspamd" and key.mode == 0o600


def test_mailboxes_belong_to_vmail_only(host):
    root = host.file("/var/vmail")
    assert root.is_directory and root.user == "vmail" and root.mode == 0o750


def test_ldap_maps_are_readable_by_postfix_only(host):
    for path in host.run("ls /etc/postfix/souverain/*.cf").stdout.split():
        entry = host.file(path)
        assert entry.group == "postfix" and entry.mode == 0o640
