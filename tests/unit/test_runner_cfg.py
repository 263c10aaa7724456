"""The generated ansible.cfg, mitogen detection, the command line, site.yml coverage and the
inventory deployed to."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from souverain.builddir import BuildDir
from souverain.errors import EXIT_DEPLOY_FAILED, DeployError
from souverain.paths import PLAYBOOKS_DIR, PROJECT_ROOT
from souverain.runner import ansible_cfg
from souverain.runner.ansible_cfg import AnsibleSettings, mitogen_wanted
from souverain.runner.playbooks import coverage, deploy_inventory, site_components
from souverain.runner.run import DeployOptions


def parsed(settings: AnsibleSettings) -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read_string(settings.render())
    return parser


def test_generated_cfg_has_the_performance_and_safety_settings(tmp_path):
    cfg = parsed(AnsibleSettings(roles_path=tmp_path / "roles"))
    assert cfg["defaults"]["forks"] == "10"
    assert cfg["defaults"]["roles_path"] == str(tmp_path / "roles")
    assert cfg["defaults"]["interpreter_python"] == "auto_silent"
    assert cfg["defaults"]["callback_result_format"] == "yaml"
    assert cfg["defaults"]["host_key_checking"] == "True"
    assert cfg["ssh_connection"]["pipelining"] == "True"
    assert "ControlPersist=" in cfg["ssh_connection"]["ssh_args"]
    assert "strategy" not in cfg["defaults"]


def test_mitogen_strategy_when_asked(tmp_path):
    cfg = parsed(AnsibleSettings(strategy_dir=tmp_path))
    assert cfg["defaults"]["strategy"] == "mitogen_linear"
    assert cfg["defaults"]["strategy_plugins"] == str(tmp_path)


def test_mitogen_switch(monkeypatch):
    monkeypatch.delenv(ansible_cfg.MITOGEN_ENV, raising=False)
    assert mitogen_wanted(None) is True
    assert mitogen_wanted(False) is False
    monkeypatch.setenv(ansible_cfg.MITOGEN_ENV, "0")
    assert mitogen_wanted(None) is False
    assert mitogen_wanted(True) is True
    assert AnsibleSettings.for_run(mitogen=False).uses_mitogen is False
    monkeypatch.setattr(ansible_cfg, "mitogen_strategy_dir", lambda: None)
    assert AnsibleSettings.for_run(mitogen=True).uses_mitogen is False  # not installed


def test_repository_cfg_mirrors_the_generated_one():
    repo = configparser.ConfigParser()
    repo.read(PROJECT_ROOT / "ansible.cfg")
    generated = parsed(AnsibleSettings())
    for section in ("defaults", "ssh_connection"):
        for key, value in generated[section].items():
            if key not in ("roles_path", "collections_path"):
                assert repo[section][key] == value, (section, key)
    assert repo["defaults"]["roles_path"] == "roles"
    assert repo["defaults"]["collections_path"] == "collections"


def test_vault_password_goes_as_a_file_path(tmp_path):
    password_file = tmp_path / ".vault-password"
    args = DeployOptions(limit="host1", tags=("proxy", "pki"), check=True, diff=True).cmdline(
        password_file
    )
    assert args == [
        "--vault-password-file", str(password_file), "--limit", "host1", "--tags", "proxy,pki",
        "--check", "--diff",
    ]  # fmt: skip


def test_site_imports_the_platform_in_order():
    assert site_components()[:6] == ["base", "pki", "proxy", "web", "postgresql", "redis"]
    for name in site_components():
        assert (PLAYBOOKS_DIR / f"{name}.yml").exists()


def make_project(tmp_path: Path, imported: list[str], roles: list[str]) -> tuple[Path, Path]:
    site = tmp_path / "site.yml"
    site.write_text(
        "---\n"
        + "".join(f"- name: {n}\n  ansible.builtin.import_playbook: {n}.yml\n" for n in imported)
    )
    for role in roles:
        (tmp_path / "roles" / role / "tasks").mkdir(parents=True)
    # Every component has a manifest, with or without a role (chat: a manifest only).
    for order, name in enumerate(["base", "proxy", "mail", "chat"]):
        folder = tmp_path / "roles" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "component.yml").write_text(f"description: {name}\norder: {order}\n")
    return site, tmp_path / "roles"


def test_enabled_component_without_role_is_reported(tmp_path):
    site, roles = make_project(tmp_path, ["base", "proxy"], ["base", "proxy", "mail"])
    result = coverage(["base", "proxy", "chat", "mail"], site, roles)
    assert result.deployed == ["base", "proxy"]
    assert result.not_deployable["chat"] == "not deployable yet: no role"
    assert "not in site.yml" in result.not_deployable["mail"]


def test_site_importing_a_missing_role_is_an_error(tmp_path):
    site, roles = make_project(tmp_path, ["base", "proxy"], ["base"])
    with pytest.raises(DeployError, match="proxy"):
        coverage(["base"], site, roles)


def test_deploying_without_an_inventory_says_to_render(tmp_path):
    with pytest.raises(DeployError) as raised:
        deploy_inventory(BuildDir(tmp_path / "build"))
    assert raised.value.message.startswith(
        f"cannot read the inventory {tmp_path / 'build' / 'inventory' / 'hosts.yml'}: "
    )
    assert raised.value.hint == "Run `souverain render`."
    assert raised.value.exit_code == EXIT_DEPLOY_FAILED
