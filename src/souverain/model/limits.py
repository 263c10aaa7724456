"""How many tenants, hosts and domains one suite may hold, and why.

The same limits are checked twice: on the YAML events, before the document is built, so that
a suite of 100,000 tenants is refused in milliseconds; and in the model, for lists that reach
their place through an alias.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import AfterValidator


@dataclass(frozen=True)
class CountLimit:
    most: int
    what: str  # plural noun, e.g. "tenants per suite"
    why: str

    def message(self, found: str) -> str:
        return f"at most {self.most:,} {self.what} ({found}): {self.why}"


TENANTS = CountLimit(
    2000,
    "tenants per suite",
    "render and deploy are measured up to 1,000 (bench/render.py); "
    "split larger hostings into several suites",
)
HOSTS = CountLimit(
    64,
    "hosts per suite",
    "every host's firewall lists every other host and one Ansible run deploys them all; "
    "split larger installations into several suites",
)
EXTRA_DOMAINS = CountLimit(
    50,
    "extra domains per tenant",
    "each is a mail domain with its own DKIM key and DNS records, in every Postfix and "
    "Dovecot lookup; give a larger organisation several tenants",
)
DOMAINS = CountLimit(
    5000,
    "domains per suite (tenant domains and extra domains)",
    "Dovecot maps every domain to its tenant in a single expression",
)
HOST_COMPONENTS = CountLimit(64, "components per host", "the catalog has fewer components")
TENANT_COMPONENTS = CountLimit(64, "components per tenant", "the catalog has fewer components")
LIST_ITEMS = CountLimit(
    10_000,
    "items in any list of suite.yml",
    "no setting needs more; a longer list is a mistake or an attack",
)
MAPPING_KEYS = CountLimit(
    1000,
    "keys in any mapping of suite.yml",
    "none of its mappings has more than a few dozen settings",
)

# Where each limit applies in suite.yml; "*" stands for any position in a list.
SEQUENCE_LIMITS: dict[tuple[str, ...], CountLimit] = {
    ("tenants",): TENANTS,
    ("hosts",): HOSTS,
    ("tenants", "*", "extra_domains"): EXTRA_DOMAINS,
    ("hosts", "*", "components"): HOST_COMPONENTS,
    ("tenants", "*", "components"): TENANT_COMPONENTS,
}


def at_most(limit: CountLimit) -> AfterValidator:
    """A validator of a list that refuses more than ``limit.most`` items, saying why."""

    def check(items: Any) -> Any:
        if len(items) > limit.most:
            raise ValueError(limit.message(f"found {len(items):,}"))
        return items

    return AfterValidator(check)
