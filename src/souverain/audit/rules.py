"""The rule files: each component's `audit/rules.yml`, read and checked against a schema.

The catalog (souverain.components) says which components there are and where their rules
file is; a component's rules live in its role folder and nothing else lists them.

A file holds `rules:` (a list) and optionally `constants:` (named values every rule's
expressions can use, shared across files). Each rule says what it checks in declarative
check blocks (`model`, `build`, `live`, `scanners`) that the engine interprets; adding a rule
never needs an engine change for these kinds. See roles/base/audit/rules.yml for examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from souverain.components import Component, load_catalog
from souverain.errors import UsageError

Format = Literal[
    "sshd",
    "keyvalue",
    "sysctl",
    "nginx",
    "postfix",
    "pgconf",
    "lines",
    "json",
    "yaml",
    "x509",
    "dovecot",
]
Missing = Literal["fail", "pass", "not_applicable"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    fr: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        return self.fr if lang == "fr" else self.en


class Reference(_Strict):
    source: str = Field(min_length=1)  # "ANSSI-BP-028 v2.0", "SecNumCloud 3.2", "RFC 8461"
    id: str | None = None  # "R28", "19.2", ...
    approximate: bool = False  # taken from a secondary source; to check against the original

    def label(self) -> str:
        text = f"{self.source} {self.id}" if self.id else self.source
        return f"{text} (≈)" if self.approximate else text

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "id": self.id, "approximate": self.approximate}


class Setting(_Strict):
    """An expectation on one effective setting (the value the service will really use)."""

    key: str
    missing: Missing = "fail"
    equals: str | int | bool | None = None
    one_of: list[str] | None = None
    not_one_of: list[str] | None = None
    matches: str | None = None
    not_matches: str | None = None
    min: float | None = None
    max: float | None = None
    split: str = r"[\s,]+"  # how a value splits into items (ciphers: ":")
    items_subset: list[str] | None = None  # every item of the value is one of these
    items_match: str | None = None  # every item matches this regex
    items_exclude: str | None = None  # no item matches this regex
    empty: bool | None = None  # list/empty string


class LinePattern(_Strict):
    """A regex on the (comment-stripped) lines: must match somewhere, or nowhere."""

    must_match: str | None = None
    must_not_match: str | None = None
    min: float | None = None  # with must_match: the first group, as a number, at least this
    max: float | None = None

    @model_validator(mode="after")
    def _one_pattern(self) -> LinePattern:
        if (self.must_match is None) == (self.must_not_match is None):
            raise ValueError("give exactly one of must_match, must_not_match")
        return self


class ModelCheck(_Strict):
    expect: str  # Jinja expression over the model, true when the rule is met
    show: list[str] = Field(default_factory=list)  # expressions whose values are the evidence
    when: str | None = None  # the check applies only when this is true


class FileCheck(_Strict):
    files: str  # glob on the destination path, on hosts carrying the rule's component
    format: Format = "lines"
    required: bool = False  # no such file rendered on a host carrying the component: fail
    # One service configuration split over several files (dovecot.conf + includes): settings
    # are read across them, in path order; a required line may be in any of them.
    merged: bool = False
    why_absent: Text | None = None  # shown when not required and absent
    when: str | None = None
    settings: list[Setting] = Field(default_factory=list)
    lines: list[LinePattern] = Field(default_factory=list)


class ManifestCheck(_Strict):
    manifest: str  # glob on the destination path, on every host
    secret: bool | None = None  # must be stored vault-encrypted
    mode_max: str | None = Field(default=None, pattern=r"^0[0-7]{3}$")  # no bit beyond these
    when: str | None = None


class LiveCheck(_Strict):
    command: str | None = None  # run on each host carrying the component
    probe: str | None = None  # or a named probe (souverain.audit.probes)
    args: dict[str, Any] = Field(default_factory=dict)
    format: Format = "lines"
    settings: list[Setting] = Field(default_factory=list)
    lines: list[LinePattern] = Field(default_factory=list)
    ok_exit: list[int] = Field(default_factory=lambda: [0])
    when: str | None = None
    requires: str | None = None  # a path (shell glob) that must exist on the host, else n/a
    # A kernel-level measure: on a container sharing its host's kernel, not applicable (the
    # host's kernel decides), and the evidence says so.
    kernel: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> LiveCheck:
        if (self.command is None) == (self.probe is None):
            raise ValueError("give exactly one of command, probe")
        return self


class ScannerCheck(_Strict):
    name: str  # souverain.audit.scanners
    args: dict[str, Any] = Field(default_factory=dict)
    # Algorithms the scanner flags that the cited guide recommends: shown, not failed.
    accept: list[str] = Field(default_factory=list)


class Rule(_Strict):
    id: str = Field(pattern=r"^[A-Z]+-[0-9]{2}$")
    component: str
    severity: Literal["high", "medium", "low"]
    title: Text
    rationale: Text
    remediation: Text
    references: list[Reference] = Field(min_length=1)
    evidence: list[Literal["model", "build", "live"]] = Field(min_length=1)
    when: str | None = None  # the rule applies only when this model expression is true
    model: list[ModelCheck] = Field(default_factory=list)
    build: list[FileCheck | ManifestCheck] = Field(default_factory=list)
    live: list[LiveCheck] = Field(default_factory=list)
    scanners: list[ScannerCheck] = Field(default_factory=list)

    @model_validator(mode="after")
    def _evidence_matches_checks(self) -> Rule:
        for kind in ("model", "build", "live"):
            has_checks = bool(getattr(self, kind)) or (kind == "live" and bool(self.scanners))
            if has_checks != (kind in self.evidence):
                raise ValueError(
                    f"evidence lists {self.evidence} but the rule has "
                    f"{'no ' if not has_checks else ''}{kind} checks"
                )
        return self


class RuleFile(_Strict):
    constants: dict[str, Any] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    constants: dict[str, Any]
    sources: dict[str, str]  # rule id -> file it came from

    def get(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def rule_files(roles_dir: Path) -> list[tuple[Component, Path]]:
    """Each component of the catalog that has rules, and its rules file, by component name."""
    found = []
    for component in load_catalog(roles_dir):
        path = component.audit_rules
        if path is not None:
            found.append((component, path))
    return sorted(found, key=lambda item: item[0].name)


@cache
def load_rules(roles_dir: Path) -> RuleSet:
    """Every rule of every component, checked; a broken rules file is a usage error."""
    rules: list[Rule] = []
    constants: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for component, path in rule_files(roles_dir):
        try:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            data = yaml.load(path.read_text(), Loader=loader) or {}
            parsed = RuleFile.model_validate(data)
        except (yaml.YAMLError, ValidationError) as error:
            raise UsageError(f"{path} is not a valid rules file: {error}") from None
        for name, value in parsed.constants.items():
            if name in constants and constants[name] != value:
                raise UsageError(f"{path}: constant {name!r} is defined differently elsewhere")
            constants[name] = value
        for rule in parsed.rules:
            if rule.id in sources:
                raise UsageError(f"{path}: rule {rule.id} is also defined in {sources[rule.id]}")
            # base also holds the suite-wide rules (component "suite").
            if rule.component != component.name and component.name != "base":
                raise UsageError(
                    f"{path}: rule {rule.id} is for {rule.component}; put it in "
                    f"roles/{rule.component}/audit/rules.yml"
                )
            sources[rule.id] = str(path)
            rules.append(rule)
    order = {name: index for index, name in enumerate(load_catalog(roles_dir).names)}
    rules.sort(key=lambda rule: _sort_key(rule, order))
    return RuleSet(tuple(rules), constants, sources)


# Reports list the suite-wide rules first, then components in the catalog's order.
SUITE = "suite"


def _sort_key(rule: Rule, order: dict[str, int]) -> tuple[int, str, int]:
    prefix, number = rule.id.rsplit("-", 1)
    position = -1 if rule.component == SUITE else order.get(rule.component, len(order))
    return position, prefix, int(number)
