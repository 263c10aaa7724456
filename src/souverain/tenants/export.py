"""`souverain tenant export`: a tenant's data, encrypted, for the hoster to hand back.

Each host that keeps data of the tenant streams it (the backup agent's `export`: its
directories, each component's dump, each database as SQL) over SSH as a gzip-compressed tar;
the controller encrypts the stream as it arrives with OpenPGP (GnuPG's symmetric AES-256,
which the customer opens with any OpenPGP tool), so nothing of it is written in clear on
either side. One passphrase per export, generated here, written only to a file readable by
its owner beside the archives and never printed.

The export directory is written whole or not at all: it is assembled under a hidden name
and renamed into place once every host's archive is complete and checked.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import secrets
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from souverain.backup.agents import AGENT, Agents, BackupError
from souverain.errors import UsageError
from souverain.hostaccess import needs_sudo

PASSPHRASE_FILE = "passphrase"
MANIFEST_FILE = "manifest.json"
README_FILE = "README.txt"
Say = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class HostExport:
    host: str
    file: str  # the encrypted archive's name in the export directory
    bytes: int
    sha256: str
    exported: list[str]  # what the host put in it (directories, dumps, databases)

    def as_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "file": self.file,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "exported": self.exported,
        }


@dataclass
class Export:
    tenant: str
    time: str
    directory: Path
    hosts: list[HostExport] = field(default_factory=list)

    @property
    def passphrase_file(self) -> Path:
        return self.directory / PASSPHRASE_FILE

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "time": self.time,
            "directory": str(self.directory),
            "passphrase_file": str(self.passphrase_file),
            "archives": [host.as_dict() for host in self.hosts],
        }


def export_name(tenant: str, moment: datetime.datetime | None = None) -> tuple[str, str]:
    """(the export directory's name, its UTC time) for ``tenant`` now."""
    moment = (moment or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
    return f"{tenant}-{moment.strftime('%Y%m%dT%H%M%SZ')}", moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def readme_text(export: Export) -> str:
    names = "\n".join(f"  {host.file}  ({host.host})" for host in export.hosts)
    first = export.hosts[0].file if export.hosts else "HOST.tar.gz.gpg"
    return (
        f"Data of tenant {export.tenant}, exported {export.time}.\n\n"
        f"One archive per server that kept its data:\n{names}\n\n"
        "Each is a gzip-compressed tar encrypted with OpenPGP (AES-256, a passphrase).\n"
        "Open one with GnuPG; it asks for the passphrase (hand it over separately):\n"
        f"  gpg --decrypt {first} | tar -xzf -\n\n"
        "Inside, under <tenant>/<server>/:\n"
        "  files/      the directories as they were on the server (mailboxes in Maildir\n"
        "              format, chat media, drive files)\n"
        "  dumps/      the directory's entries (LDIF: people, groups)\n"
        "  databases/  each PostgreSQL database as SQL (load with: psql -f FILE)\n"
        f"{MANIFEST_FILE} lists each archive's size and SHA-256.\n"
    )


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _agent_report(stderr: str) -> dict[str, Any]:
    for line in reversed(stderr.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                report = json.loads(line)
            except ValueError:
                return {}
            return report if isinstance(report, dict) else {}
    return {}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _encrypting(output: Path, source: IO[bytes], passphrase: str, home: Path) -> subprocess.Popen:
    """GnuPG encrypting ``source`` into ``output``; the passphrase through a pipe of its own."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, passphrase.encode() + b"\n")
    finally:
        os.close(write_end)
    try:
        return subprocess.Popen(
            [
                "gpg", "--batch", "--no-tty", "--quiet", "--homedir", str(home),
                "--pinentry-mode", "loopback", "--passphrase-fd", str(read_end),
                "--symmetric", "--cipher-algo", "AES256", "--s2k-digest-algo", "SHA512",
                "--compress-algo", "none", "--output", str(output),
            ],
            stdin=source,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            pass_fds=(read_end,),
        )  # fmt: skip
    except FileNotFoundError:
        raise UsageError(
            "GnuPG (gpg) is not installed on this machine: it encrypts the export",
            hint="apt install gnupg",
        ) from None
    finally:
        os.close(read_end)


def _export_host(
    agents: Agents, host: str, tenant: str, staging: Path, passphrase: str, home: Path
) -> HostExport:
    command = shlex.join([AGENT, "export", "--tenant", tenant])
    if needs_sudo(agents.access.hosts[host]):
        command = f"sudo -n {command}"
    name = f"{host}.tar.gz.gpg"
    output = staging / name
    with tempfile.TemporaryFile() as errors:
        ssh = subprocess.Popen(
            ["ssh", "-F", str(agents.access.config_file), host, command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        assert ssh.stdout is not None
        try:
            gpg = _encrypting(output, ssh.stdout, passphrase, home)
        except BaseException:
            ssh.kill()
            ssh.wait()
            raise
        ssh.stdout.close()  # gpg holds it now: the agent sees a broken pipe if gpg dies
        try:
            _, gpg_errors = gpg.communicate()
            ssh.wait()
        except BaseException:
            for process in (ssh, gpg):
                process.kill()
                process.wait()
            raise
        errors.seek(0)
        report = _agent_report(errors.read().decode(errors="replace"))
    if ssh.returncode != 0 or not report.get("ok"):
        problem = report.get("error") or f"the agent ended with status {ssh.returncode}"
        raise BackupError(f"{host}: the export of tenant {tenant} failed: {problem}")
    if gpg.returncode != 0:
        detail = gpg_errors.decode(errors="replace").strip() or f"status {gpg.returncode}"
        raise BackupError(f"{host}: encrypting the export failed: {detail}")
    return HostExport(host, name, output.stat().st_size, _sha256(output), report["exported"])


def export_tenant(agents: Agents, tenant: str, destination: Path, say: Say = _quiet) -> Export:
    """Export ``tenant``'s data from every host that keeps some into a new directory under
    ``destination``; nothing is left there unless every host's archive is complete."""
    hosts = agents.hosts_of(tenant)
    if not hosts:
        raise UsageError(
            f"no host keeps data of tenant {tenant!r}",
            hint=f"tenants with data: {', '.join(agents.tenants()) or 'none'}",
        )
    name, time = export_name(tenant)
    destination.mkdir(mode=0o700, parents=True, exist_ok=True)
    final = destination / name
    if final.exists():
        raise UsageError(f"{final} exists already", hint="run the command again in a second")
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=destination))
    home = Path(tempfile.mkdtemp(prefix="souverain-gpg-"))
    try:
        passphrase = secrets.token_urlsafe(32)
        _write_private(staging / PASSPHRASE_FILE, passphrase + "\n")
        export = Export(tenant, time, final)
        for host in hosts:
            say(f"{host}: exporting tenant {tenant}")
            export.hosts.append(_export_host(agents, host, tenant, staging, passphrase, home))
        _write_private(staging / MANIFEST_FILE, json.dumps(export.as_dict(), indent=2) + "\n")
        _write_private(staging / README_FILE, readme_text(export))
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        subprocess.run(
            ["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(home, ignore_errors=True)
    return export
