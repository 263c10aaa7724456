"""Shared test helpers: a fresh deployment directory and an in-process CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _no_vault_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOUVERAIN_VAULT_PASSWORD_FILE", raising=False)


@dataclass
class Outcome:
    code: int
    out: str
    err: str


@pytest.fixture
def souverain(capsys: pytest.CaptureFixture[str]):
    """Run `souverain ARGS` in this process, as the console script does."""
    from souverain.cli import cli
    from souverain.cli.output import run_cli

    def invoke(*args: str) -> Outcome:
        capsys.readouterr()
        code = run_cli(cli, list(args))
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def deployment_dir(tmp_path: Path) -> Path:
    """A deployment made by `souverain init`, as a user would start."""
    from souverain.deployment import Deployment
    from souverain.scaffold import init_deployment
    from souverain.secrets import ensure_password_file

    target = tmp_path / "suite"
    init_deployment(target, domain="acme.example.org", name="acme")
    ensure_password_file(Deployment.at(target))
    return target


def pytest_report_header(config: pytest.Config) -> str:
    return f"souverain tests, CI={os.environ.get('CI', '')!r}"
