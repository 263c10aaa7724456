"""`souverain tenant export`: the backup agent's tar stream of a tenant's data, encrypted on
the controller as it arrives (src/souverain/tenants/export.py).

The agent (roles/backup/files/souverain-backup) runs for real on this machine, with a plan of
temporary directories and a dump script; only SSH is stood in for: an `ssh` first on PATH
that runs the agent's command here. GnuPG is the real one, and the archives are opened with
it as the organisation would.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from souverain.backup.agents import Agents, BackupError
from souverain.builddir import HostConnection
from souverain.errors import UsageError
from souverain.hostaccess import HostAccess
from souverain.tenants.export import export_tenant
from tests.unit.test_backup_agent import AGENT

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None, reason="GnuPG is not installed")

# Runs the agent with its plan and state under $EXPORT_ROOT: what `ssh HOST COMMAND` would do.
FAKE_SSH = """#!{python}
import importlib.machinery, importlib.util, os, shlex, sys
from pathlib import Path
root = Path(os.environ["EXPORT_ROOT"])
loader = importlib.machinery.SourceFileLoader("agent", {agent!r})
spec = importlib.util.spec_from_loader("agent", loader)
agent = importlib.util.module_from_spec(spec)
loader.exec_module(agent)
agent.PLAN = root / "plan.json"
agent.STATE = root / "state"
words = shlex.split(sys.argv[-1])
assert words[0] == "/usr/local/sbin/souverain-backup", words
sys.argv = words
sys.exit(agent.main())
"""

DUMP_SCRIPT = """#!/bin/sh
# dump TENANT DIR: what the directory's script does, in miniature.
set -e
[ "$1" = dump ] || exit 2
mkdir -p "$3"
printf 'dn: ou=%s,dc=example\\n' "$2" > "$3/entries.ldif"
"""


@pytest.fixture
def host_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    root = tmp_path / "host"
    mailbox = root / "vmail/acme/ana/cur"
    mailbox.mkdir(parents=True)
    (mailbox / "1.msg").write_text("Subject: hello\n\nBonjour\n")
    (root / "vmail/other/bob/cur").mkdir(parents=True)
    (root / "vmail/other/bob/cur/2.msg").write_text("Subject: not acme\n")
    dump = root / "dump-directory"
    dump.write_text(DUMP_SCRIPT)
    dump.chmod(0o755)
    plan = {
        "host": "mail1",
        "tenants": {
            tenant: {
                "components": {
                    "mail": {
                        "paths": [str(root / "vmail" / tenant)],
                        "user_paths": [],
                        "stop": [],
                        "dump": None,
                        "dump_dir": None,
                        "databases": [],
                    },
                    "directory": {
                        "paths": [],
                        "user_paths": [],
                        "stop": [],
                        "dump": str(dump),
                        "dump_dir": str(root / "dumps" / tenant / "directory"),
                        "databases": [],
                    },
                }
            }
            for tenant in ("acme", "other")
        },
    }
    (root / "plan.json").write_text(json.dumps(plan))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ssh = bin_dir / "ssh"
    ssh.write_text(FAKE_SSH.format(python=sys.executable, agent=str(AGENT)))
    ssh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("EXPORT_ROOT", str(root))
    return {"root": root, "plan": root / "plan.json"}


def agents(tmp_path: Path, plan_file: Path) -> Agents:
    access = HostAccess(hosts={"mail1": HostConnection("mail1", "192.0.2.1")},
                        config_file=tmp_path / "ssh_config")  # fmt: skip
    return Agents(build=None, access=access, plans={"mail1": json.loads(plan_file.read_text())})  # type: ignore[arg-type]


def decrypt(archive: Path, passphrase: str, home: Path) -> tarfile.TarFile:
    home.mkdir(mode=0o700, exist_ok=True)
    done = subprocess.run(
        ["gpg", "--batch", "--quiet", "--homedir", str(home), "--pinentry-mode", "loopback",
         "--passphrase-fd", "0", "--decrypt", str(archive)],
        input=passphrase.encode() + b"\n", capture_output=True, check=True,
    )  # fmt: skip
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)
    return tarfile.open(fileobj=io.BytesIO(done.stdout), mode="r:gz")


def test_the_export_holds_the_tenants_data_and_nothing_of_another(tmp_path, host_data):
    out = tmp_path / "exports"
    done = export_tenant(agents(tmp_path, host_data["plan"]), "acme", out)
    assert done.directory.parent == out and done.directory.name.startswith("acme-")
    assert sorted(p.name for p in done.directory.iterdir()) == [
        "README.txt", "mail1.tar.gz.gpg", "manifest.json", "passphrase",
    ]  # fmt: skip
    assert [p.name for p in out.iterdir()] == [done.directory.name], "a partial directory is left"
    passphrase = done.passphrase_file.read_text().strip()
    assert stat.S_IMODE(done.passphrase_file.stat().st_mode) == 0o600
    archive = done.directory / "mail1.tar.gz.gpg"
    assert not archive.read_bytes().startswith(b"\x1f\x8b"), "the archive is not encrypted"
    with decrypt(archive, passphrase, tmp_path / "gnupg") as opened:
        names = opened.getnames()
        mailbox = f"acme/mail1/files{host_data['root']}/vmail/acme/ana/cur/1.msg"
        assert mailbox in names
        message = opened.extractfile(mailbox)
        assert message is not None and b"Bonjour" in message.read()
        ldif = opened.extractfile("acme/mail1/dumps/directory/entries.ldif")
        assert ldif is not None and ldif.read() == b"dn: ou=acme,dc=example\n"
    assert not any("other" in name for name in names), names
    manifest = json.loads((done.directory / "manifest.json").read_text())
    assert manifest["archives"][0]["bytes"] == archive.stat().st_size
    assert passphrase not in (done.directory / "manifest.json").read_text()
    assert passphrase not in (done.directory / "README.txt").read_text()
    # The agent leaves nothing of the export on the host.
    assert list((host_data["root"] / "state").iterdir()) == []


def test_a_failing_host_leaves_no_export_behind(tmp_path, host_data):
    (host_data["root"] / "dump-directory").write_text("#!/bin/sh\necho 'slapcat: no' >&2\nexit 1\n")
    out = tmp_path / "exports"
    with pytest.raises(BackupError, match="directory dump of tenant acme failed: slapcat: no"):
        export_tenant(agents(tmp_path, host_data["plan"]), "acme", out)
    assert list(out.iterdir()) == []


def test_a_tenant_without_data_is_refused(tmp_path, host_data):
    with pytest.raises(UsageError, match="no host keeps data of tenant 'ghost'"):
        export_tenant(agents(tmp_path, host_data["plan"]), "ghost", tmp_path / "exports")
