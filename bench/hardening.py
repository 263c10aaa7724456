"""Hardening benchmark: Lynis on a fresh lab host and on one where base is deployed, side by side.

    .venv/bin/python bench/hardening.py                       # trixie and bookworm
    .venv/bin/python bench/hardening.py --release bookworm    # one release

For each release: a 2-host lab, base deployed on host1 only (with components.base.lynis
enabled, so the role installs Lynis), Debian's lynis installed by hand on host2, which stays
otherwise as the lab image made it; then `lynis audit system --quick` on both, read through
souverain's own Lynis reader (souverain.audit.lynis), and the hardening indexes, warnings and
suggestions printed side by side. The lab is taken down after. Prints figures; asserts
nothing. Needs root for the lab.

Both hosts are systemd-nspawn containers sharing this machine's kernel: Lynis' kernel tests
(sysctl values, modules, auditd) see the controller's kernel on both, which caps the index a
container can reach whatever the role does.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from souverain.audit.lynis import SCRIPT, Run, parse_report


def souverain(*args: str, json_out: bool = True) -> tuple[int, dict[str, Any], float, str]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "souverain", *args, *(["--json"] if json_out else [])],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.monotonic() - started
    try:
        payload = json.loads(result.stdout) if json_out else {}
    except ValueError:
        payload = {}
    return result.returncode, payload, elapsed, result.stdout + result.stderr


def on_host(name: str, directory: Path, host: str, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "souverain", "-C", str(directory), "lab", "ssh", "--name", name,
         host, command],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def enable_lynis(suite_file: Path) -> None:
    """components.base.lynis.enabled: true, in the suite.yml `lab up` wrote."""
    text = suite_file.read_text()
    commented = "    # lynis: {enabled: true}"
    if commented in text:
        text = text.replace(commented, "    lynis: {enabled: true}", 1)
    elif not re.search(r"^    lynis:", text, flags=re.MULTILINE):
        text = text.replace("\n  base:\n", "\n  base:\n    lynis: {enabled: true}\n", 1)
    if not re.search(r"^    lynis: \{enabled: true\}", text, flags=re.MULTILINE):
        sys.exit(f"could not enable Lynis in {suite_file}")
    suite_file.write_text(text)


def lynis(name: str, directory: Path, host: str) -> tuple[Run, float]:
    started = time.monotonic()
    done = on_host(name, directory, host, SCRIPT)
    run = parse_report(done.stdout)
    if run.index is None:
        run.not_checked = (done.stdout + done.stderr).strip()[-400:] or "no report"
    return run, time.monotonic() - started


def side_by_side(release: str, fresh: Run, based: Run, seconds: dict[str, float]) -> None:
    print(f"\n== {release}: Lynis {based.version or fresh.version}, `lynis audit system --quick`")
    width = 44
    print(f"{'':<22}{'fresh host (host2)':<{width}}{'base deployed (host1)':<{width}}")
    print(f"{'hardening index':<22}{fresh.index!s:<{width}}{based.index!s:<{width}}")
    print(f"{'tests done':<22}{fresh.tests:<{width}}{based.tests:<{width}}")
    print(f"{'warnings':<22}{len(fresh.warnings)!s:<{width}}{len(based.warnings)!s:<{width}}")
    print(f"{'suggestions':<22}{len(fresh.suggestions)!s:<{width}}"
          f"{len(based.suggestions)!s:<{width}}")  # fmt: skip
    print(f"{'lynis run (s)':<22}{seconds['fresh']:<{width}.1f}{seconds['based']:<{width}.1f}")
    for label, run in (("fresh", fresh), ("base", based)):
        if run.not_checked:
            print(f"  {label}: no Lynis report: {run.not_checked}")
        for test, text in run.warnings:
            print(f"  {label} warning {test}: {text}")
    fresh_ids = {test for test, _ in fresh.suggestions}
    based_ids = {test for test, _ in based.suggestions}
    print("  suggestions gone after base:", ", ".join(sorted(fresh_ids - based_ids)) or "none")
    print("  suggestions left after base:", ", ".join(sorted(based_ids)) or "none")


def bench(release: str, name: str) -> None:
    directory = Path(tempfile.mkdtemp(prefix="souverain-hardening-")) / "lab"
    try:
        status, _, elapsed, output = souverain(
            "lab", "up", "--name", name, "--hosts", "2", "--release", release, "--dir",
            str(directory),
        )  # fmt: skip
        if status != 0:
            sys.exit(f"lab up ({release}) failed:\n{output[-4000:]}")
        print(f"{release}: lab up {elapsed:.1f} s")
        enable_lynis(directory / "suite.yml")
        status, summary, elapsed, output = souverain(
            "-C", str(directory), "deploy", "--tags", "base", "--limit", "host1"
        )
        if status != 0:
            sys.exit(f"deploy of base on host1 ({release}) failed ({status}):\n{output[-4000:]}")
        changed = summary.get("hosts", {}).get("host1", {}).get("changed")
        print(f"{release}: base deployed on host1 in {elapsed:.1f} s (changed={changed})")
        install = on_host(
            name,
            directory,
            "host2",
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
            "apt-get install -y -qq --no-install-recommends lynis >/dev/null",
        )
        if install.returncode != 0:
            sys.exit(f"lynis did not install on host2: {install.stderr[-2000:]}")
        fresh, fresh_seconds = lynis(name, directory, "host2")
        based, based_seconds = lynis(name, directory, "host1")
        side_by_side(release, fresh, based, {"fresh": fresh_seconds, "based": based_seconds})
    finally:
        souverain("lab", "down", "--name", name, json_out=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--release", action="append", choices=["trixie", "bookworm"],
        help="Debian release of the two hosts (repeat; default: trixie and bookworm).",
    )  # fmt: skip
    parser.add_argument("--name", default="hardb", help="Lab name (1-8 lowercase letters).")
    args = parser.parse_args()
    for release in args.release or ["trixie", "bookworm"]:
        bench(release, args.name)


if __name__ == "__main__":
    main()
