"""`souverain lab`: throwaway Debian hosts on this machine for trying and testing souverain."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import click
from rich.markup import escape

DEFAULT_NAME = "demo"


def _directory(ctx: click.Context, given: Path | None) -> Path | None:
    """--dir on the subcommand, else the root's -C when it was given."""
    if given is not None:
        return given
    root_dir = ctx.obj if isinstance(ctx.obj, Path) else None
    return root_dir if root_dir is not None and root_dir != Path(".") else None


def _console():  # rich is imported lazily, when a lab command runs
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _say(console, as_json: bool):  # noqa: ANN001 (rich's Console, imported lazily)
    """What a lab command says as it goes: nothing with --json, else one dim line each."""
    if as_json:
        return lambda _line: None
    return lambda line: console.print(f"[dim]lab:[/] {escape(line)}")


dir_option = click.option(
    "-C",
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The lab's deployment directory (default for `up`: ./lab-NAME).",
)
name_option = click.option(
    "--name",
    default=None,
    help="Lab name: 1-8 lowercase letters/digits (default: the directory's lab, or the only one).",
)


@click.group()
def lab() -> None:
    """Throwaway Debian hosts on this machine: systemd as PID 1, reached over SSH.

    Needs root and the Debian packages systemd-container, debootstrap, nftables, iproute2 and
    openssh-client. Everything a lab creates carries the prefix svl-NAME and goes with `lab down`.
    """


@lab.command()
@click.option("--hosts", "host_count", type=int, default=1, show_default=True)
@click.option("--release", type=click.Choice(["trixie", "bookworm"]), default="trixie",
              show_default=True, help="Debian release of the hosts.")  # fmt: skip
@click.option("--name", default=DEFAULT_NAME, show_default=True,
              help="Lab name: 1-8 lowercase letters/digits; two labs need two names.")  # fmt: skip
@click.option("--subnet", default=None, help="IPv4 range (default: 10.231.X.0/24 from the name).")
@click.option("--timeout", "boot_timeout", type=float, default=180, show_default=True,
              help="Seconds to wait for each host to boot and answer SSH.")  # fmt: skip
@dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the lab as JSON.")
@click.pass_context
def up(
    ctx: click.Context,
    host_count: int,
    release: str,
    name: str,
    subnet: str | None,
    boot_timeout: float,
    directory: Path | None,
    as_json: bool,
) -> None:
    """Build (once) the base image, boot the hosts and write a ready deployment directory."""
    from souverain.lab import manager

    console = _console()
    request = manager.UpRequest(
        name=name,
        hosts=host_count,
        release=release,
        directory=_directory(ctx, directory),
        subnet=subnet,
        boot_timeout=boot_timeout,
    )
    say = _say(console, as_json)
    state = manager.up(request, say=say)
    if as_json:
        click.echo(json.dumps(asdict(state), indent=2))
        return
    _, report = manager.status(state.name, probe=False)
    _print_table(state, report)
    rel = os.path.relpath(state.directory)
    if rel.startswith(".."):
        rel = str(state.directory)
    console.print(
        f"\nDeployment directory: [bold]{rel}[/]  (suite.yml, lab/id_ed25519, lab/known_hosts)\n"
        f"  souverain -C {rel} lab ssh {state.hosts[0].name}\n"
        f"  souverain -C {rel} lab down"
    )


@lab.command()
@name_option
@dir_option
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@click.pass_context
def down(ctx: click.Context, name: str | None, directory: Path | None, as_json: bool) -> None:
    """Stop the hosts and remove everything the lab created (safe to repeat, and after a crash)."""
    from souverain.lab import manager

    lab_name = manager.resolve_name(name, _directory(ctx, directory) or Path("."))
    console = _console()
    say = _say(console, as_json)
    removed = manager.down(lab_name, say=say)
    if as_json:
        click.echo(json.dumps({"name": lab_name, "removed": removed}, indent=2))
    elif removed:
        console.print(f"lab {lab_name!r} is down ({len(removed)} things removed)")
    else:
        console.print(f"lab {lab_name!r}: nothing to remove")


@lab.command()
@name_option
@dir_option
@click.argument("host")
@click.option("--timeout", "boot_timeout", type=float, default=180, show_default=True,
              help="Seconds to wait for the new host to boot and answer SSH.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the new host as JSON.")
@click.pass_context
def replace(
    ctx: click.Context,
    name: str | None,
    directory: Path | None,
    host: str,
    boot_timeout: float,
    as_json: bool,
) -> None:
    """Replace HOST by a new, empty host at the same name and address (a lost server).

    Everything on HOST is gone: its files, its firewall, its SSH host keys (lab/known_hosts
    gets the new ones). Deploy again, then `souverain backup restore --host HOST`.
    """
    from souverain.lab import manager

    lab_name = manager.resolve_name(name, _directory(ctx, directory) or Path("."))
    console = _console()
    say = _say(console, as_json)
    replaced = manager.replace(lab_name, host, boot_timeout=boot_timeout, say=say)
    if as_json:
        click.echo(json.dumps(asdict(replaced), indent=2))
        return
    console.print(
        f"{escape(replaced.name)} ({replaced.address}) is a new, empty host "
        f"(up in {replaced.boot_seconds} s)"
    )


@lab.command()
@name_option
@dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_context
def status(ctx: click.Context, name: str | None, directory: Path | None, as_json: bool) -> None:
    """Show the lab's hosts: addresses, whether they run, systemd's state."""
    from souverain.lab import manager

    lab_name = manager.resolve_name(name, _directory(ctx, directory) or Path("."))
    state, report = manager.status(lab_name)
    if as_json:
        payload = {
            "name": state.name,
            "subnet": state.subnet,
            "domain": state.domain,
            "directory": state.directory,
            "phase": state.phase,
            "hosts": [asdict(h) for h in report],
        }
        click.echo(json.dumps(payload, indent=2))
        return
    _print_table(state, report)
    if not all(h.running for h in report):
        raise click.exceptions.Exit(1)


@lab.command(context_settings={"ignore_unknown_options": True})
@name_option
@dir_option
@click.argument("host")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def ssh(
    ctx: click.Context,
    name: str | None,
    directory: Path | None,
    host: str,
    command: tuple[str, ...],
) -> None:
    """Open a shell on HOST (name, number or address), or run COMMAND there (after --)."""
    from souverain.deployment import Deployment
    from souverain.errors import LabError
    from souverain.lab import deploydir, manager
    from souverain.lab import state as lab_state

    lab_name = manager.resolve_name(name, _directory(ctx, directory) or Path("."))
    state = lab_state.load(lab_name)
    if state is None:
        raise LabError(f"no lab named {lab_name!r} on this machine")
    target = state.host(host)
    if target is None:
        known = ", ".join(h.name for h in state.hosts)
        raise LabError(f"lab {lab_name!r} has no host {host!r}", hint=f"its hosts: {known}")
    access = deploydir.access(Deployment.at(state.directory))
    argv = access.argv(target.address, list(command) if command else None)
    os.execvp(argv[0], argv)


@lab.command()
@dir_option
@click.option(
    "--apply-hosts", is_flag=True, help="Also write the suite's names into /etc/hosts (root)."
)
@click.pass_context
def welcome(ctx: click.Context, directory: Path | None, apply_hosts: bool) -> None:
    """After a deploy: a person 'demo' per tenant, the /etc/hosts lines, how to trust the CA and
    where to sign in. The password goes to DIR/lab/demo-TENANT.password (mode 0600), never to
    the screen."""
    from souverain.cli.cmd_user import add
    from souverain.deployment import Deployment
    from souverain.lab import welcome as w
    from souverain.model.loader import load_suite
    from souverain.secrets import SecretStore

    root = ctx.find_root()
    given = _directory(ctx, directory) or Path(".")
    root.obj = given
    deployment = Deployment.at(given)
    suite = load_suite(deployment.suite_file)
    with SecretStore.open(deployment) as store:
        passwords = {t.id: store.get_or_create(w.secret_name(t), "password") for t in suite.tenants}
    for tenant in suite.tenants:
        path = w.password_path(deployment.root, tenant)
        w.write_password(path, passwords[tenant.id])
        ctx.invoke(
            add, tenant=tenant.id, uid=w.DEMO_UID, given_name="Demo", surname="Person",
            email=f"{w.DEMO_UID}@{tenant.domain}", groups=(), password_file=path,
            use_stdin=False, generate_one=False, as_json=False,
        )  # fmt: skip
    if apply_hosts:
        changed = w.apply_hosts(suite)
        click.echo(f"/etc/hosts: {'updated' if changed else 'already up to date'}")
    click.echo("")
    click.echo(w.welcome_text(suite, deployment.root, str(given)), nl=False)


def _print_table(state, report) -> None:  # noqa: ANN001
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"lab {state.name}  {state.subnet}  {state.domain}")
    for column in ("host", "address", "machine", "state", "boot"):
        table.add_column(column)
    for h in report:
        if not h.running:
            shown = "[red]stopped[/]"
        else:
            shown = h.system_state or "running"
            if h.failed_units:
                shown += f" (failed: {', '.join(h.failed_units)})"
        boot = f"{h.boot_seconds:.1f} s" if h.boot_seconds is not None else "-"
        table.add_row(h.name, h.address, h.machine, shown, boot)
    Console().print(table)
