"""`souverain backup`: run, list, check and restore the suite's encrypted archives."""

from __future__ import annotations

import datetime
import sys
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape

from souverain.cli.cmd_deploy import exit_with
from souverain.cli.common import console, current_deployment, json_option, print_json
from souverain.errors import EXIT_DEPLOY_FAILED, EXIT_FINDINGS, UsageError

if TYPE_CHECKING:
    from souverain.backup.agents import AgentResult

COMPONENTS = ("mail", "chat", "directory", "drive")


@click.group()
def backup() -> None:
    """Back up and restore the suite's data (BorgBackup driven by borgmatic).

    Every host holding data keeps one encrypted archive per tenant and per run, in a
    repository of its own on the host that lists `backup` (append-only: a host cannot
    delete its history). A daily timer runs the backup on each host; these commands run it
    now, list and check the archives, and put a tenant's data back.
    """


def _say(as_json: bool) -> Any:
    out = console()

    def say(message: str) -> None:
        if not as_json:
            out.print(message, style="dim", markup=False, highlight=False)

    return say


def _summary(results: list[AgentResult]) -> dict[str, Any]:
    return {
        "ok": all(result.ok for result in results),
        "hosts": {result.host: result.report for result in results},
    }


def _show_failures(results: list[AgentResult]) -> None:
    out = console()
    for result in results:
        if not result.ok:
            out.print(f"[bold red]{result.host}[/]: {escape(result.problem())}")


@backup.command("run")
@click.option("--host", "hosts", multiple=True, metavar="HOST", help="Only this host (repeat).")
@click.option("--tenant", "tenants", multiple=True, metavar="ID", help="Only this tenant (repeat).")
@json_option
@click.pass_context
def run(
    ctx: click.Context, hosts: tuple[str, ...], tenants: tuple[str, ...], as_json: bool
) -> None:
    """Back up now: on each host, dumps, then one archive per tenant (same time everywhere).

    Exit status 3 when a host's backup failed (the others still ran).
    """
    from rich.table import Table

    from souverain.backup.agents import open_agents
    from souverain.backup.operations import run_backup

    with open_agents(current_deployment(ctx)) as agents:
        results = run_backup(agents, hosts=list(hosts), tenants=list(tenants), say=_say(as_json))
    summary = _summary(results)
    if as_json:
        print_json(summary)
    else:
        table = Table(title="backup run")
        for column in ("host", "tenant", "archive", "files", "new data", "seconds"):
            table.add_column(column)
        for result in results:
            for tenant, archive in (result.report.get("archives") or {}).items():
                table.add_row(
                    result.host, tenant, escape(archive["name"]), str(archive["files"]),
                    _size(archive["deduplicated_size"]), str(archive["seconds"]),
                )  # fmt: skip
        console().print(table)
        _show_failures(results)
    exit_with(0 if summary["ok"] else EXIT_DEPLOY_FAILED)


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


@backup.command("list")
@click.option("--tenant", metavar="ID", help="Only this tenant's archives.")
@json_option
@click.pass_context
def list_command(ctx: click.Context, tenant: str | None, as_json: bool) -> None:
    """List the archives each host keeps, per tenant, and each host's last backup."""
    from rich.table import Table

    from souverain.backup.agents import open_agents
    from souverain.backup.operations import list_archives

    with open_agents(current_deployment(ctx)) as agents:
        results = list_archives(agents, tenant)
    summary = _summary(results)
    if as_json:
        print_json(summary)
    else:
        table = Table(title="archives")
        for column in ("host", "tenant", "archives", "latest", "last run"):
            table.add_column(column)
        for result in results:
            last = result.report.get("last_run") or {}
            last_text = (
                f"{last.get('time', 'never')} {'ok' if last.get('ok') else 'FAILED'}"
                if last
                else "never"
            )
            for name, archives in (result.report.get("tenants") or {}).items():
                latest = archives[-1]["name"] if archives else "none"
                table.add_row(result.host, name, str(len(archives)), escape(latest), last_text)
        console().print(table)
        _show_failures(results)
    exit_with(0 if summary["ok"] else EXIT_DEPLOY_FAILED)


@backup.command("check")
@json_option
@click.pass_context
def check(ctx: click.Context, as_json: bool) -> None:
    """Check every repository: segments and indexes, the archives' metadata, and a trial
    extraction of the latest archives (their data read back and decrypted).

    Exit status 1 when a repository is damaged (the message says which and how).
    """
    from souverain.backup.agents import open_agents
    from souverain.backup.operations import check_repositories

    with open_agents(current_deployment(ctx)) as agents:
        results = check_repositories(agents, say=_say(as_json))
    summary = _summary(results)
    if as_json:
        print_json(summary)
    else:
        for result in results:
            verdict = "[green]intact[/]" if result.ok else "[bold red]DAMAGED or unreadable[/]"
            console().print(f"{result.host}: {verdict}")
        _show_failures(results)
    exit_with(0 if summary["ok"] else EXIT_FINDINGS)


def _parse_at(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"--at {value!r} is not a date", hint="give it as 2026-12-01 or 2026-12-01T18:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # the controller's local time
    if len(value) == 10:  # a day: everything of that day
        moment += datetime.timedelta(days=1) - datetime.timedelta(seconds=1)
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@backup.command("restore")
@click.option("--tenant", metavar="ID", help="The tenant to put back.")
@click.option(
    "--host", metavar="HOST",
    help="A rebuilt host: every tenant's data it keeps (after `souverain deploy` set it up again).",
)  # fmt: skip
@click.option(
    "--component", "components", multiple=True, type=click.Choice(COMPONENTS),
    help="Only this component's data (repeat); default: all of the tenant's.",
)  # fmt: skip
@click.option("--user", metavar="UID", help="Only this person's mailbox (mail).")
@click.option("--archive", metavar="NAME", help="This archive (a name or time from `backup list`).")
@click.option("--at", "at", metavar="DATE", help="The latest archive at or before DATE.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@click.pass_context
def restore_command(
    ctx: click.Context, tenant: str | None, host: str | None, components: tuple[str, ...],
    user: str | None, archive: str | None, at: str | None, yes: bool, as_json: bool,
) -> None:  # fmt: skip
    """Put a tenant's data back from its archives (the latest, unless --archive or --at), or
    every tenant's data of a rebuilt host (--host).

    A safety archive of the current data is taken first ("…+before-restore"), so a restore
    can itself be undone. What will be replaced is shown and confirmed unless --yes. Other
    tenants are not touched.
    """
    from souverain.backup.agents import open_agents
    from souverain.backup.operations import RestorePlan, plan_restore, restore

    if archive and at:
        raise UsageError("give --archive or --at, not both")
    if not tenant and not host:
        raise UsageError("say what to restore: --tenant ID, or --host HOST for a rebuilt host")
    when = _parse_at(at)
    with open_agents(current_deployment(ctx)) as agents:
        if host and host not in agents.plans:
            raise UsageError(
                f"{host} keeps no data to restore",
                hint=f"hosts with data: {', '.join(agents.plans)}",
            )
        tenants = [tenant] if tenant else list(agents.plans[host]["tenants"])  # type: ignore[index]
        plans: list[RestorePlan] = [
            plan_restore(
                agents, each, components=list(components) or None, user=user,
                archive=archive, at=when, only_host=host,
            )
            for each in tenants
        ]  # fmt: skip
        if not yes:
            if as_json or not sys.stdin.isatty():
                raise UsageError(
                    "a restore replaces data: confirm with --yes when not asked at a terminal"
                )
            out = console()
            for plan in plans:
                out.print(f"Restoring tenant [bold]{plan.tenant}[/] replaces:")
                for where, what in plan.overwrites.items():
                    out.print(
                        f"  {where} (from {plan.archives[where]}): {', '.join(what)}",
                        markup=False,
                    )
                for where, units in plan.stops.items():
                    out.print(f"  {where}: stops {', '.join(units)} meanwhile", markup=False)
            click.confirm("Go on?", abort=True)
        reports = [restore(agents, plan, say=_say(as_json)) for plan in plans]
    ok = all(report["ok"] for report in reports)
    if as_json:
        print_json(reports[0] if tenant else {"ok": ok, "host": host, "tenants": reports})
    else:
        out = console()
        for report in reports:
            for where, restored in report["restored"].items():
                out.print(
                    f"{where}: {report['tenant']}: put back {', '.join(restored) or 'nothing'}",
                    markup=False,
                )
            for where, problem in report["errors"].items():
                out.print(f"[bold red]{where}[/]: {escape(problem)}")
            if report["ok"]:
                safety = ", ".join(report["safety"].values())
                out.print(
                    f"[green]tenant {report['tenant']} restored[/]; safety archives: {safety}"
                )
    exit_with(0 if ok else EXIT_DEPLOY_FAILED)


@backup.command("rollback")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@click.pass_context
def rollback_command(ctx: click.Context, yes: bool, as_json: bool) -> None:
    """Undo the last release change (Synapse's): its data as it was just before, and the
    release it ran.

    A deploy that changes such a release archives the data first. The rollback puts those
    archives back (a safety archive of the current data first), sets the old release in
    suite.yml (nothing else in the file changes) and deploys the component. Shown and
    confirmed unless --yes.
    """
    from souverain.backup.agents import open_agents
    from souverain.backup.rollback import find_rollback, pinned_text, plan_rollback, put_back
    from souverain.cli.cmd_deploy import run_deploy
    from souverain.fsutil import ChangedMeanwhile, replace_keeping_metadata

    deployment = current_deployment(ctx)
    with open_agents(deployment) as agents:
        rollback = find_rollback(agents)
        text, pinned = pinned_text(deployment.suite_file, rollback)
        plans = plan_rollback(agents, rollback)
        release, setting = rollback.release, ".".join(rollback.release.keys)
        if not yes:
            if as_json or not sys.stdin.isatty():
                raise UsageError(
                    "a rollback replaces data: confirm with --yes when not asked at a terminal"
                )
            out = console()
            out.print(
                f"Back to {release.name} {rollback.back_to}, with the data archived at "
                f"{rollback.time} before the release changed:",
                markup=False,
            )
            for plan in plans:
                for where, what in plan.overwrites.items():
                    out.print(f"  {where}: {plan.tenant}: {', '.join(what)}", markup=False)
            out.print(
                f"then {setting}: {rollback.back_to} in suite.yml and a deploy of "
                f"{release.component}.",
                markup=False,
            )
            click.confirm("Go on?", abort=True)
        reports = put_back(agents, plans, say=_say(as_json))
    result: dict[str, Any] = {**rollback.as_dict(), "restores": reports}
    if not all(report["ok"] for report in reports):
        result["ok"] = False
        if as_json:
            print_json(result)
        else:
            for report in reports:
                for where, problem in report["errors"].items():
                    console().print(f"[bold red]{where}[/]: {escape(problem)}")
            console().print(
                "the rollback stopped: suite.yml and the release are as before, the homeservers "
                "run again; a tenant put back before the failure has its safety archive "
                "(`souverain backup list`)"
            )
        exit_with(EXIT_DEPLOY_FAILED)
    try:
        replace_keeping_metadata(
            deployment.suite_file, pinned.encode("utf-8"), expected=text.encode("utf-8")
        )
    except ChangedMeanwhile:
        raise UsageError(
            f"{deployment.suite_file} changed during the rollback: the data is back, the "
            f"release is not pinned",
            hint=f"set {setting}: {rollback.back_to} in suite.yml, then `souverain deploy`",
        ) from None
    if not as_json:
        console().print(f"{setting}: {rollback.back_to} set in suite.yml", markup=False)
    summary, status = run_deploy(
        deployment, limit=None, tags=(release.component,), check=False, diff=False,
        mitogen=None, as_json=as_json,
    )  # fmt: skip
    result["deploy"] = summary
    result["ok"] = status == 0
    if as_json:
        print_json(result)
    elif status == 0:
        console().print(
            f"[green]rolled back[/]: {escape(release.name)} {escape(rollback.back_to)} runs "
            "on the data from before the change"
        )
    exit_with(status)
