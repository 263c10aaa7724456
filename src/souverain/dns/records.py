"""The DNS record model and its two outputs: zone-file text and JSON."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from souverain.model.suite import Suite, Tenant

DEFAULT_TTL = 3600
# One TXT character-string holds at most 255 bytes (RFC 1035 3.3.14).
TXT_CHUNK = 255


@dataclass(frozen=True)
class Record:
    name: str  # fully qualified, without the trailing dot
    type: str  # A, AAAA, MX, TXT, SRV, CNAME, CAA...
    value: str  # presentation form; for TXT the unquoted text
    ttl: int = DEFAULT_TTL
    component: str = ""
    comment: str = ""

    def tagged(self, component: str) -> Record:
        return replace(self, component=component)

    def zone_value(self) -> str:
        if self.type == "TXT":
            chunks = [self.value[i : i + TXT_CHUNK] for i in range(0, len(self.value), TXT_CHUNK)]
            return " ".join(f'"{_escape(chunk)}"' for chunk in chunks or [""])
        return self.value

    def zone_line(self) -> str:
        line = f"{self.name}.\t{self.ttl}\tIN\t{self.type}\t{self.zone_value()}"
        return f"{line}\t; {self.comment}" if self.comment else line

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "value": self.value,
            "ttl": self.ttl,
            "component": self.component,
            "comment": self.comment,
        }


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


@dataclass
class DnsContext:
    """What the records are made from: the model and, for keys, the secrets store."""

    suite: Suite
    tenant: Tenant
    # Name in the secrets store -> value, or None when it was never generated.
    secret: Callable[[str], str | None]
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def zone_of(name: str, domains: list[str]) -> str | None:
    """The tenant domain (zone) a name belongs to: the longest domain it ends with."""
    best = None
    for domain in domains:
        if (name == domain or name.endswith("." + domain)) and (
            best is None or len(domain) > len(best)
        ):
            best = domain
    return best


@dataclass
class TenantZone:
    tenant: Tenant
    records: list[Record]
    notes: list[str]

    def by_zone(self) -> dict[str, list[Record]]:
        zones: dict[str, list[Record]] = {domain: [] for domain in self.tenant.domains}
        for record in self.records:
            zone = zone_of(record.name, self.tenant.domains) or self.tenant.domain
            zones[zone].append(record)
        return zones

    def zone_text(self) -> str:
        lines = [f"; Tenant {self.tenant.id} ({self.tenant.name})"]
        lines += [f"; NOTE: {note}" for note in self.notes]
        for zone, records in self.by_zone().items():
            lines += ["", f"; ---- zone {zone}."]
            component = None
            for record in records:
                if record.component != component:
                    component = record.component
                    lines.append(f"; {component}")
                lines.append(record.zone_line())
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.tenant.id,
            "domains": list(self.tenant.domains),
            "notes": list(self.notes),
            "records": [record.as_dict() for record in self.records],
        }
