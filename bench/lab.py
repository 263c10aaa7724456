"""How long `souverain lab up` takes cold (base image built) and warm (image cached).

Run as root: `python bench/lab.py [--hosts N] [--release trixie] [--skip-cold]`. The cold run
builds into a temporary image cache of its own, so the machine's cache is left as it was.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NAME = "bench"


def souverain(*args: str, env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "souverain", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return time.monotonic() - started, result


def up_and_down(hosts: int, release: str, workdir: Path, env: dict[str, str]) -> dict[str, float]:
    seconds_up, up = souverain(
        "lab", "up", "--name", NAME, "--hosts", str(hosts), "--release", release,
        "--dir", str(workdir / f"lab-{NAME}"), "--json", env=env,
    )  # fmt: skip
    seconds_down, down = souverain("lab", "down", "--name", NAME, env=env)
    if up.returncode != 0 or down.returncode != 0:
        sys.exit(f"lab up/down failed:\n{up.stderr}\n{down.stderr}")
    boots = [h["boot_seconds"] for h in json.loads(up.stdout)["hosts"]]
    return {"up": seconds_up, "down": seconds_down, "slowest boot": max(boots)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1)
    parser.add_argument("--release", default="trixie", choices=["trixie", "bookworm"])
    parser.add_argument("--skip-cold", action="store_true", help="only the warm figures")
    options = parser.parse_args()

    rows: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="souverain-bench-") as scratch:
        workdir = Path(scratch)
        env = dict(os.environ)
        if not options.skip_cold:
            env["SOUVERAIN_LAB_IMAGE_CACHE"] = str(workdir / "images")
            rows.append(("cold (image built)", up_and_down(options.hosts, options.release,
                                                           workdir, env)))  # fmt: skip
        for attempt in (1, 2):
            rows.append((f"warm #{attempt}", up_and_down(options.hosts, options.release,
                                                         workdir, env)))  # fmt: skip

    print(
        f"souverain lab up/down, {options.hosts} {options.release} host(s), {os.cpu_count()} CPUs"
    )
    print(f"{'run':<20}{'up s':>8}{'down s':>8}{'boot s':>8}")
    for label, figures in rows:
        print(f"{label:<20}{figures['up']:>8.1f}{figures['down']:>8.1f}"
              f"{figures['slowest boot']:>8.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
