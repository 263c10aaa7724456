"""`souverain deploy`: render, then converge the hosts with playbooks/site.yml."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from souverain.cli.common import console, current_deployment, json_option, print_json
from souverain.deployment import Deployment
from souverain.errors import EXIT_DEPLOY_FAILED, DeployError

if TYPE_CHECKING:
    from souverain.builddir import Inventory
    from souverain.model.suite import Suite
    from souverain.render.pipeline import RenderOutcome
    from souverain.runner.events import RunTracker
    from souverain.runner.playbooks import Coverage
    from souverain.runner.run import DeployOptions, RunOutcome

EXIT_INTERRUPTED = 130


def exit_with(status: int) -> None:
    """End the command with ``status`` (``run_cli`` returns it as the process status)."""
    if status:
        raise click.exceptions.Exit(status)


def deploy_options(function: Any) -> Any:
    """The options `deploy` and `up` share."""
    for option in reversed(
        [
            click.option("--limit", metavar="HOST", help="Only these hosts (an Ansible pattern)."),
            click.option(
                "--tags",
                "tags",
                metavar="COMPONENT",
                multiple=True,
                help="Only these components (repeat, or separate with commas).",
            ),
            click.option("--check", is_flag=True, help="Show what would change; change nothing."),
            click.option("--diff", is_flag=True, help="Show file differences (with --check)."),
            click.option(
                "--mitogen/--no-mitogen",
                default=None,
                help="Use mitogen's strategy (default: when installed, unless "
                "SOUVERAIN_MITOGEN=0).",
            ),
        ]
    ):
        function = option(function)
    return function


def run_deploy(
    deployment: Deployment,
    *,
    limit: str | None,
    tags: tuple[str, ...],
    check: bool,
    diff: bool,
    mitogen: bool | None,
    as_json: bool,
    remove_tenants: tuple[str, ...] = (),
    tenant: str | None = None,
) -> tuple[dict[str, Any], int]:
    """Render and deploy; show progress unless as_json. Returns (summary, exit status).

    With ``tenant``, only what that tenant needs: the components holding something of it, with
    the hosts' variables narrowed to it (render/narrow.py)."""
    from souverain.builddir import BuildDir
    from souverain.render.pipeline import render_deployment
    from souverain.runner.events import RunTracker
    from souverain.runner.playbooks import coverage, deploy_inventory
    from souverain.runner.run import DeployOptions
    from souverain.secrets import SecretStore

    out = console()
    outcome_render = render_deployment(deployment)
    cover = coverage(outcome_render.suite.components.enabled_names())
    tag_list = tuple(part.strip() for tag in tags for part in tag.split(",") if part.strip())
    if tenant is not None:
        tag_list = _tenant_tags(outcome_render, tenant, tag_list, cover.deployed)
    options = DeployOptions(
        limit=limit, tags=tag_list, check=check, diff=diff, mitogen=mitogen, tenant=tenant
    )
    secrets = SecretStore.open(deployment).all_secret_values()
    inventory = deploy_inventory(BuildDir(deployment.build_dir))
    departed, options = _departures(
        deployment, outcome_render.suite, inventory, options, remove_tenants, as_json
    )
    tracker = RunTracker(inventory.host_names, inventory.groups)
    with _narrowed_inventory(outcome_render, deployment, tenant) as inventory_dir:
        outcome = _converge(
            deployment, options, outcome_render, cover, inventory, tracker, secrets,
            inventory_dir=inventory_dir, as_json=as_json,
        )  # fmt: skip
    summary = outcome.summary()
    summary["components"] = list(tag_list) if tenant is not None else cover.deployed
    summary["tenant"] = tenant
    summary["not_deployable"] = cover.not_deployable
    summary["tasks_per_host"] = outcome.tasks_per_host
    summary["departed"] = departed
    if outcome.ok:
        return summary, 0
    if outcome.canceled:
        if not as_json:
            out.print(
                "[bold]interrupted:[/] Ansible was stopped; hosts may be half-way. "
                "Run `souverain deploy` again: it converges."
            )
        return summary, EXIT_INTERRUPTED
    if as_json:
        return summary, EXIT_DEPLOY_FAILED
    raise DeployError(
        outcome.failure_message(),
        hint=f"Every task result is in {outcome.log_path}; fix the cause and run "
        "`souverain deploy` again (it only changes what is not yet right).",
    )


def _converge(
    deployment: Deployment,
    options: DeployOptions,
    outcome_render: RenderOutcome,
    cover: Coverage,
    inventory: Inventory,
    tracker: RunTracker,
    secrets: frozenset[str],
    *,
    inventory_dir: Path | None,
    as_json: bool,
) -> RunOutcome:
    """Run site.yml, with live progress and a summary table unless as_json."""
    from souverain.runner.progress import run_progress, summary_table
    from souverain.runner.run import run_playbook

    out = console()
    if as_json:
        outcome = run_playbook(
            deployment, options, secrets=secrets, tracker=tracker, inventory_dir=inventory_dir
        )
    else:
        state = "written" if outcome_render.written.changed else "unchanged"
        out.print(f"build {state}: {deployment.build_dir}", markup=False)
        for component, reason in cover.not_deployable.items():
            out.print(f"{component}: {reason}", style="yellow", markup=False)
        from souverain.runner.ansible_cfg import AnsibleSettings

        settings = AnsibleSettings.for_run(mitogen=options.mitogen)
        strategy = (
            "mitogen (strategy mitogen_linear)" if settings.uses_mitogen else "Ansible's linear"
        )
        what = ", ".join(options.tags) if options.tags else ", ".join(cover.deployed)
        if options.tenant is not None:
            what = f"tenant {options.tenant} ({what})"
        where = options.limit or f"{len(inventory.hosts)} host(s)"
        mode = " in check mode" if options.check else ""
        header = f"deploying {what} to {where} with {strategy}{mode}"
        progress = run_progress(tracker, out, header)
        with progress:
            outcome = run_playbook(
                deployment,
                options,
                secrets=secrets,
                sink=progress.handle,
                tracker=tracker,
                inventory_dir=inventory_dir,
            )
        out.print(summary_table(tracker))
        for notice in tracker.notices:
            out.print(notice, style="yellow", markup=False)
        out.print(f"took {outcome.seconds:.1f} s; log: {outcome.log_path}", markup=False)
    return outcome


def _tenant_tags(
    outcome_render: RenderOutcome, tenant: str, tags: tuple[str, ...], order: list[str]
) -> tuple[str, ...]:
    """The components a deploy of ``tenant`` runs (UsageError, exit 2, when it cannot)."""
    from souverain.errors import UsageError
    from souverain.render.narrow import tenant_components

    known = [each.id for each in outcome_render.suite.tenants]
    if tenant not in known:
        raise UsageError(
            f"--tenant {tenant}: no tenant {tenant} in suite.yml; nothing was changed",
            hint=f"the tenants are {', '.join(known)}; a tenant taken out of suite.yml is "
            "removed by a whole deploy with --remove-tenant",
        )
    if tags:
        raise UsageError(
            "--tenant and --tags cannot be given together; nothing was changed",
            hint="--tenant deploys the components that hold something of the tenant",
        )
    components = tuple(tenant_components(outcome_render.build, tenant, order))
    if not components:  # never empty tags: they would deploy everything
        raise UsageError(f"tenant {tenant} has nothing to deploy on any host")
    return components


@contextlib.contextmanager
def _narrowed_inventory(
    outcome_render: RenderOutcome, deployment: Deployment, tenant: str | None
) -> Iterator[Path | None]:
    """The inventory narrowed to ``tenant`` for the time of the run (None: the build's)."""
    if tenant is None:
        yield None
        return
    import shutil
    import tempfile

    from souverain.builddir import BuildDir
    from souverain.render.narrow import write_narrowed_inventory

    into = Path(tempfile.mkdtemp(prefix="souverain-tenant-"))
    try:
        yield write_narrowed_inventory(
            outcome_render.build, BuildDir(deployment.build_dir).inventory_dir, tenant, into
        )
    finally:
        shutil.rmtree(into, ignore_errors=True)


def _departures(
    deployment: Deployment,
    suite: Suite,
    inventory: Inventory,
    options: DeployOptions,
    remove_tenants: tuple[str, ...],
    as_json: bool,
) -> tuple[list[dict[str, Any]], DeployOptions]:
    """The tenants that left suite.yml and are still on the hosts (their records there): shown;
    on a whole deploy that names each of them (--remove-tenant, or the prompt), exported then
    given to the playbook to take away. (what the summary says of them, the options to run)"""
    import dataclasses
    import sys

    from souverain.builddir import BuildDir
    from souverain.errors import UsageError
    from souverain.tenants.departure import (
        export_departed,
        find_departures,
        refuse_unconfirmed,
    )

    out = console()
    departed, unread = find_departures(inventory, suite)
    gone = {departure.tenant for departure in departed}
    stray = [tenant for tenant in remove_tenants if tenant not in gone]
    if stray:
        present = {tenant.id for tenant in suite.tenants}
        why = "is in suite.yml" if stray[0] in present else "has no record on the hosts"
        raise UsageError(
            f"--remove-tenant {stray[0]}: tenant {stray[0]} {why}; nothing was changed",
            hint="name only tenants taken out of suite.yml that the hosts still hold",
        )
    if not departed:
        return [], options
    shown = [departure.as_dict() for departure in departed]
    whole = not options.tags and not options.limit and options.tenant is None
    if options.check or not whole:
        for departure in departed:
            note = (
                f"tenant {departure.tenant} is no longer in suite.yml but is still on "
                f"{', '.join(departure.records)}: a whole `souverain deploy --remove-tenant "
                f"{departure.tenant}` exports its data and removes it"
            )
            if not as_json:
                out.print(note, style="yellow", markup=False)
        return shown, options
    for host, why in unread.items():
        if not as_json:
            out.print(f"{host}: its tenants' records could not be read ({why})", markup=False)
    confirmed = set(remove_tenants)
    if not as_json and sys.stdin.isatty():
        for departure in departed:
            if departure.tenant in confirmed:
                continue
            out.print(f"[bold]tenant {departure.tenant}[/] is no longer in suite.yml.")
            for host, items in departure.destroyed().items():
                for item in items:
                    out.print(f"  {host}: {item}", markup=False)
            typed = click.prompt(
                f"Type {departure.tenant} to export its data and remove it from the hosts",
                default="",
                show_default=False,
            )
            if typed.strip() == departure.tenant:
                confirmed.add(departure.tenant)
    refuse_unconfirmed(departed, confirmed)

    def say(line: str) -> None:
        if not as_json:
            out.print(line, style="dim", markup=False)

    exports = export_departed(
        BuildDir(deployment.build_dir), inventory, departed, deployment.root / "exports", say
    )
    for entry in shown:
        export = exports[entry["tenant"]]
        entry["export"] = str(export.directory)
        if not as_json:
            out.print(
                f"tenant {entry['tenant']}: data exported to {export.directory} (passphrase "
                f"in {export.passphrase_file}); this deploy removes it from the hosts at its end",
                markup=False,
            )
    tenants = tuple(departure.tenant for departure in departed)
    return shown, dataclasses.replace(options, departed_tenants=tenants)


@click.command()
@click.option(
    "--tenant",
    metavar="ID",
    help="Only what this tenant needs: the components holding something of it, each given "
    "that tenant alone (its files, databases, directory entries, services) and the shared "
    "files that list every tenant; the other tenants are not visited.",
)
@click.option(
    "--remove-tenant",
    "remove_tenants",
    multiple=True,
    metavar="ID",
    help="Export, then remove from the hosts, this tenant taken out of suite.yml (repeat).",
)
@deploy_options
@json_option
@click.pass_context
def deploy(
    ctx: click.Context,
    tenant: str | None,
    remove_tenants: tuple[str, ...],
    limit: str | None,
    tags: tuple[str, ...],
    check: bool,
    diff: bool,
    mitogen: bool | None,
    as_json: bool,
) -> None:
    """Render the suite, then converge the hosts with Ansible (playbooks/site.yml).

    Shows live progress per host and a summary; written to a file or a pipe, one line per
    role and host as it starts and as it ends instead. Every run is logged, without secrets, in
    runs/ of the deployment directory. Exit status 3 when a task failed or a host was
    unreachable; run it again to converge.

    A tenant taken out of suite.yml and still on the hosts is shown with what its removal
    destroys; a whole deploy removes it only when named with --remove-tenant (or typed at
    the prompt), after exporting its data (as `souverain tenant export`). Exit status 2,
    nothing changed, when such a tenant is not named.

    With --tenant ID (after `souverain tenant add`, or a hand edit of that tenant), only what
    that tenant needs is deployed, whatever the number of tenants; a change of a pinned
    release needs a whole deploy.
    """
    deployment = current_deployment(ctx)
    summary, status = run_deploy(
        deployment,
        limit=limit,
        tags=tags,
        check=check,
        diff=diff,
        mitogen=mitogen,
        as_json=as_json,
        remove_tenants=remove_tenants,
        tenant=tenant,
    )
    if as_json:
        print_json(summary)
    exit_with(status)
