"""The CA a suite's certificates must chain to, as the TLS checks verify them."""

from __future__ import annotations

from souverain.audit.context import AuditContext

TLS_DIR_CA = "/etc/souverain/tls/ca.crt"


def suite_ca(ctx: AuditContext, host: str) -> tuple[str | None, str]:
    """The CA (PEM, or None for the system's) and its name; (None, "") when the build lacks it."""
    if ctx.suite.components.pki.mode != "internal":
        return None, "the host's trusted CAs (ACME)"
    if ctx.build is not None:
        for item in ctx.build.matching(host, TLS_DIR_CA) or ctx.build.matching(None, TLS_DIR_CA):
            text = ctx.build.text(item)
            if text:
                return text, f"the suite's CA ({item.where})"
    return None, ""
