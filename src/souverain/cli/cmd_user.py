"""`souverain user`: a tenant's people in the suite's directory (LDAPS, as its administrator)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.markup import escape

from souverain.cli.common import console, current_deployment, json_option, print_json

if TYPE_CHECKING:
    from souverain.model.suite import Suite
    from souverain.users.directory import Directory
    from souverain.users.people import Person

F = TypeVar("F", bound=Callable[..., Any])


def tenant_option(function: F) -> F:
    return click.option(
        "--tenant", "-t", required=True, metavar="ID", help="The tenant (its id in suite.yml)."
    )(function)


def password_options(function: F) -> F:
    function = click.option(
        "--generate", "generate_one", is_flag=True, help="Generate a password and print it once."
    )(function)
    function = click.option(
        "--password-stdin", "use_stdin", is_flag=True, help="Read the password from stdin."
    )(function)
    return click.option(
        "--password-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Read the password from the first line of this file.",
    )(function)


@click.group()
def user() -> None:
    """Manage a tenant's people in the directory.

    Every command talks to the directory over LDAPS, checking its certificate against the
    deployment's CA, as the directory administrator whose password is in the secrets store.
    Passwords come from a prompt, --password-file, --password-stdin or --generate, never
    from the command line.
    """


def _check_tenant(ctx: click.Context, tenant_id: str) -> None:
    """Fail early, before anything else is checked, when the tenant does not exist."""
    from souverain.model.loader import load_suite
    from souverain.tenants import find_tenant

    find_tenant(load_suite(current_deployment(ctx).suite_file), tenant_id)


@contextmanager
def _open(ctx: click.Context, tenant_id: str) -> Iterator[tuple[Suite, Directory]]:
    from souverain.model.loader import load_suite
    from souverain.secrets import SecretStore
    from souverain.tenants import find_tenant
    from souverain.users.directory import ADMIN_SECRET, Target, connect

    deployment = current_deployment(ctx)
    suite = load_suite(deployment.suite_file)
    find_tenant(suite, tenant_id)
    target = Target.of(suite, deployment)
    password = SecretStore.open(deployment).get(ADMIN_SECRET)
    with connect(target, password) as directory:
        yield suite, directory


def _usage_problems(tenant: str, problems: list[Any]) -> None:
    from souverain.errors import UsageError

    if problems:
        details = "; ".join(str(problem) for problem in problems)
        raise UsageError(f"tenant {tenant}: {details}")


def _conflict(
    directory: Directory, tenant: str, person: Person
) -> tuple[Person | None, str | None]:
    """The existing entry for person.uid (if any) and why adding person would conflict."""
    existing = directory.person(tenant, person.uid)
    if existing is not None:
        same = (existing.given_name, existing.surname, existing.email) == (
            person.given_name,
            person.surname,
            person.email,
        )
        if not same:
            return existing, (
                f"uid {person.uid!r} already exists in tenant {tenant} with other details "
                f"({existing.display_name} <{existing.email}>)"
            )
        return existing, None
    others = [uid for uid in directory.uids_with_email(tenant, person.email) if uid != person.uid]
    if others:
        return None, f"email {person.email!r} is already used by {others[0]!r} in tenant {tenant}"
    return None, None


@user.command()
@tenant_option
@click.argument("uid")
@click.option("--given-name", required=True, help="Given (first) name.")
@click.option("--surname", required=True, help="Surname (family name).")
@click.option("--email", required=True, help="Email address.")
@click.option(
    "--group", "groups", multiple=True, metavar="NAME", help="A group to join (repeatable)."
)
@password_options
@json_option
@click.pass_context
def add(
    ctx: click.Context,
    tenant: str,
    uid: str,
    given_name: str,
    surname: str,
    email: str,
    groups: tuple[str, ...],
    password_file: Path | None,
    use_stdin: bool,
    generate_one: bool,
    as_json: bool,
) -> None:
    """Add the person UID to a tenant (nothing changes if they exist with the same details)."""
    from souverain.errors import UsageError
    from souverain.users.people import check_person, split_groups

    _check_tenant(ctx, tenant)
    wanted = [g for value in groups for g in split_groups(value)]
    person, problems = check_person(uid, given_name, surname, email, wanted)
    _usage_problems(tenant, problems)
    assert person is not None
    with _open(ctx, tenant) as (suite, directory):
        existing, conflict = _conflict(directory, tenant, person)
        if conflict:
            raise UsageError(
                conflict, hint="Choose another uid or email, or remove the person first."
            )
        if existing is not None:
            joined = [g for g in person.groups if directory.join(tenant, uid, g)]
            status = "groups-updated" if joined else "unchanged"
            _report(as_json, {"tenant": tenant, "uid": uid, "status": status, "joined": joined})
            return
        password, generated = _new_password(
            suite, tenant, uid, password_file, use_stdin, generate_one
        )
        directory.add(tenant, person, password)
    _report_password(as_json, tenant, uid, "added", password if generated else None)


def _report(as_json: bool, payload: dict[str, Any]) -> None:
    if as_json:
        print_json(payload)
        return
    words = {
        "added": "added",
        "unchanged": "already present with these details: nothing changed",
        "groups-updated": f"already present; joined {', '.join(payload.get('joined', []))}",
        "removed": "disabled, then removed from the directory",
        "disabled": "disabled (kept in the directory)",
        "absent": "not in the directory: nothing to do",
        "password-set": "password changed",
    }
    status = payload["status"]
    click.echo(f"{payload['uid']} (tenant {payload['tenant']}): {words.get(status, status)}")
    if "password" in payload:
        click.echo(f"generated password (shown once): {payload['password']}")
    for note in payload.get("notes", []):
        click.echo(f"note: {note}")


@user.command()
@tenant_option
@click.argument("uid")
@click.option("--disable-only", is_flag=True, help="Lock the account but keep it in the directory.")
@click.option(
    "--purge",
    is_flag=True,
    help="Also delete the person's data in other components (mailbox, files, chat account).",
)
@json_option
@click.pass_context
def remove(
    ctx: click.Context, tenant: str, uid: str, disable_only: bool, purge: bool, as_json: bool
) -> None:
    """Disable the person UID, then delete them from the directory.

    Their data in other components (mail, files, chat) is kept unless --purge is given.
    """
    from souverain.errors import UsageError

    if disable_only and purge:
        raise UsageError("--disable-only keeps the person: it cannot be combined with --purge")
    with _open(ctx, tenant) as (_suite, directory):
        person = directory.person(tenant, uid)
        if person is None:
            _report(as_json, {"tenant": tenant, "uid": uid, "status": "absent"})
            return
        if not person.locked:
            directory.lock(tenant, uid)
        if disable_only:
            _report(as_json, {"tenant": tenant, "uid": uid, "status": "disabled"})
            return
        directory.delete(tenant, person)
    notes = []
    if purge:
        notes.append(
            "no deployed component keeps per-person data in this version of souverain: "
            "nothing else to delete"
        )
    else:
        notes.append("data in other components is kept (use --purge to delete it)")
    _report(as_json, {"tenant": tenant, "uid": uid, "status": "removed", "notes": notes})


@user.command(name="list")
@tenant_option
@json_option
@click.pass_context
def list_(ctx: click.Context, tenant: str, as_json: bool) -> None:
    """List the tenant's people and their groups."""
    with _open(ctx, tenant) as (_suite, directory):
        people = directory.people(tenant)
    if as_json:
        print_json({"tenant": tenant, "people": [p.as_dict() for p in people]})
        return
    from rich.table import Table

    table = Table(title=f"Tenant {tenant}: {len(people)} people", title_justify="left")
    for column in ("uid", "name", "email", "groups", "state"):
        table.add_column(column)
    for person in people:
        table.add_row(
            escape(person.uid),
            escape(person.display_name),
            escape(person.email),
            escape(", ".join(person.groups)),
            "disabled" if person.locked else "active",
        )
    console().print(table)


@user.command()
@tenant_option
@click.argument("uid")
@password_options
@json_option
@click.pass_context
def passwd(
    ctx: click.Context,
    tenant: str,
    uid: str,
    password_file: Path | None,
    use_stdin: bool,
    generate_one: bool,
    as_json: bool,
) -> None:
    """Set the password of the person UID."""
    from souverain.errors import UsageError

    with _open(ctx, tenant) as (suite, directory):
        if directory.person(tenant, uid) is None:
            raise UsageError(f"no person {uid!r} in tenant {tenant}")
        password, generated = _new_password(
            suite, tenant, uid, password_file, use_stdin, generate_one
        )
        directory.set_password(tenant, uid, password)
    _report_password(as_json, tenant, uid, "password-set", password if generated else None)


@user.command(name="import")
@tenant_option
@click.argument("csv_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@json_option
@click.pass_context
def import_(ctx: click.Context, tenant: str, csv_file: Path, as_json: bool) -> None:
    """Add the people of a CSV file (columns uid, given_name, surname, email, groups, password).

    Every line is checked first, against the file and the directory; if any line is wrong,
    each problem is reported with its line and field and nothing is written. People already
    present with the same details are left as they are. Lines without a password get a
    generated one, printed once.
    """
    from souverain.errors import ConfigError, Problem
    from souverain.users import passwords
    from souverain.users.people import FieldProblem, read_csv

    try:
        text = csv_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        from souverain.errors import UsageError

        raise UsageError(f"cannot read {csv_file}: {error}") from None
    parsed = read_csv(text)

    def fail(problems: list[FieldProblem]) -> None:
        raise ConfigError(
            [
                Problem(
                    message=f"tenant {tenant}: {p.message}",
                    file=str(csv_file),
                    line=p.line,
                    path=p.field,
                )
                for p in problems
            ]
        )

    with _open(ctx, tenant) as (suite, directory):
        min_length = suite.components.directory.password_min_length
        problems = list(parsed.problems)
        for row in parsed.rows:
            if row.password is not None and len(row.password) < min_length:
                problems.append(
                    FieldProblem("password", f"shorter than {min_length} characters", row.line)
                )
        if problems:
            fail(sorted(problems, key=lambda p: p.line or 0))
        plan = []
        for row in parsed.rows:
            existing, conflict = _conflict(directory, tenant, row.person)
            if conflict:
                problems.append(FieldProblem("uid" if existing else "email", conflict, row.line))
            plan.append((row, existing))
        if problems:
            fail(problems)
        results = []
        failures: list[FieldProblem] = []
        for row, existing in plan:
            entry: dict[str, Any] = {"line": row.line, "uid": row.person.uid}
            try:
                if existing is not None:
                    joined = [
                        g for g in row.person.groups if directory.join(tenant, row.person.uid, g)
                    ]
                    entry["status"] = "groups-updated" if joined else "unchanged"
                else:
                    password = row.password or passwords.generate(
                        max(passwords.GENERATED_LENGTH, min_length)
                    )
                    directory.add(tenant, row.person, password)
                    entry["status"] = "added"
                    if row.password is None:
                        entry["password"] = password
            except Exception as error:
                message = getattr(error, "message", str(error))
                failures.append(FieldProblem("line", message, row.line))
                entry["status"] = "failed"
                entry["error"] = message
            results.append(entry)
    if as_json:
        print_json({"tenant": tenant, "file": str(csv_file), "people": results})
    else:
        from rich.table import Table

        table = Table(title=f"Import into tenant {tenant}", title_justify="left")
        for column in ("line", "uid", "status", "generated password (shown once)"):
            table.add_column(column)
        for entry in results:
            table.add_row(
                str(entry["line"]),
                escape(entry["uid"]),
                escape(
                    entry["status"] if entry["status"] != "failed" else f"failed: {entry['error']}"
                ),
                entry.get("password", ""),
            )
        console().print(table)
    if failures:
        fail(failures)


def _new_password(
    suite: Any,
    tenant: str,
    uid: str,
    password_file: Any,
    use_stdin: bool,
    generate_one: bool,
) -> tuple[str, bool]:
    """A password from the file, stdin, a prompt or generated; (password, generated)."""
    from souverain.users import passwords

    return passwords.obtain(
        password_file=password_file,
        use_stdin=use_stdin,
        generate_one=generate_one,
        min_length=suite.components.directory.password_min_length,
        prompt_for=f"{uid} (tenant {tenant})",
    )


def _report_password(
    as_json: bool, tenant: str, uid: str, status: str, generated: str | None
) -> None:
    """Report the change; a generated password is shown this once, never stored in clear."""
    payload: dict[str, Any] = {"tenant": tenant, "uid": uid, "status": status}
    if generated is not None:
        payload["password"] = generated
    _report(as_json, payload)
