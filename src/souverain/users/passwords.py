"""A person's password: from a prompt, a file or stdin, or generated. Never from argv."""

from __future__ import annotations

import secrets
import string
import sys
from pathlib import Path

from souverain.errors import UsageError

# Letters, digits and a few punctuation marks that survive copy and paste and every shell.
ALPHABET = string.ascii_letters + string.digits + "-_.+!"
GENERATED_LENGTH = 20


def generate(length: int = GENERATED_LENGTH) -> str:
    """A random password with at least one lowercase, one uppercase letter and one digit."""
    while True:
        value = "".join(secrets.choice(ALPHABET) for _ in range(length))
        if (
            any(c.islower() for c in value)
            and any(c.isupper() for c in value)
            and any(c.isdigit() for c in value)
        ):
            return value


def check(password: str, min_length: int) -> str:
    if len(password) < min_length:
        raise UsageError(
            f"the password is {len(password)} characters long; the directory's policy "
            f"needs at least {min_length} (components.directory.password_min_length)"
        )
    if any(ord(char) < 32 for char in password):
        raise UsageError("the password contains control characters")
    return password


def from_file(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read the password file {path}: {error.strerror}") from None
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise UsageError(f"the password file {path} is empty")
    return lines[0]


def from_stdin() -> str:
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise UsageError("no password on standard input")
    return line


def obtain(
    *,
    password_file: Path | None,
    use_stdin: bool,
    generate_one: bool,
    min_length: int,
    prompt_for: str,
) -> tuple[str, bool]:
    """The password and whether it was generated (then the caller prints it, once)."""
    chosen = [flag for flag in (password_file is not None, use_stdin, generate_one) if flag]
    if len(chosen) > 1:
        raise UsageError("choose one of --password-file, --password-stdin and --generate")
    if generate_one:
        return generate(max(GENERATED_LENGTH, min_length)), True
    if password_file is not None:
        return check(from_file(password_file), min_length), False
    if use_stdin:
        return check(from_stdin(), min_length), False
    if not sys.stdin.isatty():
        raise UsageError(
            "no terminal to ask for the password",
            hint="Use --password-stdin, --password-file FILE or --generate.",
        )
    import click

    value = click.prompt(
        f"Password for {prompt_for}", hide_input=True, confirmation_prompt=True, err=True
    )
    return check(value, min_length), False
