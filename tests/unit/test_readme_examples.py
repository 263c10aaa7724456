"""The YAML examples of the README are what the code accepts: a reader can copy them.

The suite.yml example must validate as a whole and its hosts be what `init --layout split`
writes; the excerpt of a component manifest must be a valid manifest and say what the real
one says (every entry it shows is in the real file); the tenant example runs against a suite
made by `souverain init` and adds the lines the README shows.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from souverain.components.manifest import Manifest
from souverain.deployment import Deployment
from souverain.model.loader import load_suite
from souverain.pki import Pki

PROJECT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def yaml_blocks() -> list[str]:
    return BLOCK.findall((PROJECT / "README.md").read_text())


def blocks(language: str) -> list[str]:
    pattern = re.compile(rf"^```{language}\n(.*?)^```", re.MULTILINE | re.DOTALL)
    return pattern.findall((PROJECT / "README.md").read_text())


def test_the_readme_has_its_examples():
    blocks = yaml_blocks()
    assert any("tenants:" in block for block in blocks)
    assert any("openings:" in block for block in blocks)


def test_the_readme_suite_validates(tmp_path: Path):
    [suite_text] = [block for block in yaml_blocks() if "tenants:" in block]
    path = tmp_path / "suite.yml"
    path.write_text(suite_text)
    # The files it names are the reader's own (a corporate CA): here, a CA made for the test.
    ca_pem = Pki.load_or_create(Deployment.at(tmp_path / "ca"), b"test", "Corporate").ca_pem
    for name in yaml.safe_load(suite_text).get("trust", {}).get("extra_ca", []):
        (tmp_path / name).write_bytes(ca_pem)
    suite = load_suite(path)
    assert len(suite.hosts) == 4


def hosts_part(text: str) -> str:
    """From `hosts:` to the blank line after the last host."""
    [part] = re.findall(r"^hosts:\n.*?(?=^$)", text, re.MULTILINE | re.DOTALL)
    return part


def test_the_readme_hosts_are_what_init_split_writes(tmp_path: Path):
    """The README says `init --domain mairie-exemple.fr --layout split` writes its hosts."""
    from souverain.scaffold import init_deployment

    [suite_text] = [block for block in yaml_blocks() if "tenants:" in block]
    readme = (PROJECT / "README.md").read_text()
    assert "`souverain init DIR --domain mairie-exemple.fr --layout split` writes" in readme
    deployment = init_deployment(
        tmp_path / "d", domain="mairie-exemple.fr", name="mairie", layout="split"
    )
    assert "name: apps" in hosts_part(suite_text)
    assert hosts_part(suite_text) == hosts_part(deployment.suite_file.read_text())


def test_the_readme_manifest_excerpt_is_the_real_one():
    [excerpt_text] = [block for block in yaml_blocks() if "openings:" in block]
    excerpt = yaml.safe_load(excerpt_text)
    Manifest.model_validate(excerpt)
    real = yaml.safe_load((PROJECT / "roles" / "mail" / "component.yml").read_text())
    for key, value in excerpt.items():
        if isinstance(value, list):
            assert all(item in real[key] for item in value), key
        else:
            assert real[key] == value, key


def test_the_readme_backup_example_adds_to_the_readme_suite(tmp_path: Path):
    """The backup section's excerpt, added to the README suite: valid, the repositories on the
    new host, an agent on every host holding data."""
    [suite_text] = [block for block in yaml_blocks() if "tenants:" in block]
    [excerpt_text] = [
        block for block in yaml_blocks() if "backup:" in block and "tenants:" not in block
    ]
    suite = yaml.safe_load(suite_text)
    excerpt = yaml.safe_load(excerpt_text)
    suite["hosts"] += excerpt["hosts"]
    suite["components"].update(excerpt["components"])
    ca_pem = Pki.load_or_create(Deployment.at(tmp_path / "ca"), b"test", "Corporate").ca_pem
    for name in suite.get("trust", {}).get("extra_ca", []):
        (tmp_path / name).write_bytes(ca_pem)
    path = tmp_path / "suite.yml"
    path.write_text(yaml.safe_dump(suite))
    loaded = load_suite(path)
    assert loaded.listed_placement["backup"] == ["vault"]
    assert loaded.placement["backup"] == ["front", "mail", "data", "apps", "vault"]


def test_the_readme_tenant_example_adds_the_lines_it_shows(tmp_path: Path, souverain):
    """`souverain tenant add ...` as the README writes it, on a suite `init` made; the lines
    it adds are the README's; the next command is the tenant's deploy, as `tenant add` says
    (not run here: the e2e test_tenant_lifecycle runs it)."""
    from souverain.cli import COMMANDS
    from souverain.scaffold import init_deployment
    from tests.unit.textdiff import added_lines

    [commands] = [block for block in blocks("sh") if "souverain tenant add" in block]
    [shown] = [block for block in blocks("text") if "- id: mairie-b" in block]
    add, deploy = [shlex.split(line) for line in commands.splitlines()]
    assert add[:3] == ["souverain", "tenant", "add"]
    assert deploy == ["souverain", "deploy", "--tenant", "mairie-b"] and "deploy" in COMMANDS
    deployment = init_deployment(tmp_path / "d", domain="mairie-exemple.fr", name="mairie")
    before = deployment.suite_file.read_text()
    result = souverain("-C", str(deployment.root), *add[1:])
    assert result.code == 0, result.err
    assert "".join(added_lines(before, deployment.suite_file.read_text())) == shown
    suite = load_suite(deployment.suite_file)
    assert suite.tenant_components(suite.tenants[-1]) == ["mail", "drive"]
    assert f"`{' '.join(deploy)}`" in result.out


def test_the_readme_suspension_commands_run_and_name_the_deploy_they_print(
    tmp_path: Path, souverain
):
    """`tenant suspend` and `resume` as the README writes them, on a suite with the README's
    tenant; the deploy it shows is the one the commands print (the e2e test runs that one)."""
    from souverain.cli.cmd_tenant import SUSPENSION_TAGS
    from souverain.scaffold import init_deployment

    [commands] = [block for block in blocks("sh") if "souverain tenant suspend" in block]
    lines = [shlex.split(line) for line in commands.splitlines()]
    deploys = [line for line in lines if line[:2] == ["souverain", "deploy"]]
    assert deploys == [["souverain", "deploy", "--tags", SUSPENSION_TAGS]] * 2
    deployment = init_deployment(tmp_path / "d", domain="mairie-exemple.fr", name="mairie")
    added = souverain(
        "-C", str(deployment.root), "tenant", "add", "mairie-b", "--domain", "mairie-b.example.fr"
    )
    assert added.code == 0, added.err
    before = deployment.suite_file.read_bytes()
    for line in lines:
        if line[:2] == ["souverain", "tenant"]:
            result = souverain("-C", str(deployment.root), *line[1:])
            assert result.code == 0, result.err
            assert " ".join(deploys[0]) in result.out
            if line[2] == "suspend":
                assert load_suite(deployment.suite_file).tenants[-1].suspended
    assert deployment.suite_file.read_bytes() == before


def test_the_readme_export_command_names_a_tenant_and_asks_for_a_deploy_first(
    tmp_path: Path, souverain
):
    """`tenant export` as the README writes it, on a suite with the README's tenant that was
    never deployed: a usage error saying what to do (tests/e2e/test_backup.py exports a
    deployed tenant and opens the archives)."""
    from souverain.scaffold import init_deployment

    [command] = [block for block in blocks("sh") if "souverain tenant export" in block]
    words = shlex.split(command.strip())
    assert words[:3] == ["souverain", "tenant", "export"] and len(words) == 4
    deployment = init_deployment(tmp_path / "d", domain="mairie-exemple.fr", name="mairie")
    added = souverain("-C", str(deployment.root), "tenant", "add", words[3], "--domain",
                      "mairie-b.example.fr")  # fmt: skip
    assert added.code == 0, added.err
    result = souverain("-C", str(deployment.root), *words[1:])
    assert result.code == 2, result.out + result.err
    assert "holds no build" in result.err and "souverain deploy" in result.err
    assert not (deployment.root / "exports").exists()
    unknown = souverain("-C", str(deployment.root), "tenant", "export", "mairie-c")
    assert unknown.code == 2 and "unknown tenant 'mairie-c'" in unknown.err, unknown.err


def test_the_readme_removal_commands_run_and_name_the_deploy_they_print(tmp_path: Path, souverain):
    """`tenant remove` as the README writes it, on a suite with the README's tenant; the
    deploy the README shows is the one the command prints (tests/e2e/test_tenant_lifecycle.py
    runs that deploy on a lab)."""
    from souverain.scaffold import init_deployment

    [commands] = [block for block in blocks("sh") if "souverain tenant remove" in block]
    remove, deploy = (shlex.split(line) for line in commands.strip().splitlines())
    assert remove[:3] == ["souverain", "tenant", "remove"]
    assert deploy == ["souverain", "deploy", "--remove-tenant", remove[3]]
    deployment = init_deployment(tmp_path / "d", domain="mairie-exemple.fr", name="mairie")
    added = souverain("-C", str(deployment.root), "tenant", "add", remove[3], "--domain",
                      "mairie-b.example.fr")  # fmt: skip
    assert added.code == 0, added.err
    result = souverain("-C", str(deployment.root), *remove[1:])
    assert result.code == 0, result.err
    assert " ".join(deploy) in result.out
    assert remove[3] not in [tenant.id for tenant in load_suite(deployment.suite_file).tenants]
