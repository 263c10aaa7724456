"""How the CLI reports errors: one clear message and a distinct exit status, never a traceback."""

from __future__ import annotations

import json
import sys

import click

from souverain.errors import EXIT_BAD_INPUT, ConfigError, Problem, SouverainError

EXIT_INTERRUPTED = 130


def print_problems(problems: list[Problem], *, as_json: bool = False) -> None:
    if as_json:
        payload = {"ok": False, "problems": [p.as_dict() for p in problems]}
        click.echo(json.dumps(payload, indent=2))
        return
    for problem in problems:
        where = problem.location()
        field = f" [{problem.path}]" if problem.path else ""
        click.echo(f"{where}:{field} {problem.message}", err=True)
        if problem.hint:
            click.echo(f"    hint: {problem.hint}", err=True)


def report_error(error: SouverainError, *, as_json: bool = False) -> int:
    if isinstance(error, ConfigError):
        print_problems(error.problems, as_json=as_json)
        count = len(error.problems)
        if not as_json:
            plural = "s" if count != 1 else ""
            click.echo(f"error: {count} problem{plural}, nothing was written.", err=True)
        return error.exit_code
    if as_json:
        click.echo(json.dumps({"ok": False, "error": error.message, "hint": error.hint}, indent=2))
    else:
        click.echo(f"error: {error.message}", err=True)
        if error.hint:
            click.echo(f"    hint: {error.hint}", err=True)
    return error.exit_code


def run_cli(group: click.Group, args: list[str] | None = None) -> int:
    """Run the click group and turn every known failure into a message and an exit status."""
    argv = sys.argv[1:] if args is None else args
    try:
        # With standalone_mode=False, click returns the status of ctx.exit(N) instead of
        # exiting, and the command's return value otherwise.
        result = group.main(args=argv, prog_name="souverain", standalone_mode=False)
    except SouverainError as error:
        return report_error(error, as_json="--json" in argv)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:
        error.show()
        return EXIT_BAD_INPUT
    except click.exceptions.Abort:
        click.echo("interrupted: nothing was left half-written; run the command again.", err=True)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        click.echo("interrupted: nothing was left half-written; run the command again.", err=True)
        return EXIT_INTERRUPTED
    return result if isinstance(result, int) else 0
