"""What a newcomer needs after `make demo`: a person to sign in as, names that resolve, a CA the
browser trusts, and where to start.

The person's password is kept in the deployment's secret store (``demo/<tenant>``) and written
to a file only root can read; it is never printed. The names go to ``/etc/hosts`` only when
asked, between markers that name the suite, so a second run replaces its own lines and nothing
else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from souverain.fsutil import atomic_write
from souverain.model.services import tenant_services
from souverain.model.suite import Suite, Tenant

DEMO_UID = "demo"
HOSTS_FILE = Path("/etc/hosts")
HOSTS_LINE_WIDTH = 90
# Where to start, in this order, among the tenant's services (component, role, label).
START_HERE = (
    ("sso", "portal", "portal"),
    ("mail", "webmail", "webmail"),
    ("chat", "element", "chat"),
)


def secret_name(tenant: Tenant) -> str:
    return f"{DEMO_UID}/{tenant.id}"


def password_path(root: Path, tenant: Tenant) -> Path:
    return root / "lab" / f"{DEMO_UID}-{tenant.id}.password"


def write_password(path: Path, password: str) -> None:
    """The password on one line, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, password + "\n", mode=0o600)


def hosts_lines(suite: Suite) -> list[str]:
    """/etc/hosts lines: each address with the names of every tenant's services that resolve to
    it (the host that receives them), in the order `souverain info` lists them."""
    names_of: dict[str, list[str]] = {}
    for tenant in suite.tenants:
        for service in tenant_services(suite, tenant):
            address = suite.host(service.host).address
            names = names_of.setdefault(address, [])
            if service.fqdn not in names:
                names.append(service.fqdn)
    lines: list[str] = []
    for address, names in names_of.items():
        line = address
        for name in names:  # several lines for one address: short enough to read and copy
            if len(line) + 1 + len(name) > HOSTS_LINE_WIDTH and line != address:
                lines.append(line)
                line = address
            line += f" {name}"
        lines.append(line)
    return lines


def markers(suite: Suite) -> tuple[str, str]:
    return f"# BEGIN souverain suite {suite.name}", f"# END souverain suite {suite.name}"


def with_hosts_block(text: str, suite: Suite, lines: list[str]) -> str:
    """``text`` (an /etc/hosts) with the suite's block replaced, or added at the end."""
    begin, end = markers(suite)
    kept: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.strip() == begin:
            inside = True
        elif line.strip() == end and inside:
            inside = False
        elif not inside:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    block = [begin, *lines, end]
    return "\n".join([*kept, "", *block]) + "\n" if kept else "\n".join(block) + "\n"


def apply_hosts(suite: Suite, path: Path = HOSTS_FILE) -> bool:
    """Write the suite's block into ``path``; False when it was already there as it is."""
    current = path.read_text() if path.exists() else ""
    wanted = with_hosts_block(current, suite, hosts_lines(suite))
    if wanted == current:
        return False
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    try:
        atomic_write(path, wanted, mode=mode)
    except OSError:
        # /etc/hosts bind-mounted (containers): it cannot be replaced, only rewritten.
        with open(path, "w") as handle:
            handle.write(wanted)
            handle.flush()
            os.fsync(handle.fileno())
    return True


@dataclass(frozen=True)
class Start:
    label: str
    url: str


def start_here(suite: Suite, tenant: Tenant) -> list[Start]:
    by_key = {(s.component, s.role): s for s in tenant_services(suite, tenant)}
    found = []
    for component, role, label in START_HERE:
        service = by_key.get((component, role))
        if service is not None:
            found.append(Start(label, f"https://{service.fqdn}/"))
    return found


def welcome_text(suite: Suite, root: Path, shown_root: str) -> str:
    """What `souverain lab welcome` prints; ``shown_root`` is how the deployment directory is
    named in the text (as the user typed it)."""
    ca = f"{shown_root}/pki/ca.crt"
    lines = [
        "Your suite is deployed. To use it from this machine's browser:",
        "",
        "1. Make its names resolve: add these lines to /etc/hosts, or run",
        f"   `souverain -C {shown_root} lab welcome --apply-hosts` as root:",
        "",
        *(f"   {line}" for line in hosts_lines(suite)),
        "",
        f"2. Trust the suite's certificate authority, {ca}:",
        "   - Firefox: Settings > Privacy & Security > Certificates > View Certificates >",
        "     Authorities > Import, then tick 'Trust this CA to identify websites'.",
        "   - Chromium: Settings > Privacy and security > Security > Manage certificates >",
        "     Authorities > Import, then tick 'Trust this certificate for identifying websites'.",
        f"   - This machine's tools (curl, Python): cp {ca} \\",
        f"     /usr/local/share/ca-certificates/souverain-{suite.name}.crt",
        "     then update-ca-certificates",
        "",
        f"3. Sign in as '{DEMO_UID}'. The password is in the file below (readable by root only;",
        "   it is never printed):",
    ]
    for tenant in suite.tenants:
        path = password_path(root, tenant).relative_to(root)
        lines.append("")
        lines.append(f"   {tenant.id}: {DEMO_UID}@{tenant.domain}, password in {shown_root}/{path}")
        for start in start_here(suite, tenant):
            lines.append(f"   - {start.label:<8} {start.url}")
    return "\n".join(lines) + "\n"
