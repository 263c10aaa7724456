"""deploy, verify and up load (lazily) and document their options."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from souverain.cli import cli


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("deploy", ["--limit", "--tags", "--check", "--diff", "--json", "--no-mitogen"]),
        ("verify", ["--json", "--junit"]),
        ("up", ["--limit", "--tags", "--json", "--junit", "--no-mitogen"]),
    ],
)
def test_help(command, options):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0, result.output
    for option in options:
        assert option in result.output


def test_deploy_without_suite_fails_cleanly(tmp_path):
    result = CliRunner().invoke(cli, ["-C", str(tmp_path), "deploy"])
    assert result.exit_code != 0
