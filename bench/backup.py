"""Backup benchmark: first and incremental backup, repository size, restore of one tenant.

    .venv/bin/python bench/backup.py                      # a fresh 2-host lab, taken down after
    .venv/bin/python bench/backup.py --dir /tmp/lab-x     # an existing deployment with backup

K mailboxes of M messages each are written into the first tenant's maildirs on the suite host
(real RFC 5322 messages of a few KiB, each different), then: `souverain backup run` (first),
10 % more messages and `backup run` again (incremental), the repository's size on disk on
the repository host, `souverain backup restore --tenant <first> --yes` (its RTO), then
`backup restore --host` of the suite host (every tenant it keeps; onto the running host, not
a rebuilt one). Prints
figures to compare; asserts nothing about time. Needs root for the lab.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Written on the suite host: K maildirs of M messages (and N more with --more), owned by vmail.
MAILDIRS = r"""
import os, random, sys, time
root, count, messages, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
words = "budget conseil dossier réunion projet école mairie voirie courrier agenda".split()
for person in range(count):
    new = os.path.join(root, f"bench{person:04d}", "Maildir", "cur")
    os.makedirs(new, exist_ok=True)
    for n in range(start, start + messages):
        body = " ".join(random.choice(words) for _ in range(600))
        name = f"{int(time.time())}.bench{person}_{n}.lab:2,S"
        with open(os.path.join(new, name), "w") as out:
            out.write(f"From: a@lab\nTo: bench{person}@lab\nSubject: {n}\n"
                      f"Message-ID: <{person}.{n}@lab>\n\n{body}\n")
os.system(f"chown -R vmail:vmail {root}")
"""


def souverain(
    *args: str, check: bool = True, timeout: float | None = None
) -> tuple[dict[str, Any], float]:
    """Run the CLI; (its JSON output or {}, seconds). A failure ends the benchmark with its
    output, unless ``check`` is false."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "souverain", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    elapsed = time.monotonic() - started
    if check and result.returncode != 0:
        sys.exit(f"souverain {' '.join(args)} failed ({result.returncode}):\n"
                 f"{(result.stdout + result.stderr)[-4000:]}")  # fmt: skip
    try:
        return json.loads(result.stdout), elapsed
    except ValueError:
        return {}, elapsed


def on_host(directory: Path, host: str, command: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "souverain", "-C", str(directory), "lab", "ssh", host, "--",
         command], input=stdin, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        sys.exit(f"{host}: {command}: {result.stderr[-2000:]}")
    return result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="An existing, deployed lab deployment.")
    parser.add_argument("--name", default="benchbk", help="Lab name (without --dir).")
    parser.add_argument("--mailboxes", type=int, default=50, help="K mailboxes.")
    parser.add_argument("--messages", type=int, default=200, help="M messages per mailbox.")
    args = parser.parse_args()

    lab_made = args.dir is None
    directory = args.dir or Path(tempfile.mkdtemp(prefix="souverain-bench-")) / "lab"
    try:
        if lab_made:
            souverain("lab", "up", "--name", args.name, "--hosts", "2", "--dir", str(directory))
            _, elapsed = souverain("-C", str(directory), "deploy", "--json")
            print(f"{'first deploy':<40} {elapsed:7.1f} s")
        info, _ = souverain("-C", str(directory), "info", "--json")
        tenant = info["tenants"][0]["id"]
        host = next(s["host"] for s in info["tenants"][0]["services"] if s["role"] == "imaps")
        vmail = f"/var/vmail/{tenant}"
        script = "python3 - {} {} {} {}"
        on_host(directory, host, script.format(vmail, args.mailboxes, args.messages, 0), MAILDIRS)
        size = on_host(directory, host, f"du -sm {vmail}").split()[0]
        total = args.mailboxes * args.messages
        print(f"{'data':<40} {total} messages in {args.mailboxes} mailboxes, {size} MiB")

        report, elapsed = souverain("-C", str(directory), "backup", "run", "--json")
        print(f"{'first backup (all hosts, all tenants)':<40} {elapsed:7.1f} s")
        more = max(1, args.messages // 10)
        on_host(directory, host,
                script.format(vmail, args.mailboxes, more, args.messages), MAILDIRS)  # fmt: skip
        report, elapsed = souverain("-C", str(directory), "backup", "run", "--json")
        added = sum(
            archive["deduplicated_size"]
            for host_report in report["hosts"].values()
            for archive in host_report["archives"].values()
        )
        print(f"{'incremental backup (+10 % messages)':<40} {elapsed:7.1f} s  "
              f"({added / 2**20:.1f} MiB new in the repository)")  # fmt: skip
        plan = json.loads(
            (directory / "build/hosts" / host / "files/etc/souverain/backup/plan.json").read_text()
        )
        repository_host = plan["repository"].split("@", 1)[1].split("/", 1)[0]
        names = {
            h["address"]: h["name"]
            for h in souverain("-C", str(directory), "lab", "status", "--json")[0]["hosts"]
        }
        repo_size = on_host(directory, names.get(repository_host, repository_host),
                            "du -sm /var/lib/souverain-borg").split()[0]  # fmt: skip
        print(f"{'repository size on disk':<40} {repo_size} MiB")
        _, elapsed = souverain("-C", str(directory), "backup", "restore", "--tenant", tenant,
                               "--yes", "--json")  # fmt: skip
        print(f"{'restore of tenant ' + tenant + ' (RTO)':<40} {elapsed:7.1f} s")
        _, elapsed = souverain("-C", str(directory), "backup", "restore", "--host", host,
                               "--yes", "--json")  # fmt: skip
        print(f"{'restore of every tenant of ' + host:<40} {elapsed:7.1f} s  "
              "(backup restore --host, onto the running host)")  # fmt: skip
    finally:
        if lab_made:
            souverain("lab", "down", "--name", args.name, check=False)


if __name__ == "__main__":
    main()
