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


def test_list_shows_names_with_rich_markup_as_written(souverain, deployment_dir: Path, monkeypatch):
    """A person's name is data: `[/b]` or `[bold]` in it is printed, never read as markup (an
    unbalanced closing tag made rich raise, and `user list` crash)."""
    from contextlib import contextmanager

    from souverain.cli import cmd_user
    from souverain.users.people import Person

    people = [
        Person("ada", "Ada [/b]", "[bold]Lovelace", "ada@example.org", ("[/]staff",)),
        Person("noel", "Noël", "Martin", "noel@example.org", locked=True),
    ]

    class Directory:
        def people(self, tenant: str) -> list[Person]:
            assert tenant == "acme"
            return people

    @contextmanager
    def fake_open(_ctx, _tenant):
        yield None, Directory()

    monkeypatch.setattr(cmd_user, "_open", fake_open)
    monkeypatch.setenv("COLUMNS", "200")
    outcome = souverain("-C", str(deployment_dir), "user", "list", "--tenant", "acme")
    assert outcome.code == 0, outcome.err
    assert "Ada [/b] [bold]Lovelace" in outcome.out
    assert "[/]staff" in outcome.out
    assert "disabled" in outcome.out
