"""Run each deployed role's testinfra suite (``roles/<name>/tests/test_*.py``) in pytest.

One pytest subprocess per component, against only the hosts of that component's inventory
group, over testinfra's ssh backend (see ``souverain.hostaccess``); JUnit XML brings the
results back per host. Tests can read the host's rendered variables: ``$SOUVERAIN_INVENTORY``
points to the inventory (``host_vars/<host>/souverain.json`` is plain JSON; secrets are not
needed).

Nothing checked is never green: a component that passed no check on a host is "not checked",
with the reasons its tests skipped, and fails the verification, unless every one of those
skips is one the deployment declared (the test's reason starts with ``expected:``, see
``junit``). A deployed component whose role has no tests fails it too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from souverain.builddir import BuildDir, Inventory
from souverain.components import load_catalog
from souverain.deployment import Deployment
from souverain.errors import BuildReadError, VerifyError
from souverain.hostaccess import HostAccess, host_access
from souverain.paths import ROLES_DIR
from souverain.verify.junit import HostResult, merge_junit, results_from_junit

SUITE_TIMEOUT_SECONDS = 900
PARALLEL_SUITES = 4
PYTEST_NO_TESTS = 5


@dataclass(frozen=True)
class RoleSuite:
    component: str
    files: list[Path]
    hosts: list[str]


@dataclass
class Plan:
    """What to run, in deploy order, and the placed components no suite checks (with why)."""

    suites: list[RoleSuite] = field(default_factory=list)
    not_deployed: dict[str, str] = field(default_factory=dict)  # placed, but no role
    untested: dict[str, str] = field(default_factory=dict)  # deployed, but no tests


def role_suites(groups: dict[str, list[str]], roles_dir: Path = ROLES_DIR) -> Plan:
    plan = Plan()
    for component in load_catalog(roles_dir):
        hosts = groups.get(component.name) or []
        if not hosts:
            continue
        if not component.deployable:
            plan.not_deployed[component.name] = "not deployed: no role"
            continue
        files = component.test_files
        if not files:
            plan.untested[component.name] = "deployed, but its role has no testinfra tests"
            continue
        plan.suites.append(RoleSuite(component.name, files, hosts))
    return plan


@dataclass
class VerifyOutcome:
    results: list[HostResult]
    not_deployed: dict[str, str] = field(default_factory=dict)
    untested: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    junit: Path | None = None
    errors: dict[str, str] = field(default_factory=dict)  # component -> why pytest broke

    @property
    def not_checked(self) -> list[HostResult]:
        """Components that passed no check on a host, for reasons the deployment did not declare."""
        return [r for r in self.results if r.verdict == "not_checked" and not r.expected]

    @property
    def expected_not_checked(self) -> list[HostResult]:
        return [r for r in self.results if r.expected]

    @property
    def ok(self) -> bool:
        return (
            not self.errors
            and not self.untested
            and not self.not_checked
            and all(result.failed == 0 for result in self.results)
        )

    def summary(self) -> dict[str, Any]:
        def entry(result: HostResult) -> dict[str, str]:
            return {
                "host": result.host,
                "component": result.component,
                "reason": result.why_not_checked,
            }

        return {
            "ok": self.ok,
            "seconds": round(self.seconds, 2),
            "results": [result.as_dict() for result in self.results],
            "not_checked": [entry(result) for result in self.not_checked],
            "expected_not_checked": [entry(result) for result in self.expected_not_checked],
            "not_verified": {**self.not_deployed, **self.untested},
            "untested": self.untested,
            "errors": self.errors,
            "junit": str(self.junit) if self.junit else None,
        }


def verify_inventory(build: BuildDir) -> Inventory:
    """The hosts to verify and their component groups (VerifyError when render wrote none)."""
    try:
        return build.inventory()
    except BuildReadError as error:
        raise VerifyError(
            error.message, hint="Run `souverain render` (or `souverain deploy`) first."
        ) from None


def _pytest_command(suite: RoleSuite, workdir: Path, access: HostAccess) -> list[str]:
    ini = workdir / "pytest.ini"
    ini.write_text("[pytest]\n")
    return [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "testinfra.plugin",
        *map(str, suite.files),
        "-c",
        str(ini),
        "--rootdir",
        str(suite.files[0].parent),
        "-p",
        "no:cacheprovider",
        "-q",
        "--tb=line",
        "-o",
        "junit_family=xunit2",
        *access.pytest_options(suite.hosts),
        f"--junitxml={workdir / f'{suite.component}.xml'}",
    ]


def run_suite(suite: RoleSuite, workdir: Path, env: dict[str, str], access: HostAccess) -> Path:
    """Run one component's suite; the JUnit XML path (VerifyError when pytest itself broke)."""
    junit = workdir / f"{suite.component}.xml"
    try:
        done = subprocess.run(
            _pytest_command(suite, workdir, access),
            capture_output=True,
            text=True,
            env=env,
            timeout=SUITE_TIMEOUT_SECONDS,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise VerifyError(
            f"the {suite.component} tests did not finish in {SUITE_TIMEOUT_SECONDS} s"
        ) from None
    if done.returncode not in (0, 1, PYTEST_NO_TESTS) or not junit.exists():
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-8:])
        raise VerifyError(f"pytest could not run the {suite.component} tests:\n{tail}")
    return junit


def run_verify(
    deployment: Deployment,
    *,
    junit: Path | None = None,
    on_suite: Callable[[RoleSuite], None] | None = None,
) -> VerifyOutcome:
    started = time.monotonic()
    build = BuildDir(deployment.build_dir)
    inventory = verify_inventory(build)
    plan = role_suites(inventory.groups)
    suites = plan.suites
    outcome = VerifyOutcome([], plan.not_deployed, plan.untested, junit=junit)
    env = {
        **os.environ,
        "PYTHONDONTWRITEBYTECODE": "1",
        # Only testinfra: other installed plugins (hypothesis...) cost seconds per suite.
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "SOUVERAIN_DEPLOYMENT": str(deployment.root),
        "SOUVERAIN_INVENTORY": str(build.inventory_dir),
    }
    parts: dict[str, Path] = {}
    wanted = sorted({host for suite in suites for host in suite.hosts})
    with (
        tempfile.TemporaryDirectory(prefix="souverain-verify-") as tmp,
        host_access(inventory.hosts[name] for name in wanted) as access,
    ):
        workdir = Path(tmp)

        def one(suite: RoleSuite) -> Path:
            if on_suite is not None:
                on_suite(suite)
            return run_suite(suite, workdir, env, access)

        # Suites are independent pytest processes: run a few at once, report in deploy order.
        with ThreadPoolExecutor(max_workers=PARALLEL_SUITES) as pool:
            futures = [(suite, pool.submit(one, suite)) for suite in suites]
            for suite, future in futures:
                try:
                    path = future.result()
                except VerifyError as error:
                    outcome.errors[suite.component] = error.message
                    continue
                parts[suite.component] = path
                found = results_from_junit(path, suite.component, suite.hosts)
                outcome.results.extend(found.values())
        if junit is not None and parts:
            merge_junit(parts, junit)
    outcome.seconds = time.monotonic() - started
    return outcome
