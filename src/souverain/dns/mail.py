"""Mail records: MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT and the client SRV records.

The values that the mail role's templates also write (DKIM selector and secret name,
MTA-STS policy) are defined here once; tests/unit/test_role_mail_render.py checks that the
rendered files agree with them.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

from souverain.dns.records import DnsContext, Record
from souverain.model.suite import Suite, Tenant

DKIM_SELECTOR = "souverain1"
MTA_STS_MAX_AGE = 604800  # one week (RFC 8461 suggests weeks)


def dkim_secret_name(tenant: Tenant) -> str:
    """The tenant's DKIM key in the secrets store: one key signs all its domains."""
    return f"mail/{tenant.id}/dkim"


def mail_name(suite: Suite, tenant: Tenant) -> str:
    return f"{suite.components.mail.hostname}.{tenant.domain}"


def mta_sts_policy(suite: Suite, tenant: Tenant) -> str:
    """The policy text served at https://mta-sts.<domain>/.well-known/mta-sts.txt."""
    settings = suite.components.mail
    return (
        "version: STSv1\n"
        f"mode: {settings.mta_sts_mode}\n"
        f"mx: {mail_name(suite, tenant)}\n"
        f"max_age: {MTA_STS_MAX_AGE}\n"
    )


def mta_sts_id(policy: str) -> str:
    """Changes whenever the policy does (RFC 8461 3.1: 1-32 alphanumerics)."""
    return hashlib.sha256(policy.encode()).hexdigest()[:20]


def dkim_public_record(private_pem: str) -> str:
    """The DKIM TXT value (RFC 6376 3.6.1) of a PEM private key."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"


def records(context: DnsContext) -> Iterator[Record]:
    suite, tenant = context.suite, context.tenant
    if "mail" not in suite.tenant_components(tenant):
        return
    settings = suite.components.mail
    mx = mail_name(suite, tenant)
    private_key = context.secret(dkim_secret_name(tenant))
    if private_key is None:
        context.note(
            f"no DKIM key for tenant {tenant.id} yet: run `souverain render`, then this "
            "command again, to get its DKIM records"
        )
    policy = mta_sts_policy(suite, tenant)
    for domain in tenant.domains:
        postmaster = f"postmaster@{domain}"
        yield Record(domain, "MX", f"10 {mx}.", comment="the only host accepting mail")
        yield Record(domain, "TXT", "v=spf1 mx -all", comment="SPF (RFC 7208)")
        if private_key is not None:
            yield Record(
                f"{DKIM_SELECTOR}._domainkey.{domain}",
                "TXT",
                dkim_public_record(private_key),
                comment=f"DKIM, RSA {settings.dkim_key_bits} (RFC 6376)",
            )
        yield Record(
            f"_dmarc.{domain}",
            "TXT",
            f"v=DMARC1; p={settings.dmarc_policy}; adkim=s; aspf=s; rua=mailto:{postmaster}",
            comment="DMARC (RFC 7489)",
        )
        if domain == tenant.domain:
            yield Record(
                f"_mta-sts.{domain}",
                "TXT",
                f"v=STSv1; id={mta_sts_id(policy)}",
                comment=f"MTA-STS {settings.mta_sts_mode} (RFC 8461)",
            )
        else:
            context.note(
                f"{domain} has no MTA-STS record: the policy host mta-sts.{domain} would need "
                "a certificate, and only the tenant's first domain gets one"
            )
        yield Record(
            f"_smtp._tls.{domain}",
            "TXT",
            f"v=TLSRPTv1; rua=mailto:{postmaster}",
            comment="TLS-RPT (RFC 8460)",
        )
        yield Record(f"_submission._tcp.{domain}", "SRV", f"0 1 587 {mx}.", comment="RFC 6186")
        yield Record(f"_submissions._tcp.{domain}", "SRV", f"0 1 465 {mx}.", comment="RFC 8314")
        yield Record(f"_imaps._tcp.{domain}", "SRV", f"0 1 993 {mx}.", comment="RFC 6186")
        yield Record(
            f"_imap._tcp.{domain}", "SRV", "0 0 0 .", comment="no cleartext IMAP (RFC 6186)"
        )
        yield Record(
            f"_autodiscover._tcp.{domain}",
            "SRV",
            f"0 1 443 autoconfig.{tenant.domain}.",
            comment="Outlook autodiscover",
        )
