"""One host's root directory: a copy of the base image given an identity before it boots.

Everything the host needs to be reachable and useful is put in place from the controller, so the
first boot already has its name, the controller's resolver and CAs, the lab's SSH key for root
and host keys the controller knows.
"""

from __future__ import annotations

import ipaddress
import shutil
import uuid
from pathlib import Path

from souverain.lab import ssh
from souverain.lab.commands import run

CA_DIR_IN_HOST = "usr/local/share/ca-certificates/souverain-lab"
CONTROLLER_CA_DIR = Path("/usr/local/share/ca-certificates")
CONTROLLER_RESOLV_CONF = Path("/etc/resolv.conf")
RESOLVED_UPSTREAM = Path("/run/systemd/resolve/resolv.conf")
# Units that cannot work inside a systemd-nspawn host and would only make it "degraded".
MASKED_UNITS: tuple[str, ...] = ()


def copy_image(image: Path, root: Path) -> None:
    """Copy the image (reflinks where the file system has them; a plain copy takes ~1 s)."""
    root.parent.mkdir(parents=True, exist_ok=True)
    run(["cp", "-a", "--reflink=auto", str(image), str(root)], timeout=600)
    (root / ".souverain-image.json").unlink(missing_ok=True)


def controller_extra_cas(directory: Path = CONTROLLER_CA_DIR) -> list[Path]:
    """The certificates this controller trusts beyond Debian's default set."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*.crt") if p.is_file())


def controller_resolv_conf() -> str:
    """The controller's resolver, unless it is a loopback stub the host could not reach."""
    text = CONTROLLER_RESOLV_CONF.read_text() if CONTROLLER_RESOLV_CONF.exists() else ""
    if _only_loopback_nameservers(text) and RESOLVED_UPSTREAM.is_file():
        text = RESOLVED_UPSTREAM.read_text()
    return text


def _only_loopback_nameservers(text: str) -> bool:
    servers = [line.split()[1] for line in text.splitlines() if line.startswith("nameserver ")]
    if not servers:
        return False
    try:
        return all(ipaddress.ip_address(server).is_loopback for server in servers)
    except ValueError:
        return False


def hosts_file(entries: list[tuple[str, str, str]]) -> str:
    """/etc/hosts naming every lab host: (address, fqdn, short name)."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{address}\t{fqdn} {short}" for address, fqdn, short in entries]
    return "\n".join(lines) + "\n"


def personalise(
    root: Path,
    *,
    hostname: str,
    hosts: str,
    resolv_conf: str,
    authorized_key: str,
    extra_cas: list[Path],
) -> dict[str, str]:
    """Give the copied root its identity; return its SSH host public keys by type."""
    etc = root / "etc"
    (etc / "hostname").write_text(f"{hostname}\n")
    (etc / "hosts").write_text(hosts)
    (etc / "machine-id").write_text(f"{uuid.uuid4().hex}\n")
    resolv = etc / "resolv.conf"
    if resolv.is_symlink() or resolv.exists():
        resolv.unlink()
    resolv.write_text(resolv_conf)

    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    ssh_dir.chmod(0o700)
    authorized = ssh_dir / "authorized_keys"
    authorized.write_text(
        authorized_key if authorized_key.endswith("\n") else authorized_key + "\n"
    )
    authorized.chmod(0o600)

    if extra_cas:
        install_cas(root, extra_cas)
    for unit in MASKED_UNITS:
        mask = etc / "systemd/system" / unit
        mask.unlink(missing_ok=True)
        mask.symlink_to("/dev/null")
    return ssh.generate_host_keys(root, comment=f"root@{hostname}")


def install_cas(root: Path, certificates: list[Path]) -> None:
    """Trust the controller's extra CAs in the host the Debian way (update-ca-certificates)."""
    target = root / CA_DIR_IN_HOST
    target.mkdir(parents=True, exist_ok=True)
    for certificate in certificates:
        shutil.copyfile(certificate, target / certificate.name)
    run(["chroot", str(root), "update-ca-certificates"], timeout=120)
