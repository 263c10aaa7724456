"""The deployment directory `lab up` leaves behind: suite.yml, the SSH key, known_hosts, CAs.

It is an ordinary deployment directory (`souverain -C DIR deploy` works on it); lab/lab.json
names the lab so that `lab down`, `lab status` and `lab ssh` run in it need no --name.
"""

from __future__ import annotations

import json
from pathlib import Path

from souverain.deployment import Deployment
from souverain.errors import LabError
from souverain.fsutil import atomic_write
from souverain.lab import ssh
from souverain.lab.state import LabState

LAB_FILE = "lab.json"
EXTRA_CA_FILE = "extra-ca.pem"


def lab_file(deployment: Deployment) -> Path:
    return deployment.lab_dir / LAB_FILE


def lab_name_in(directory: Path) -> str | None:
    """The lab a deployment directory belongs to, if `lab up` wrote it."""
    path = lab_file(Deployment.at(directory))
    try:
        return str(json.loads(path.read_text())["name"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as error:
        raise LabError(f"{path} is unreadable: {error}") from error


def access(deployment: Deployment) -> ssh.SshAccess:
    return ssh.SshAccess(
        key=deployment.lab_dir / ssh.KEY_NAME,
        known_hosts=deployment.lab_dir / ssh.KNOWN_HOSTS_NAME,
    )


def prepare(deployment: Deployment, *, lab_name: str) -> str:
    """Create DIR/lab with the lab's client key; return the public key to authorise."""
    deployment.lab_dir.mkdir(parents=True, exist_ok=True)
    public = ssh.ensure_client_key(
        deployment.lab_dir / ssh.KEY_NAME, comment=f"souverain-lab-{lab_name}"
    )
    atomic_write(lab_file(deployment), json.dumps({"name": lab_name}, indent=2) + "\n")
    return public.read_text()


def write_extra_ca(deployment: Deployment, certificates: list[Path]) -> str | None:
    """Concatenate the controller's extra CAs into DIR/lab/extra-ca.pem; return its path in DIR."""
    if not certificates:
        return None
    bundle = "".join(c.read_text().rstrip("\n") + "\n" for c in certificates)
    atomic_write(deployment.lab_dir / EXTRA_CA_FILE, bundle)
    return f"lab/{EXTRA_CA_FILE}"


def write_known_hosts(deployment: Deployment, lines: list[str]) -> None:
    atomic_write(deployment.lab_dir / ssh.KNOWN_HOSTS_NAME, "\n".join(lines) + "\n")


def write_suite(deployment: Deployment, state: LabState, *, extra_ca: str | None) -> None:
    """Write (or rewrite: `lab up` refuses a directory it did not make) suite.yml for the lab."""
    from souverain.scaffold import lab_suite_yaml

    text = lab_suite_yaml(
        [(host.name, host.address) for host in state.hosts],
        domain=state.domain,
        private_key_file=f"lab/{ssh.KEY_NAME}",
        known_hosts_file=f"lab/{ssh.KNOWN_HOSTS_NAME}",
        extra_ca_files=[extra_ca] if extra_ca else [],
        admin_networks=[state.subnet],
    )
    atomic_write(deployment.suite_file, text)


def write_lab_record(deployment: Deployment, state: LabState) -> None:
    """lab/lab.json: the lab's name and, for scripts, its hosts."""
    record = {
        "name": state.name,
        "subnet": state.subnet,
        "domain": state.domain,
        "hosts": [{"name": h.name, "address": h.address} for h in state.hosts],
    }
    atomic_write(lab_file(deployment), json.dumps(record, indent=2) + "\n")
