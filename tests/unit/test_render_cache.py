"""The render cache: a render costs what changed, and gives the bytes a full render gives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from souverain import vault
from souverain.deployment import Deployment
from souverain.errors import RenderError
from souverain.render import pipeline
from souverain.render.cache import INDEX
from souverain.render.spec import load_spec
from souverain.secrets import TOP_KEY, read_password

FIXTURE_ROLES = Path(__file__).parent / "fixtures" / "roles"
NO_TRASH = shutil.ignore_patterns(".build-trash-*")  # old builds a detached rm is deleting
EXTRA_TENANTS = """
  - id: beta
    name: "Beta"
    domain: beta.example.org
  - id: gamma
    name: "Gamma"
    domain: gamma.example.org
"""


def add_tenants(suite_file: Path) -> None:
    text = suite_file.read_text()
    suite_file.write_text(text.replace("\ncomponents:\n", f"\n{EXTRA_TENANTS}\ncomponents:\n", 1))


@pytest.fixture(scope="module")
def rendered_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A three-tenant deployment rendered once with every role (keys made only once)."""
    from souverain.scaffold import init_deployment
    from souverain.secrets import ensure_password_file

    root = tmp_path_factory.mktemp("cache") / "suite"
    init_deployment(root, domain="acme.example.org", name="acme")
    add_tenants(root / "suite.yml")
    deployment = Deployment.at(root)
    ensure_password_file(deployment)
    pipeline.render_deployment(deployment)
    return root


@pytest.fixture
def deployment(rendered_once: Path, tmp_path: Path) -> Deployment:
    """A copy of it, rendered once where it now lives (the inventory holds absolute paths)."""
    copy = tmp_path / "suite"
    shutil.copytree(rendered_once, copy, symlinks=True, ignore=NO_TRASH)
    deployment = Deployment.at(copy)
    moved = pipeline.render_deployment(deployment)
    assert moved.build.reused == len(moved.build.groups)
    return deployment


def build_tree(deployment: Deployment) -> dict[str, bytes]:
    root = deployment.build_dir.resolve()
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != INDEX
    }


def rendered_from_scratch(deployment: Deployment, tmp_path: Path) -> dict[str, bytes]:
    """The same deployment rendered with no previous build to borrow from."""
    aside = tmp_path / "aside"
    shutil.copytree(deployment.root, aside, symlinks=True, ignore=NO_TRASH)
    (deployment.root / "build").unlink()
    for old in deployment.root.glob(".build-*"):
        shutil.rmtree(old, ignore_errors=True)
    try:
        outcome = pipeline.render_deployment(deployment)
        assert outcome.build.reused == 0
        return build_tree(deployment)
    finally:
        shutil.rmtree(deployment.root)
        aside.rename(deployment.root)


def rename_tenant(deployment: Deployment, tenant: str, name: str) -> None:
    text = deployment.suite_file.read_text()
    marker = f"  - id: {tenant}\n    name: "
    start = text.index(marker) + len(marker)
    end = text.index("\n", start)
    deployment.suite_file.write_text(text[:start] + json.dumps(name) + text[end:])


def test_a_second_render_reuses_every_group_and_writes_nothing(deployment: Deployment):
    outcome = pipeline.render_deployment(deployment)
    assert not outcome.written.changed
    assert outcome.build.reused == len(outcome.build.groups) > 20


def test_one_changed_tenant_renders_its_groups_only_and_gives_a_full_renders_bytes(
    deployment: Deployment, tmp_path: Path
):
    before = pipeline.render_deployment(deployment).build
    rename_tenant(deployment, "beta", "Beta renamed")
    outcome = pipeline.render_deployment(deployment)
    assert outcome.written.changed
    rendered_again = {
        name for name, record in outcome.build.groups.items() if before.groups[name] != record
    }
    tenant_groups = [
        name
        for name in before.groups
        if name.count("/") == 2 and not name.endswith(("/vars", "/secret-vars"))
    ]
    assert any(name.endswith("/beta") for name in rendered_again)
    assert not any(name.endswith(("/acme", "/gamma")) for name in rendered_again)
    untouched_tenants = [n for n in tenant_groups if not n.endswith("/beta")]
    assert outcome.build.reused >= len(untouched_tenants)
    assert build_tree(deployment) == rendered_from_scratch(deployment, tmp_path)


def test_plan_of_one_changed_tenant_names_its_files(deployment: Deployment):
    rename_tenant(deployment, "gamma", "Gamma renamed")
    _, changes = pipeline.plan_changes(deployment)
    tenants = {change.tenant for change in changes}
    assert "gamma" in tenants
    assert tenants <= {"gamma", None}


def test_a_file_edited_by_hand_in_the_build_is_rendered_again(deployment: Deployment):
    target = deployment.build_dir / "hosts/srv1/files/var/www/souverain/beta/index.html"
    original = target.read_bytes()
    target.write_bytes(original + b"<!-- edited -->\n")
    outcome = pipeline.render_deployment(deployment)
    assert outcome.written.changed
    assert (deployment.build_dir / target.relative_to(deployment.build_dir)).read_bytes() == (
        original
    )


def test_a_secret_changed_with_ansible_vault_edit_renders_its_files_again(
    deployment: Deployment, tmp_path: Path
):
    password = read_password(deployment)
    document = json.loads(vault.read_file(deployment.secrets_file, password))
    names = [name for name in document[TOP_KEY] if name.startswith("chat/beta/")]
    assert names, sorted(document[TOP_KEY])
    document[TOP_KEY][names[0]] = "changed-by-hand-0123456789abcdef"
    vault.write_file(deployment.secrets_file, json.dumps(document).encode(), password, mode=0o600)
    before = build_tree(deployment)
    pipeline.render_deployment(deployment)
    after = build_tree(deployment)
    assert [path for path in after if after[path] != before.get(path)]
    assert after == rendered_from_scratch(deployment, tmp_path)


def test_the_index_holds_no_secret_value(deployment: Deployment):
    password = read_password(deployment)
    document = json.loads(vault.read_file(deployment.secrets_file, password))
    index = (deployment.build_dir / INDEX).read_text()
    for value in document[TOP_KEY].values():
        assert value not in index
        for line in value.splitlines():
            if len(line) > 20:
                assert line not in index


@pytest.fixture
def roles_reading_all_tenants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    roles = tmp_path / "roles"
    shutil.copytree(FIXTURE_ROLES, roles)
    template = roles / "proxy/templates/etc/demo/tenant.conf.j2"
    template.write_text(template.read_text() + "{{ suite.tenants | length }}\n")
    load_spec.cache_clear()
    monkeypatch.setattr(pipeline, "ROLES_DIR", roles)
    yield roles
    load_spec.cache_clear()


def test_a_per_tenant_template_may_not_read_the_other_tenants(
    deployment_dir: Path, roles_reading_all_tenants: Path
):
    with pytest.raises(RenderError, match=r"tenant\.conf\.j2: a per-tenant template reads"):
        pipeline.render_deployment(Deployment.at(deployment_dir))


def edit_tenants(deployment: Deployment, change) -> None:
    """Apply ``change`` to the tenant list of suite.yml (ruamel.yaml: the rest kept)."""
    import io

    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    suite = yaml.load(deployment.suite_file.read_text())
    change(suite["tenants"])
    out = io.StringIO()
    yaml.dump(suite, out)
    deployment.suite_file.write_text(out.getvalue())


def test_adding_a_tenant_leaves_the_host_groups_that_read_no_tenant_as_they_are(
    deployment: Deployment, tmp_path: Path
):
    before = pipeline.render_deployment(deployment).build
    edit_tenants(
        deployment,
        lambda tenants: tenants.append(
            {"id": "delta", "name": "Delta", "domain": "delta.example.org"}
        ),
    )
    outcome = pipeline.render_deployment(deployment)
    kept = {
        name for name, record in outcome.build.groups.items() if before.groups.get(name) == record
    }
    # SSH, the firewall and the portal's unit know nothing of the tenants; PostgreSQL's
    # access rules list every tenant's databases.
    assert {
        "srv1/base:/etc/ssh/sshd_config.d/50-souverain.conf",
        "srv1/base:/etc/nftables.conf",
        "srv1/base/vars",
        "srv1/sso:/etc/systemd/system/souverain-sso@.service",
    } <= kept
    assert "srv1/postgresql:/etc/souverain/postgresql/pg_hba.conf" not in kept
    assert not any(name.startswith("srv1/") and name.endswith("/delta") for name in kept)
    assert build_tree(deployment) == rendered_from_scratch(deployment, tmp_path)


EDITS = [
    ("renamed", lambda tenants: tenants[1].__setitem__("name", "Beta renamed")),
    ("added, mail only", lambda tenants: tenants.append(
        {"id": "mailonly", "name": "M", "domain": "mailonly.example.org", "components": ["mail"]})),
    ("other domain", lambda tenants: tenants[2].__setitem__("domain", "gamma.example.net")),
    ("other components", lambda tenants: tenants[1].__setitem__("components", ["chat"])),
    ("extra domain", lambda tenants: tenants[2].__setitem__("extra_domains", ["g.example.net"])),
    ("removed from the middle", lambda tenants: tenants.pop(1)),
    ("first tenant's domain (the directory suffix)",
     lambda tenants: tenants[0].__setitem__("domain", "acme.example.net")),
]  # fmt: skip


def test_each_kind_of_tenant_edit_renders_what_a_full_render_gives(
    deployment: Deployment, tmp_path: Path
):
    """Edits one after the other, each compared with a render from scratch: the groups kept
    from earlier renders (host groups on their narrow key, role variables merged from tenant
    parts) never drift from what a first render writes."""
    for number, (label, change) in enumerate(EDITS):
        edit_tenants(deployment, change)
        pipeline.render_deployment(deployment)
        scratch = rendered_from_scratch(deployment, tmp_path / str(number))
        assert build_tree(deployment) == scratch, label


def test_compiled_templates_are_kept_in_a_directory_only_the_user_can_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from souverain.render.templating import bytecode_cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert bytecode_cache() is not None
    directory = tmp_path / "cache" / "souverain" / "jinja"
    assert directory.stat().st_mode & 0o777 == 0o700
    directory.chmod(0o777)
    assert bytecode_cache() is None  # others could write compiled code there
    monkeypatch.setenv("XDG_CACHE_HOME", "/proc/no-such-place")
    assert bytecode_cache() is None
