"""The audit's fast paths find exactly what the straightforward ones find.

The audit matches globs against sorted paths, parses only the lines (or JSON branches) that
can hold the keys a check reads, decrypts on every core, and keeps the judgements of
unchanged files between runs (souverain.audit.cache). Each shortcut must leave the report as
it was: these tests audit a multi-tenant build, weakened in places, once through the plain
paths (every file parsed whole, every glob tried on every path, nothing cached) and through
the fast ones, cold and warm, and compare the reports.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from souverain import vault
from souverain.audit import check_build
from souverain.audit.buildview import BuildView, BuiltFile
from souverain.audit.cache import CACHE_FILE, JudgementCache
from souverain.audit.context import AuditContext
from souverain.audit.engine import AuditInput, audit_deployment, run
from souverain.audit.parsers import (
    PARSERS,
    lines_containing,
    parse_assign,
    parse_json,
    parse_nginx,
    parse_x509,
    x509_days_left,
)
from souverain.audit.redact import MASK, Redactor
from souverain.audit.rules import FileCheck, ManifestCheck, load_rules
from souverain.deployment import Deployment
from souverain.model.loader import load_suite
from souverain.paths import ROLES_DIR
from souverain.secrets import SecretStore, read_password

TENANTS = 5
WEAKENED = {"TLS-01", "IAM-01", "NC-01", "MTX-01"}  # one weakened file each, in build/


def _tenant_file(deployment: Deployment, dest: str) -> tuple[Path, bool]:
    manifest = json.loads((deployment.build_dir / "manifest.json").read_text())
    [entry] = [e for e in manifest["files"] if e.get("dest") == dest]
    return deployment.build_dir / entry["path"], bool(entry["secret"])


def edit(deployment: Deployment, dest: str, old: str, new: str) -> None:
    """Change a rendered file as a person would by hand (secret files stay encrypted)."""
    path, secret = _tenant_file(deployment, dest)
    password = read_password(deployment)
    raw = path.read_bytes()
    text = (vault.decrypt(raw, password) if secret else raw).decode()
    assert old in text, f"{old!r} not in {dest}"
    data = text.replace(old, new).encode()
    path.write_bytes(vault.encrypt(data, password) if secret else data)


# Weaknesses written into a tenant's files by hand: (file, clean text, weak text).
def _weak_tls(tenant: int) -> tuple[str, str, str]:
    """A tenant's nginx server that also accepts TLS 1.0 (a clear file)."""
    clean = f"    server_name t{tenant}.example.org;\n"
    weak = clean + "    ssl_protocols TLSv1 TLSv1.2;\n"
    return f"/etc/nginx/sites-available/souverain-tenant-t{tenant}.conf", clean, weak


def _no_mfa(tenant: int) -> tuple[str, str, str]:
    """A tenant's SSO without TOTP (a secret file)."""
    dest = f"/etc/souverain/sso/t{tenant}/lmConf.json"
    return dest, '"totp2fActivation": 1', '"totp2fActivation": 0'


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """A suite of five tenants (one without drive), rendered once."""
    from souverain.render.pipeline import render_deployment
    from souverain.scaffold import init_deployment
    from souverain.secrets import ensure_password_file

    root = tmp_path_factory.mktemp("audit-fast") / "suite"
    init_deployment(root, domain="t0.example.org", name="fast")
    deployment = Deployment.at(root)
    ensure_password_file(deployment)
    yaml = YAML(typ="safe", pure=True)
    data = yaml.load(deployment.suite_file.read_text())
    first = data["tenants"][0]
    for number in range(1, TENANTS):
        data["tenants"].append(
            {**first, "id": f"t{number}", "name": f"Tenant {number}",
             "domain": f"t{number}.example.org"}
        )  # fmt: skip
    data["tenants"][2]["components"] = ["mail", "chat", "visio"]
    deployment.suite_file.write_text(json.dumps(data, indent=1))
    render_deployment(deployment)
    return deployment


@pytest.fixture
def deployment(rendered: Deployment, tmp_path: Path) -> Deployment:
    """A copy of the rendered suite whose build is weakened in four tenant files."""
    root = tmp_path / "suite"
    shutil.copytree(rendered.root, root, symlinks=True)
    copy = Deployment.at(root)
    edit(copy, *_weak_tls(1))
    edit(copy, *_no_mfa(3))
    edit(copy, "/var/lib/souverain-drive/t4/config/souverain.config.php",
         "'appstoreenabled' => false", "'appstoreenabled' => true")  # fmt: skip
    edit(copy, "/etc/souverain/chat/t4/homeserver.yaml", "report_stats: false", "report_stats: on")
    return copy


def _plain_matching(self: BuildView, host: str | None, pattern: str) -> list[BuiltFile]:
    pool = self.files if host is None else [f for f in self.files if f.host == host]
    return [item for item in pool if item.dest and fnmatch.fnmatchcase(item.dest, pattern)]


def plain_report(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The audit through the straightforward paths: the reference the fast one must equal."""
    with monkeypatch.context() as patch:
        patch.setattr(BuildView, "matching", _plain_matching)
        patch.setattr(BuildView, "prefetch", lambda self, items: None)
        patch.setattr(check_build, "BY_KEYS", frozenset())  # parse every file whole
        data = AuditInput(
            suite=load_suite(deployment.suite_file),
            build_dir=deployment.build_dir,
            password=read_password(deployment),
            secrets=SecretStore.open(deployment).all_secret_values(),
            rules=load_rules(ROLES_DIR),
            cache_file=None,
        )
        return _comparable(run(data, lang="en"))


def _comparable(report: Any) -> dict[str, Any]:
    document = report.as_dict()
    del document["generated_at"], document["duration_s"]
    return document


def fast_report(deployment: Deployment) -> dict[str, Any]:
    return _comparable(audit_deployment(deployment, lang="en", render=False))


def _decrypted_sources(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files vault.decrypt opens from now on (it still decrypts them)."""
    opened: list[str] = []
    real = vault.decrypt

    def spy(data: bytes | str, password: bytes | str, *, source: str = "<data>") -> bytes:
        opened.append(source)
        return real(data, password, source=source)

    monkeypatch.setattr(vault, "decrypt", spy)
    return opened


def test_fast_audit_finds_what_the_plain_one_finds(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = plain_report(deployment, monkeypatch)
    failing = {f["id"] for f in expected["findings"] if f["verdict"] == "fail"}
    assert failing >= WEAKENED  # the weakened files are judged, not only the clean ones
    assert not (deployment.root / CACHE_FILE).exists()

    assert fast_report(deployment) == expected  # cold: nothing cached yet
    assert (deployment.root / CACHE_FILE).exists()

    opened = _decrypted_sources(monkeypatch)
    assert fast_report(deployment) == expected  # warm: unchanged files come from the cache
    tenant_secrets = [s for s in opened if "/sso/" in s or "souverain-drive" in s]
    assert not tenant_secrets, "a warm audit decrypts no unchanged tenant file"


def test_the_cache_follows_every_change_to_the_build(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_report(deployment)  # fills the cache
    # Undo two weaknesses and add two, in clear and secret files; the manifest is untouched.
    for dest, clean, weak in (_no_mfa(3), _weak_tls(1)):
        edit(deployment, dest, weak, clean)
    edit(deployment, *_no_mfa(0))
    edit(deployment, *_weak_tls(2))
    expected = plain_report(deployment, monkeypatch)
    assert fast_report(deployment) == expected
    evidence = json.dumps([f for f in expected["findings"] if f["id"] in ("IAM-01", "TLS-01")])
    assert "sso/t0/lmConf.json" in evidence and "sso/t3/lmConf.json" not in evidence
    assert "tenant-t2.conf" in evidence and "tenant-t1.conf" not in evidence


def test_the_cache_is_sealed_with_the_vault_password(deployment: Deployment) -> None:
    fast_report(deployment)
    path = deployment.root / CACHE_FILE
    blob = path.read_bytes()
    assert vault.is_encrypted(blob) and b"lmConf" not in blob
    password = read_password(deployment)
    secrets = SecretStore.open(deployment).all_secret_values()
    rule = load_rules(ROLES_DIR).get("IAM-01")
    [check] = [c for c in rule.build if isinstance(c, FileCheck)]
    view = BuildView.open(deployment.build_dir, password)
    [item] = view.matching(None, "/etc/souverain/sso/t0/lmConf.json")

    def cached(cache: JudgementCache) -> bool:
        key = cache.key(check, item, view.digest(item))
        return key is not None and cache.get(key)[0]

    assert cached(JudgementCache.open(path, password, secrets))
    # A new secret (a new tenant's) that its evidence does not show: still taken.
    assert cached(JudgementCache.open(path, password, secrets | {"a-new-secret-value"}))
    # One its evidence shows (masked before that value was a secret): judged again.
    shown = JudgementCache.open(path, password, secrets).get(cache_key(check, item, view))[1]
    text = next(e.text for judged in shown or [] for e in judged.evidence if len(e.text) > 12)
    assert not cached(JudgementCache.open(path, password, secrets | {text[2:12]}))
    # Another password, a secret removed or changed, or a damaged file: nothing is taken.
    assert not cached(JudgementCache.open(path, b"another password", secrets))
    assert not cached(JudgementCache.open(path, password, set(sorted(secrets)[1:])))
    path.write_bytes(blob.replace(blob[-20:-10], b"0" * 10))
    assert not cached(JudgementCache.open(path, password, secrets))


def cache_key(check: FileCheck, item: BuiltFile, view: BuildView) -> str:
    return JudgementCache(Path("unused"), b"", []).key(check, item, view.digest(item))


def test_certificates_are_cached_with_their_days_left(deployment: Deployment) -> None:
    """A certificate's judgement changes with the date, through its days left only."""
    password = read_password(deployment)
    view = BuildView.open(deployment.build_dir, password)
    [item] = view.matching(None, "/etc/souverain/tls/tenant-t1.crt")
    [check] = [c for c in load_rules(ROLES_DIR).get("TLS-03").build if isinstance(c, FileCheck)]
    assert check.format == "x509"
    cache = JudgementCache(deployment.root / CACHE_FILE, password, [])
    now = dt.datetime.now(dt.UTC)
    later = now + dt.timedelta(days=400)

    def key(at: dt.datetime) -> str | None:
        ctx = AuditContext(suite=None, rules=None, build=view, redact=Redactor([]), now=at)  # type: ignore[arg-type]
        return check_build._cache_key(ctx, cache, check, item)

    assert key(now) == key(now) != key(later)
    text = view.text(item) or ""
    for at in (now, later):
        [days] = [e.value for e in parse_x509(text, at) if e.key == "days_left"]
        assert x509_days_left(text, at) == days


def test_globs_match_as_fnmatch_does(deployment: Deployment) -> None:
    view = BuildView.open(deployment.build_dir, None)
    patterns = {"*", "/etc/[a-n]*/*.conf", "*homeserver*.yaml", "/nothing/*", "/etc/ssh/ssh"}
    for rule in load_rules(ROLES_DIR).rules:
        for check in rule.build:
            patterns.add(check.files if isinstance(check, FileCheck) else check.manifest)
            assert isinstance(check, (FileCheck, ManifestCheck))
    for host in [None, *view.hosts, "elsewhere"]:
        for pattern in patterns:
            assert view.matching(host, pattern) == _plain_matching(view, host, pattern), pattern


TRICKY = (
    "ssl_protocols TLSv1.2;\r\n# ssl_protocols TLSv1;\n  ssl_protocols TLSv1.3; # x\n"
    "server { listen 443; ssl_protocols\tTLSv1; }\x0cssl_protocols a;\u2028ssl_ciphers b;\n"
    "ssl = on\n[section]\nssl_protocols = 'TLSv1'\n;\nssl_protocolsX y;\n\n"
)


@pytest.mark.parametrize(
    "words", [("ssl_protocols",), ("ssl_ciphers", "ssl"), ("",), ("a\nb",), ("listen", "TLSv1")]
)
def test_lines_containing_numbers_lines_as_splitlines(words: tuple[str, ...]) -> None:
    expected = [
        (n, line)
        for n, line in enumerate(TRICKY.splitlines(), start=1)
        if any(word in line for word in words)
    ]
    assert lines_containing(TRICKY, words) == expected


def test_parsing_only_the_lines_naming_a_key_gives_its_entries(deployment: Deployment) -> None:
    view = BuildView.open(deployment.build_dir, read_password(deployment))
    texts = [TRICKY]
    for pattern in ("/etc/nginx/*", "/etc/postfix/main.cf", "/etc/sysctl.d/*.conf"):
        texts += [view.text(item) or "" for item in view.matching(None, pattern)]
    for parse in (parse_nginx, parse_assign):
        for text in texts:
            whole = parse(text)
            for keys in [("ssl_protocols",), ("ssl_ciphers", "ssl"), ("smtpd_tls_protocols",)]:
                assert [e for e in parse(text, keys) if e.key in keys] == [
                    e for e in whole if e.key in keys
                ]
    assert PARSERS["nginx"] is parse_nginx


def test_walking_only_the_branches_to_a_key_gives_its_entries(deployment: Deployment) -> None:
    view = BuildView.open(deployment.build_dir, read_password(deployment))
    texts = [
        '{"a.b": 1, "a": {"b": 2, "c": {"d": 3}}, "m.x": {"y": 4}, "a.c": {"d": 5}}',
        '{"a": {"a": {"a": 1}}, "1": {"2": null}}',
        "[1, 2]",
        "3",
        "not json",
    ]
    for pattern in ("/var/www/souverain-chat/*/config.json", "/etc/souverain/sso/*/lmConf.json"):
        texts += [view.text(item) or "" for item in view.matching(None, pattern)]
    keysets = [
        ("a.b",),
        ("a.c.d", "m.x.y"),
        ("a",),
        ("a.a.a", "a.a", "1.2"),
        ("default_server_config.m.identity_server.base_url", "room_directory.servers"),
        ("totp2fActivation", "sfRequired"),
    ]
    for text in texts:
        whole = parse_json(text)
        for keys in keysets:
            assert [e for e in parse_json(text, keys) if e.key in keys] == [
                e for e in whole if e.key in keys
            ]


def test_redaction_skips_texts_without_a_secret_and_masks_the_others() -> None:
    secrets = [f"{word}Zq9vKx2LmP0aBcD" for word in ("alpha", "beta", "gamma")] + ["s3cr3t"]
    redact = Redactor(secrets)
    assert redact("ssl_protocols TLSv1.2 TLSv1.3") == "ssl_protocols TLSv1.2 TLSv1.3"
    assert redact("s3cr3t") == MASK
    assert redact("alphaZq9vKx2LmP0aBcDbetaZq9vKx2LmP0aBcD") == MASK + MASK
    assert redact("k=gammaZq9vKx2LmP0aBcD;s3cr3t") == f"k={MASK};{MASK}"
    assert redact("alphaZq9vKx2LmP0aBc") == "alphaZq9vKx2LmP0aBc"  # a prefix is no secret


def test_a_new_tenant_keeps_the_other_tenants_judgements(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its secrets are new: the other tenants' files are not judged again (their evidence
    cannot show a value made after it), and the report is the one made from scratch."""
    from souverain.render.pipeline import render_deployment

    fast_report(deployment)  # fills the cache
    data = json.loads(deployment.suite_file.read_text())
    data["tenants"].append(
        {**data["tenants"][0], "id": "t9", "name": "Tenant 9", "domain": "t9.example.org"}
    )
    deployment.suite_file.write_text(json.dumps(data, indent=1))
    render_deployment(deployment)
    opened = _decrypted_sources(monkeypatch)
    report = fast_report(deployment)
    assert any("/sso/t9/" in source for source in opened), "the new tenant's files are read"
    # t0 is the one tenant whose files the fixture did not weaken (render puts those back).
    assert not [s for s in opened if "/t0/" in s], opened
    monkeypatch.undo()
    assert report == plain_report(deployment, monkeypatch)
