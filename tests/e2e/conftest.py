"""Lab fixtures for end-to-end tests: real Debian hosts (systemd-nspawn) on this machine.

Contract for deploy tests:

- ``lab_session`` (session scope): a ``RunningLab`` of ``LAB_HOSTS`` trixie hosts, brought up
  once for the whole test session and taken down at its end. ``.directory`` is a ready
  deployment directory (suite.yml, lab/id_ed25519, lab/known_hosts, lab/extra-ca.pem),
  ``.hosts`` the (name, address) pairs, ``.ssh(host, command)`` runs a command over SSH.
- ``lab_deployment`` (session scope): ``lab_session.directory``, the Path to deploy to.
- ``start_lab`` / ``souverain_cli``: bring up a further lab; run the CLI as a subprocess.
- ``artifacts(name)``: a directory kept after the run (screenshots, reports) for CI to collect.
- ``require_lab``: skips (or, with CI=true, fails) when this machine cannot run a lab.

Mark lab tests ``@pytest.mark.lab``. Outside CI a test that cannot get a lab is skipped with the
reason; with CI=true it fails instead, so CI never passes by skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# SOUVERAIN_E2E_LAB: another name, for two test sessions on one machine (1-8 a-z0-9).
LAB_NAME = os.environ.get("SOUVERAIN_E2E_LAB", "e2e")
LAB_HOSTS = int(os.environ.get("SOUVERAIN_LAB_HOSTS", "2"))
PROJECT = Path(__file__).resolve().parents[2]
# SOUVERAIN_TEST_ARTIFACTS: where tests leave what a person or CI looks at afterwards
# (screenshots, reports); build/test-artifacts of the checkout by default.
ARTIFACTS = Path(os.environ.get("SOUVERAIN_TEST_ARTIFACTS") or PROJECT / "build" / "test-artifacts")


# Modules that run before the others, in this order, and after them; the rest keep pytest's.
# test_deploy first: its first deploy (whose summary it checks) is then the session lab's one
# whole deploy that the following modules reuse. test_chat last: its pin changes (an older
# release, an upgrade, a rollback) change what the hosts hold, so a module after it would
# deploy again. test_tenant_lifecycle after it: it takes the second tenant away.
FIRST_MODULES = ("test_deploy.py",)
LAST_MODULES = ("test_chat.py", "test_tenant_lifecycle.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        if name in FIRST_MODULES:
            return FIRST_MODULES.index(name)
        if name in LAST_MODULES:
            return len(FIRST_MODULES) + 1 + LAST_MODULES.index(name)
        return len(FIRST_MODULES)

    items.sort(key=rank)  # stable: every other test keeps its place


def lab_unavailable_reason() -> str | None:
    """Why this machine cannot run a lab, or None if it can."""
    if not sys.platform.startswith("linux"):
        return f"the lab needs Linux, this is {sys.platform}"
    if os.geteuid() != 0:
        return "the lab needs root (CI runs these tests as root)"
    from souverain.lab.checks import REQUIRED_TOOLS, missing_tools

    missing = missing_tools()
    if missing:
        packages = " ".join(sorted({REQUIRED_TOOLS[tool] for tool in missing}))
        return f"missing {', '.join(missing)} (apt-get install {packages})"
    return None


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"lab tests must run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def require_lab() -> None:
    reason = lab_unavailable_reason()
    if reason:
        skip_or_fail(reason)


def artifacts(name: str) -> Path:
    """ARTIFACTS/<name>, emptied: the same path on every run, kept after it for CI to collect."""
    directory = ARTIFACTS.resolve() / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def souverain(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run the souverain CLI as a user would, capturing its output. A deploy is noted (see
    `whole_suite_deployed`)."""
    result = subprocess.run(
        [sys.executable, "-m", "souverain", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if "deploy" in args and "--check" not in args and "-C" in args:
        directory = Path(args[args.index("-C") + 1])
        narrowed = any(option in args for option in ("--tags", "--limit", "--tenant"))
        note_deployed(directory, whole=not narrowed, result=result)
    return result


def run_playbooks(
    deployment: Path, *names: str, timeout: float = 2400
) -> tuple[subprocess.CompletedProcess[str], float]:
    """ansible-playbook on the rendered build with the project's playbooks ``names``, as the
    role modules run their components alone; (result, seconds). Noted as a deploy of part of
    the suite."""
    import time

    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(PROJECT / "roles"), ANSIBLE_NOCOLOR="1")
    argv = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "-i", str(deployment / "build" / "inventory"),
        "--vault-password-file", str(deployment / ".vault-password"),
        *[str(PROJECT / "playbooks" / f"{name}.yml") for name in names],
    ]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=timeout, cwd=PROJECT, check=False
    )
    # The playbooks alone do not write the file-integrity baseline (site.yml's last play):
    # a run that changed something leaves hosts a whole deploy would change again.
    note_deployed(deployment, whole=False, result=result, changed=changed_count(result.stdout) > 0)
    return result, time.monotonic() - started


def changed_count(output: str) -> int:
    """The sum of the `changed=` counts of an ansible-playbook recap."""
    return sum(
        int(part.split("=")[1])
        for line in output.splitlines()
        if "ok=" in line and "changed=" in line
        for part in line.split()
        if part.startswith("changed=")
    )


# ---- what the session lab holds -------------------------------------------------------------
# Deploying the whole suite takes minutes even when nothing changes. A module that needs the
# whole suite deployed asks `whole_suite_deployed`: the suite is deployed when no whole deploy of
# this very suite.yml is known, and not again while it stays so. A deploy of part of the suite
# keeps that knowledge only when suite.yml is still the same (it then converged what the whole
# deploy had); a failed deploy, one of another suite.yml (a module's pin or changed setting), or
# playbooks run alone that changed something (the file-integrity baseline is then behind)
# lose it. What a module changes on the hosts by hand it puts back itself, as before.


@dataclass
class Converged:
    digest: str  # sha256 of suite.yml when the whole suite was deployed
    summary: dict[str, Any]  # that deploy's --json summary ({} without --json)


CONVERGED: dict[Path, Converged] = {}


def suite_digest(directory: Path) -> str:
    import hashlib

    return hashlib.sha256((directory / "suite.yml").read_bytes()).hexdigest()


def note_deployed(
    directory: Path,
    *,
    whole: bool,
    result: subprocess.CompletedProcess[str],
    changed: bool = False,
) -> None:
    import json

    directory = directory.resolve()
    if not (directory / "suite.yml").is_file():
        return
    digest = suite_digest(directory)
    known = CONVERGED.get(directory)
    other_suite = known is None or known.digest != digest
    if result.returncode != 0 or changed or (not whole and other_suite):
        CONVERGED.pop(directory, None)
    elif whole:
        try:
            summary = json.loads(result.stdout)
        except ValueError:
            summary = {}
        CONVERGED[directory] = Converged(digest, summary if isinstance(summary, dict) else {})


def forget_deployed(lab: RunningLab) -> None:
    """What was deployed is gone (a host replaced by a new one): the next module deploys."""
    CONVERGED.pop(lab.directory.resolve(), None)


def deployed_again(lab: RunningLab, known: Converged) -> bool:
    """After a change that was undone (suite.yml byte for byte as it was, the components
    that followed it deployed again): the lab holds ``known``'s whole deploy again. False,
    and nothing noted, when suite.yml is not as it was."""
    if suite_digest(lab.directory) != known.digest:
        return False
    CONVERGED[lab.directory.resolve()] = known
    return True


def known_deployed(lab: RunningLab) -> Converged | None:
    """The whole deploy the lab's hosts hold for its current suite.yml, if one is known."""
    known = CONVERGED.get(lab.directory.resolve())
    return known if known and known.digest == suite_digest(lab.directory) else None


def whole_suite_deployed(lab: RunningLab) -> dict[str, Any]:
    """The `deploy --json` summary of the whole suite as suite.yml is now: deployed by this
    call, or known from an earlier one."""
    import time

    known = known_deployed(lab)
    if known:
        return known.summary
    started = time.monotonic()
    result = souverain("-C", str(lab.directory), "deploy", "--json", timeout=3600)
    if result.returncode != 0:
        journals = lab.journals_of(result.stdout)
        pytest.fail(f"deploy failed:\n{result.stdout[-4000:]}\n{result.stderr}\n{journals}")
    print(f"suite deployed in {time.monotonic() - started:.0f} s")
    known = known_deployed(lab)
    assert known is not None, "the deploy was not noted"
    return known.summary


@dataclass(frozen=True)
class RunningLab:
    name: str
    directory: Path
    hosts: list[tuple[str, str]]  # (name, IPv4 address), first host first

    @property
    def key(self) -> Path:
        return self.directory / "lab" / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.directory / "lab" / "known_hosts"

    def address(self, host: str) -> str:
        return dict(self.hosts)[host]

    def ssh(
        self, host: str, command: str, *, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` (a shell command line) as root on ``host`` with the lab's key."""
        argv = [
            "ssh",
            "-i", str(self.key),
            "-o", "IdentitiesOnly=yes",
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=5",
            f"root@{self.address(host)}",
            command,
        ]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)

    def journals_of(self, failure: str, lines: int = 40) -> str:
        """The journal tail, on every host, of each systemd unit a failed deploy's output
        names (``failure``): what a person reading a CI log needs to see why it did not start.
        The unit may have been restarted by systemd since: its journal still holds the
        failed start."""
        import re

        units = sorted(set(re.findall(r"[\w@.-]+\.(?:service|socket|timer)", failure)))
        if not units:
            return ""
        selectors = " ".join(f"-u {unit}" for unit in units)
        report = []
        for host, _ in self.hosts:
            command = f"journalctl --no-pager -o short-precise -n {lines} {selectors}"
            try:
                shown = self.ssh(host, command, timeout=120).stdout
            except subprocess.TimeoutExpired:
                shown = "(no answer within 120 s)"
            report.append(f"--- {host}: journal of {', '.join(units)}\n{shown}")
        return "\n".join(report)


def lab_up(name: str, directory: Path, hosts: int) -> RunningLab:
    result = souverain("lab", "up", "--name", name, "--hosts", str(hosts), "--dir",
                       str(directory), "--json")  # fmt: skip
    if result.returncode != 0:
        souverain("lab", "down", "--name", name)
        pytest.fail(f"lab up failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    import json

    state = json.loads(result.stdout)
    return RunningLab(
        name=name,
        directory=directory,
        hosts=[(host["name"], host["address"]) for host in state["hosts"]],
    )


# A display name validate accepts, made of the quoting and delimiter characters of every format a
# tenant's name reaches (nginx, PHP, Lua, LDIF, YAML/JSON, HOCON, HTML, shell): each e2e deploy
# then proves that the services' own checkers (nginx -t, php -l, Prosody, Synapse, slapd) take the
# files rendered with it, not only the unit tests' parsers.
HOSTILE_TENANT_NAME = 'Ville d\'Œuf "Test" $host \\ ; { } # <?php ?> % ]] ${x} `id` <b>'


def name_tenants_with_every_delimiter(suite_file: Path) -> None:
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True  # `mode: "off"` must stay a string
    suite = yaml.load(suite_file.read_text())
    for tenant in suite["tenants"]:
        tenant["name"] = HOSTILE_TENANT_NAME
    with suite_file.open("w") as handle:
        yaml.dump(suite, handle)


SECOND_TENANT = "second"  # the session lab's second tenant: mail and chat only


def add_a_second_tenant(suite_file: Path) -> None:
    """A second tenant (mail and chat), so that one tenant is restored while the other's data
    stays."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    suite = yaml.load(suite_file.read_text())
    first = suite["tenants"][0]
    suite["tenants"].append(
        {
            "id": SECOND_TENANT,
            "name": first["name"],
            "domain": f"{SECOND_TENANT}.{first['domain']}",
            "components": ["mail", "chat"],
        }
    )
    # `lab up` puts the repositories on the last host (or, on one host, on that host).
    assert suite["components"]["backup"]["enabled"] is True
    with suite_file.open("w") as handle:
        yaml.dump(suite, handle)


@pytest.fixture(scope="session")
def lab_session(
    require_lab: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningLab]:
    directory = tmp_path_factory.mktemp("lab") / f"lab-{LAB_NAME}"
    # The name is the tests' own: a lab left by an interrupted run is removed first.
    souverain("lab", "down", "--name", LAB_NAME)
    lab = lab_up(LAB_NAME, directory, LAB_HOSTS)
    name_tenants_with_every_delimiter(directory / "suite.yml")
    add_a_second_tenant(directory / "suite.yml")
    try:
        yield lab
    finally:
        result = souverain("lab", "down", "--name", LAB_NAME)
        assert result.returncode == 0, result.stderr


@pytest.fixture(scope="session")
def souverain_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the CLI: ``souverain_cli("lab", "status", "--json")``."""
    return souverain


@pytest.fixture(scope="session")
def start_lab(require_lab: None) -> Callable[[str, Path, int], RunningLab]:
    """Bring up another lab (name, directory, hosts); the caller takes it down."""
    return lab_up


@pytest.fixture(scope="session")
def lab_deployment(lab_session: RunningLab) -> Path:
    return lab_session.directory


@pytest.fixture(scope="module")
def suite_deployed(lab_session: RunningLab) -> RunningLab:
    """The session lab with the whole suite deployed (see `whole_suite_deployed`)."""
    whole_suite_deployed(lab_session)
    return lab_session


@dataclass
class TenantView:
    """One tenant as its people's clients see it: its names, the addresses serving them (from
    `souverain info`), and people added for the session with their passwords."""

    id: str
    domain: str
    services: dict[str, dict]  # by role: {"fqdn": ..., "address": ...}
    passwords: dict[str, str]  # uid -> password

    def address(self, uid: str) -> str:
        return f"{uid}@{self.domain}"


TWIN_PEOPLE = ("iris", "ugo")  # the same uids in both tenants, each with their own password


@pytest.fixture(scope="session")
def both_tenants(lab_session: RunningLab) -> tuple[TenantView, TenantView]:
    """The lab's two tenants (the first, and SECOND_TENANT), each with the people TWIN_PEOPLE:
    the same names on both sides, different passwords, so that a test can try one tenant's
    credentials on the other's services."""
    import json

    lab = lab_session
    whole_suite_deployed(lab)
    result = souverain("-C", str(lab.directory), "info", "--json")
    assert result.returncode == 0, result.stderr
    views = []
    for info in json.loads(result.stdout)["tenants"][:2]:
        view = TenantView(
            id=info["id"],
            domain=info["domain"],
            services={service["role"]: service for service in info["services"]},
            passwords={},
        )
        for uid in TWIN_PEOPLE:
            souverain("-C", str(lab.directory), "user", "remove", "--tenant", view.id, uid)
            added = souverain(
                "-C", str(lab.directory), "user", "add", "--tenant", view.id, uid,
                "--given-name", uid.capitalize(), "--surname", "Twin",
                "--email", view.address(uid), "--generate", "--json",
            )  # fmt: skip
            assert added.returncode == 0, added.stdout + added.stderr
            view.passwords[uid] = json.loads(added.stdout)["password"]
        views.append(view)
    first, second = views
    assert second.id == SECOND_TENANT, [view.id for view in views]
    return first, second
