"""Deploy benchmark: first deploy, then no-op re-deploys with and without mitogen.

    .venv/bin/python bench/deploy.py                     # a fresh 2-host lab, taken down after
    .venv/bin/python bench/deploy.py --dir /tmp/eng      # an existing deployment (no-op runs)

Prints figures to compare; asserts nothing about time. Needs root for the lab.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def souverain(*args: str) -> tuple[int, dict[str, Any], float, str]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "souverain", *args, "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    try:
        payload = json.loads(result.stdout)
    except ValueError:
        payload = {}
    return result.returncode, payload, elapsed, result.stdout + result.stderr


def deploy(directory: Path, *extra: str) -> tuple[dict[str, Any], float]:
    status, summary, elapsed, output = souverain("-C", str(directory), "deploy", *extra)
    if status != 0:
        sys.exit(f"deploy {' '.join(extra)} failed ({status}):\n{output[-4000:]}")
    return summary, elapsed


def show(label: str, summary: dict[str, Any], elapsed: float) -> None:
    changed = sum(counts["changed"] for counts in summary["hosts"].values())
    strategy = "mitogen" if summary.get("mitogen") else "linear"
    print(f"{label:<34} {elapsed:7.1f} s wall  {summary['seconds']:7.1f} s ansible  "
          f"[{strategy}, changed={changed}]")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="An existing, deployed deployment directory.")
    parser.add_argument("--hosts", type=int, default=2, help="Lab hosts (without --dir).")
    parser.add_argument("--name", default="bench", help="Lab name (without --dir).")
    parser.add_argument("--repeat", type=int, default=3, help="No-op runs per strategy.")
    args = parser.parse_args()

    lab_made = args.dir is None
    directory = args.dir or Path(tempfile.mkdtemp(prefix="souverain-bench-")) / "lab"
    try:
        if lab_made:
            status, _, elapsed, output = souverain(
                "lab", "up", "--name", args.name, "--hosts", str(args.hosts), "--dir",
                str(directory),
            )  # fmt: skip
            if status != 0:
                sys.exit(f"lab up failed:\n{output[-4000:]}")
            print(f"{'lab up':<34} {elapsed:7.1f} s wall")
            summary, elapsed = deploy(directory)
            show("first deploy", summary, elapsed)
            print("tasks per host (first deploy):", json.dumps(summary["tasks_per_host"]))
        figures: dict[str, list[float]] = {"mitogen": [], "linear": []}
        tasks: dict[str, int] = {}
        for run in range(args.repeat):
            for label, extra in (("mitogen", "--mitogen"), ("linear", "--no-mitogen")):
                summary, elapsed = deploy(directory, extra)
                show(f"no-op re-deploy {label} #{run + 1}", summary, elapsed)
                figures[label].append(elapsed)
                tasks = summary["tasks_per_host"]
        print("tasks per host (no-op):", json.dumps(tasks))
        medians = {label: statistics.median(values) for label, values in figures.items()}
        for label, value in medians.items():
            print(f"median no-op re-deploy, {label}: {value:.1f} s")
        if medians["mitogen"]:
            print(f"mitogen speed-up on a no-op run: {medians['linear'] / medians['mitogen']:.2f}x")
    finally:
        if lab_made:
            souverain("lab", "down", "--name", args.name)


if __name__ == "__main__":
    main()
