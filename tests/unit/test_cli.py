"""The command line: help for every command, exit statuses, lazy imports, init/validate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from souverain.cli import COMMANDS

PYTHON = sys.executable


def test_root_help_lists_every_command(souverain):
    result = souverain("--help")
    assert result.code == 0
    for name in COMMANDS:
        assert name in result.out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_has_help(souverain, name):
    # Lazy loading hides import errors until a command is called: call each one.
    result = souverain(name, "--help")
    assert result.code == 0, result.err
    assert "Usage:" in result.out


@pytest.mark.parametrize("args", [["--help"], ["-C", "{dir}", "validate"]])
def test_help_and_validate_never_import_ansible(args, deployment_dir: Path):
    argv = [a.replace("{dir}", str(deployment_dir)) for a in args]
    probe = (
        "import sys\n"
        "from souverain.cli import cli\n"
        "from souverain.cli.output import run_cli\n"
        f"code = run_cli(cli, {argv!r})\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('ansible', 'ansible_runner', 'testinfra', 'rich'))\n"
        "print('HEAVY', heavy)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run([PYTHON, "-c", probe], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


def test_unknown_command_is_a_usage_error(souverain):
    result = souverain("frobnicate")
    assert result.code == 2


def test_init_creates_a_valid_deployment(souverain, tmp_path: Path):
    target = tmp_path / "new"
    result = souverain("init", str(target), "--domain", "mairie.example.fr")
    assert result.code == 0, result.err
    assert (target / "suite.yml").exists()
    assert "vault-password" in (target / ".gitignore").read_text()
    assert (target / ".vault-password").stat().st_mode & 0o777 == 0o600
    assert "back it up" in (target / "README.md").read_text().lower()
    result = souverain("-C", str(target), "validate")
    assert result.code == 0, result.err
    assert "valid" in result.out
    again = souverain("init", str(target))
    assert again.code == 2
    assert "already exists" in again.err


def test_validate_reports_located_problems_and_exit_2(souverain, deployment_dir: Path):
    suite = deployment_dir / "suite.yml"
    suite.write_text(suite.read_text().replace("hosting:", "hostin:"))
    result = souverain("-C", str(deployment_dir), "validate")
    assert result.code == 2
    assert "suite.yml:8:1: [hostin] unknown setting 'hostin'" in result.err
    assert "did you mean 'hosting'?" in result.err
    assert "Traceback" not in result.err
    as_json = souverain("-C", str(deployment_dir), "validate", "--json")
    assert as_json.code == 2
    payload = json.loads(as_json.out)
    assert payload["ok"] is False
    assert payload["problems"][0]["path"] in {"hostin", "hosting"}


def test_validate_in_an_empty_directory(souverain, tmp_path: Path):
    result = souverain("-C", str(tmp_path), "validate")
    assert result.code == 2
    assert "no suite.yml here" in result.err
    assert list(tmp_path.iterdir()) == []


def test_console_script_runs(tmp_path: Path):
    result = subprocess.run(
        [PYTHON, "-m", "souverain", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "souverain" in result.stdout


def test_info_written_to_a_pipe_keeps_every_url_whole(tmp_path, souverain, monkeypatch):
    """Piped or redirected, `info` prints each URL whole, never cut to 80 columns."""
    from souverain.scaffold import init_deployment

    monkeypatch.delenv("COLUMNS", raising=False)
    target = tmp_path / "suite"
    init_deployment(target, domain="communaute-de-communes.departement.example.org", name="cc")
    listed = json.loads(souverain("-C", str(target), "info", "--json").out)
    urls = [
        value
        for tenant in listed["tenants"]
        for service in tenant["services"]
        for value in service.values()
        if isinstance(value, str) and value.startswith("https://")
    ]
    assert any(len(url) > 80 for url in urls)
    result = souverain("-C", str(target), "info")
    assert result.code == 0, result.err
    for url in urls:
        assert url in result.out
