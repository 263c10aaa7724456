"""No string of suite.yml can inject configuration into a rendered file.

Every string field of the model is found by walking the pydantic models from Suite (lists of
strings and the component settings made from the catalog included), and each one is given
each adversarial value of a corpus: line breaks, NUL, quotes, the delimiters of each target
format, template syntax, invisible characters, a very long value. Either `souverain validate`
refuses the value, naming the file, the line and the field, or the suite renders and the
value is one value in every file: no file holds the raw line break or NUL, no file gains or
loses a line, JSON and YAML files parse back with the value in the place of the ordinary one,
and HTML files hold it escaped.
"""

from __future__ import annotations

import itertools
import json
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, HttpUrl

from souverain import vault
from souverain.cli import cli
from souverain.cli.output import run_cli
from souverain.errors import ConfigError
from souverain.model.components import PLACEABLE
from souverain.model.loader import load_suite, parse_suite
from souverain.model.suite import Suite
from souverain.render.engine import Build
from souverain.render.pipeline import render_in_memory
from souverain.secrets import read_password
from tests.unit.test_model import MINIMAL

Path_ = tuple[str | int, ...]

# The adversarial values, by class. Each fragment is put inside an ordinary value of the
# field (ordinary + fragment + "x"), so that it also tests what follows a valid prefix.
CORPUS: dict[str, list[str]] = {
    "line breaks": ["\n", "\r", "\r\n", "\n pool evil.example.org iburst\n", "\x85", "\u2028"],
    "nul and controls": ["\x00", "\t", "\x1b[31m", "\x7f"],
    "quotes": ["'", '"', "\\", "`", '\\"', "'; $x = 1; //"],
    "delimiters": [";", "{", "}", "#", "$", "%", "%u", ":", ",", " ", "]]", "--", "*/", "=", "|"],
    "code": ["<?php", "?>", "</script><script>alert(1)</script>", "<b>", "&amp;"],
    "templates": ["${HOME}", "{{ 7 * 7 }}", "{% raw %}", "{#", "$(id)", "@{x}"],
    "unicode": ["\u202e", "\u200b", "\ufeff", "é", "漢字"],
    "paths": ["/../../etc/shadow", "/./x"],
    "long": ["a" * 5000],
}

# An ordinary value for every string field, by its path with list indexes as 0; extra
# settings a field needs to be checked alone sit under "context". A new string field of the
# model fails test_every_string_field_has_an_ordinary_value until it is listed here.
ORDINARY: dict[str, str] = {
    "name": "suite7",
    "hosting.provider": "Provider Seven",
    "hosting.country": "FR",
    "hosting.region": "Region Seven",
    "connection.user": "deployer7",
    "connection.private_key_file": "keys/id_ed25519",
    "connection.known_hosts_file": "keys/known_hosts",
    "hosts.0.name": "srv1",
    "hosts.0.address": "192.0.2.10",
    "hosts.0.ssh_user": "hostuser7",
    "hosts.0.components.0": PLACEABLE[0],
    "tenants.0.id": "tenant7",
    "tenants.0.name": "Tenant Seven",
    "tenants.0.domain": "seven.example.org",
    "tenants.0.extra_domains.0": "acme.example.net",
    "tenants.0.components.0": "mail",
    "trust.extra_ca.0": "ca/extra.pem",
    "components.base.ntp_servers.0": "ntp.acme.example.org",
    "components.base.admin_networks.0": "10.0.0.0/8",
    "components.base.journald_max_use": "2G",
    "components.base.timezone": "Europe/Paris",
    "components.base.openscap.profile": "intermediary",
    "components.pki.mode": "internal",
    "components.pki.acme.directory_url": "https://acme.example.org/directory",
    "components.base.banner.0": "Access for authorised people only.",
    "components.base.security_archive": "http://archive.example.org/debian-security",
    "components.pki.acme.email": "admin@acme.example.org",
    "components.pki.organisation": "Organisation Seven",
    "components.directory.suffix": "dc=seven,dc=example,dc=org",
    "components.sso.hostname": "auth7",
    "components.sso.admin_group": "admins7",
    "components.backup.time": "02:45",
    "components.mail.hostname": "mail7",
    "components.mail.webmail_hostname": "webmail7",
    "components.mail.dmarc_policy": "quarantine",
    "components.mail.mta_sts_mode": "enforce",
    "components.mail.spam.fuzzy_servers.0": "fuzzy.acme.example.org:11335",
    "components.mail.spam.dns_blocklists.0": "bl.example.org",
    "components.chat.hostname": "matrix7",
    "components.chat.element_hostname": "chat7",
    "components.chat.synapse_version": "1.163.2",
    "components.chat.federation.mode": "off",
    "components.chat.federation.allowlist.0": "example.net",
    "components.visio.hostname": "visio7",
    "components.visio.public_address": "192.0.2.20",
    "components.drive.hostname": "drive7",
    "components.backup.repository": "ssh://borg@backup.example.org/./suite",
    **{
        f"artifacts.{name}.{key}": value
        for name in ("jitsi", "element", "nextcloud")
        for key, value in (
            ("version", "1.2.3"),
            ("sha256", "0" * 64),
            ("source", "upstream"),
            ("url", "https://mirror.example.org/archive.tar.bz2"),
            ("path", "artifacts/archive.tar.bz2"),
        )
    },
}
CONTEXT: dict[str, dict[str, Any]] = {
    "hosts.0.components.0": {
        "hosts.0.components": [name for name in PLACEABLE if name != "backup"]
    },
    "components.chat.federation.allowlist.0": {"components.chat.federation.mode": "allowlist"},
    "components.pki.acme.directory_url": {"components.pki.acme.email": "admin@acme.example.org"},
    "components.pki.acme.email": {
        "components.pki.acme.directory_url": "https://acme.example.org/directory"
    },
    **{
        f"artifacts.{name}.{key}": {f"artifacts.{name}.version": "1.2.3"}
        for name in ("jitsi", "element", "nextcloud")
        for key in ("sha256", "source", "url", "path")
    },
}


@dataclass(frozen=True)
class StringField:
    path: Path_  # in the document: ("tenants", 0, "name")
    is_list_item: bool

    @property
    def key(self) -> str:
        return ".".join(str(part) for part in self.path)

    @property
    def shown(self) -> str:
        """As the loader names it: tenants[0].name."""
        text = ""
        for part in self.path:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
        return text


def _is_string_type(annotation: Any) -> bool:
    if annotation is str:
        return True
    if isinstance(annotation, type) and issubclass(annotation, HttpUrl):
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        return _is_string_type(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) is typing.Literal:
        return all(isinstance(choice, str) for choice in typing.get_args(annotation))
    return False


def _walk(model: type[BaseModel], prefix: Path_, in_list: bool) -> Iterator[StringField]:
    for name, info in model.model_fields.items():
        yield from _walk_type(info.annotation, (*prefix, name), in_list)


def _walk_type(annotation: Any, path: Path_, in_list: bool) -> Iterator[StringField]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for member in typing.get_args(annotation):
            if member is not type(None):
                yield from _walk_type(member, path, in_list)
    elif origin is list:
        yield from _walk_type(typing.get_args(annotation)[0], (*path, 0), True)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from _walk(annotation, path, in_list)
    elif _is_string_type(annotation):
        yield StringField(path, in_list)


@cache
def string_fields() -> tuple[StringField, ...]:
    return tuple(_walk(Suite, (), False))


def _base_document() -> dict[str, Any]:
    return yaml.safe_load(MINIMAL)


def _set(document: dict[str, Any], path: Path_, value: Any) -> None:
    node: Any = document
    for part, following in itertools.pairwise(path):
        if isinstance(part, int):
            while len(node) <= part:
                node.append({} if isinstance(following, str) else None)
            if node[part] is None:
                node[part] = {} if isinstance(following, str) else []
            node = node[part]
        else:
            if part not in node or node[part] is None:
                node[part] = [] if isinstance(following, int) else {}
            node = node[part]
    last = path[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value


def document_with(field: StringField, value: str) -> dict[str, Any]:
    document = _base_document()
    for key, extra in CONTEXT.get(field.key, {}).items():
        _set(document, _split(key), extra)
    _set(document, field.path, value)
    return document


def _split(key: str) -> Path_:
    return tuple(int(part) if part.isdigit() else part for part in key.split("."))


def as_yaml(document: dict[str, Any]) -> str:
    # Block style, one setting a line, every unusual character escaped in double quotes.
    return yaml.safe_dump(document, default_flow_style=False, allow_unicode=False, width=10**6)


def _get(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part]
    return data


# ---- rendering -------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    files: dict[str, bytes]  # path in the build -> plaintext


class Renders:
    """One deployment for the whole module: render a suite.yml, get every file in clear."""

    def __init__(self, root: Path) -> None:
        from souverain.scaffold import init_deployment
        from souverain.secrets import ensure_password_file

        self.deployment = init_deployment(root, domain="acme.example.org", name="acme")
        ensure_password_file(self.deployment)
        self.password = read_password(self.deployment)

    def render(self, text: str) -> Rendered | None:
        """The files, or None when validate refuses the suite for a file it names that
        cannot exist (a path through a file: ca/extra.pem/../x)."""
        self._make_files_it_reads(parse_suite(text))
        self.deployment.suite_file.write_text(text, encoding="utf-8")
        try:
            suite = load_suite(self.deployment.suite_file)
        except ConfigError as error:
            assert all(problem.message.startswith("no such file") for problem in error.problems)
            return None
        build: Build = render_in_memory(self.deployment, suite, dry_run=False)
        files = {}
        for path, item in build.files.items():
            data = item.content
            if item.secret:
                data = vault.decrypt(data, self.password)
            files[path] = data
        return Rendered(files)

    def _make_files_it_reads(self, suite: Suite) -> None:
        for name in suite.trust.extra_ca:
            target = self.deployment.root / name
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
            except OSError:
                pass  # validate says which file it cannot find


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> Renders:
    return Renders(tmp_path_factory.mktemp("injection") / "suite")


# ---- the checks ------------------------------------------------------------------------

BREAKING = ("\n", "\r", "\x00")


def _paired_keys(base: dict[Any, Any], changed: dict[Any, Any]) -> list[tuple[Any, Any]]:
    """Keys of the same entries: by name, then those the value renamed in their order."""
    same = [key for key in changed if key in base]
    renamed = zip(
        sorted((key for key in base if key not in changed), key=str),
        sorted((key for key in changed if key not in base), key=str),
        strict=True,
    )
    return [(key, key) for key in same] + list(renamed)


def _same_shape_with_value(base: Any, changed: Any, old: str, new: str, where: str) -> None:
    """`changed` has the shape of `base` (as many keys, the same list lengths, the same
    types), and a string that was the ordinary value is now the new value, whole."""
    if isinstance(base, dict):
        assert isinstance(changed, dict), where
        assert len(base) == len(changed), f"{where}: {len(base)} keys became {len(changed)}"
        for before, after in _paired_keys(base, changed):
            _same_shape_with_value(base[before], changed[after], old, new, f"{where}.{after}")
    elif isinstance(base, list):
        assert isinstance(changed, list) and len(base) == len(changed), f"{where}: list differs"
        for index, (one, other) in enumerate(zip(base, changed, strict=True)):
            _same_shape_with_value(one, other, old, new, f"{where}[{index}]")
    elif isinstance(base, str):
        assert isinstance(changed, str), where
        if base == old:
            assert changed == new, f"{where}: {changed!r}"
    else:
        assert type(base) is type(changed), where


def _parsed(path: str, data: bytes) -> Any:
    if path.endswith(".json"):
        return json.loads(data)
    if path.endswith((".yml", ".yaml")):
        return yaml.safe_load(data)
    return None


def _nginx_variables(text: str) -> int:
    """How many $ nginx would expand: those outside comment lines."""
    return sum(line.count("$") for line in text.splitlines() if not line.lstrip().startswith("#"))


def check_render(base: Rendered, changed: Rendered, ordinary: str, value: str) -> None:
    # A name may be part of a file's path (a host's, a tenant's): files are paired in the
    # order the renderer makes them, which does not depend on the values.
    assert len(changed.files) == len(base.files), "the value added or removed files"
    renamed = dict(zip(changed.files, base.files, strict=True))
    for path, data in changed.files.items():
        assert ".." not in path.split("/"), path
        text = data.decode("utf-8")
        before = base.files[renamed[path]].decode("utf-8")
        if any(char in value for char in BREAKING):
            assert value not in text, f"{path} holds the raw value {value!r}"
        assert "\x00" not in text, f"{path} holds a NUL"
        if not text.startswith("-----BEGIN"):  # PEM: its base64 grows with the names
            assert len(text.splitlines()) == len(before.splitlines()), (
                f"{path}: {len(before.splitlines())} lines became {len(text.splitlines())}"
            )
        parsed = _parsed(path, data)
        if parsed is not None:
            earlier = _parsed(path, base.files[renamed[path]])
            _same_shape_with_value(earlier, parsed, ordinary, value, path)
        if "/nginx/" in path:
            assert _nginx_variables(text) == _nginx_variables(before), (
                f"{path}: the value brought an nginx $variable"
            )
        if path.endswith((".html", ".xml")) and "<" in value and ordinary in before:
            assert value not in text, f"{path} holds {value!r} unescaped"


# ---- the tests -------------------------------------------------------------------------


def test_the_walk_finds_the_string_fields_of_every_part_of_the_model():
    keys = {field.key for field in string_fields()}
    for expected in (
        "tenants.0.name",
        "hosting.provider",
        "hosting.region",
        "components.base.ntp_servers.0",
        "components.mail.spam.fuzzy_servers.0",
        "components.pki.organisation",
        "components.pki.acme.email",
        "components.backup.repository",
        "connection.private_key_file",
        "trust.extra_ca.0",
        "artifacts.nextcloud.url",
        "components.directory.suffix",
    ):
        assert expected in keys


def test_every_string_field_has_an_ordinary_value():
    missing = [field.key for field in string_fields() if field.key not in ORDINARY]
    assert not missing, f"add an ordinary value to ORDINARY for {missing}"
    for field in string_fields():
        parse_suite(as_yaml(document_with(field, ORDINARY[field.key])))


def _cases() -> list[tuple[StringField, str]]:
    return [(field, kind) for field in string_fields() for kind in CORPUS]


def _is_valid(field: StringField, value: str) -> bool:
    try:
        parse_suite(as_yaml(document_with(field, value)))
    except ConfigError as error:
        paths = {problem.path for problem in error.problems}
        assert field.shown in paths, f"{value!r} refused for another field: {error.problems}"
        [problem] = [p for p in error.problems if p.path == field.shown]
        assert problem.line, problem
        return False
    return True


def _accepted_values(field: StringField, fragments: list[str]) -> list[str]:
    """Values holding the fragments the field accepts, as few as the field's bounds allow
    (fragments joined by "x", so that no two make a new token)."""
    ordinary = ORDINARY[field.key]
    values: list[str] = []
    current = ""
    for fragment in fragments:
        if not _is_valid(field, ordinary + fragment + "x"):
            continue
        joined = f"{current}{fragment}x"
        if current and not _is_valid(field, ordinary + joined):
            values.append(ordinary + current)
            joined = f"{fragment}x"
        current = joined
    if current:
        values.append(ordinary + current)
    return values


_BASELINES: dict[str, Rendered] = {}


@pytest.mark.parametrize(
    ("field", "kind"), _cases(), ids=[f"{field.key}-{kind}" for field, kind in _cases()]
)
def test_a_string_is_refused_or_one_value_in_every_file(
    renders: Renders, field: StringField, kind: str
):
    ordinary = ORDINARY[field.key]
    values = _accepted_values(field, CORPUS[kind])
    if not values:
        return
    if field.key not in _BASELINES:
        baseline = renders.render(as_yaml(document_with(field, ordinary)))
        assert baseline is not None
        _BASELINES[field.key] = baseline
    base = _BASELINES[field.key]
    for value in values:
        text = as_yaml(document_with(field, value))
        shown = str(_get(parse_suite(text).model_dump(mode="json"), field.path))
        changed = renders.render(text)
        if changed is not None:
            check_render(base, changed, ordinary, shown)


def test_validate_names_the_file_the_line_and_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    for field in string_fields():
        document = document_with(field, ORDINARY[field.key] + "\nx")
        (tmp_path / "suite.yml").write_text(as_yaml(document), encoding="utf-8")
        capsys.readouterr()
        code = run_cli(cli, ["-C", str(tmp_path), "validate"])
        err = capsys.readouterr().err
        assert code == 2, field.key
        assert "Traceback" not in err
        assert "suite.yml:" in err and field.shown in err, err
