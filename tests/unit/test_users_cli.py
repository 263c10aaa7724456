"""`souverain user` refuses bad input with exit status 2 before it connects anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize("command", ["add", "remove", "list", "passwd", "import"])
def test_help_of_every_user_command(souverain, command):
    outcome = souverain("user", command, "--help")
    assert outcome.code == 0
    assert "--tenant" in outcome.out


def test_passwords_are_never_options_of_the_command_line(souverain):
    for command in ("add", "passwd"):
        help_text = souverain("user", command, "--help").out
        assert "--password " not in help_text
        assert "--password-file" in help_text and "--password-stdin" in help_text


def test_unknown_tenant(souverain, deployment_dir: Path):
    outcome = souverain(
        "-C", str(deployment_dir), "user", "add", "--tenant", "nope", "alice",
        "--given-name", "Alice", "--surname", "Martin", "--email", "alice@example.org",
        "--generate",
    )  # fmt: skip
    assert outcome.code == 2
    assert "unknown tenant 'nope'" in outcome.err
    assert "acme" in outcome.err


def test_malformed_email_names_tenant_and_field(souverain, deployment_dir: Path):
    outcome = souverain(
        "-C", str(deployment_dir), "user", "add", "--tenant", "acme", "alice",
        "--given-name", "Alice", "--surname", "Martin", "--email", "alice-at-example",
        "--generate",
    )  # fmt: skip
    assert outcome.code == 2
    assert "tenant acme" in outcome.err
    assert "email" in outcome.err


def test_remove_refuses_contradictory_options(souverain, deployment_dir: Path):
    outcome = souverain(
        "-C", str(deployment_dir), "user", "remove", "--tenant", "acme", "alice",
        "--disable-only", "--purge",
    )  # fmt: skip
    assert outcome.code == 2
