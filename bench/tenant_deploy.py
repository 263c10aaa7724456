"""Benchmark: `souverain deploy --tenant` of one added tenant on a lab host serving N tenants.

On one lab host with the whole suite: the lab's tenant plus N - 1 tenants with mail (and the
directory and SSO portal every tenant has), deployed whole; then `tenant add` of one more
and `deploy --tenant` of it (its first deploy, then a second that changes nothing), and a
whole no-op deploy for comparison. Repeated for each N, growing the same lab. The tenant
deploy should cost about the same at N = 10 and N = 100 (issue 19's target: a ratio of at
most 1.5); a whole deploy grows with N.

Prints figures to compare between changes; asserts nothing (these machines are shared).
Needs root for the lab. Run: .venv/bin/python bench/tenant_deploy.py [--tenants 10,100]
"""

from __future__ import annotations

import argparse
import functools
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

sys.path.insert(0, str(Path(__file__).resolve().parent))

import backup  # bench/backup.py: its way of running the CLI

# Each step stops by itself: a whole deploy to 100 tenants takes tens of minutes at most.
souverain = functools.partial(backup.souverain, timeout=7200)


def grow_to(directory: Path, tenants: int) -> None:
    """Give suite.yml ``tenants`` tenants: the lab's first, then mail-only ones."""
    yaml = YAML()
    yaml.preserve_quotes = True
    path = directory / "suite.yml"
    suite = yaml.load(path.read_text())
    first = suite["tenants"][0]
    have = len(suite["tenants"])
    for number in range(have, tenants):
        suite["tenants"].append(
            {"id": f"t{number:04d}", "name": f"Tenant {number}",
             "domain": f"t{number:04d}.{first['domain']}", "components": ["mail"]}
        )  # fmt: skip
    with path.open("w") as handle:
        yaml.dump(suite, handle)


def changed(summary: dict[str, Any]) -> int:
    return sum(counts["changed"] for counts in summary["hosts"].values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", default="10,100", help="Values of N, growing.")
    parser.add_argument("--name", default="tbench", help="Lab name.")
    args = parser.parse_args()
    sizes = sorted(int(value) for value in args.tenants.split(","))
    directory = Path(tempfile.mkdtemp(prefix="souverain-bench-")) / "lab"
    cli = ("-C", str(directory))
    figures: dict[int, float] = {}
    try:
        souverain("lab", "up", "--name", args.name, "--hosts", "1", "--dir", str(directory))
        for size in sizes:
            grow_to(directory, size - 1)
            summary, seconds = souverain(*cli, "deploy", "--json")
            print(f"N={size}: whole deploy to {size - 1} tenants {seconds:7.1f} s "
                  f"(changed={changed(summary)})")  # fmt: skip
            added = f"n{size:04d}"
            souverain(*cli, "tenant", "add", added, "--domain", f"{added}.bench.test",
                      "--component", "mail")  # fmt: skip
            summary, seconds = souverain(*cli, "deploy", "--tenant", added, "--json")
            figures[size] = seconds
            print(f"N={size}: deploy --tenant of the added one {seconds:7.1f} s "
                  f"(changed={changed(summary)}, {', '.join(summary['components'])})")  # fmt: skip
            summary, seconds = souverain(*cli, "deploy", "--tenant", added, "--json")
            print(f"N={size}: the same again          {seconds:7.1f} s "
                  f"(changed={changed(summary)})")  # fmt: skip
            summary, seconds = souverain(*cli, "deploy", "--json")
            print(f"N={size}: whole no-op deploy      {seconds:7.1f} s "
                  f"(changed={changed(summary)})")  # fmt: skip
        if len(figures) > 1:
            low, high = sizes[0], sizes[-1]
            print(f"deploy --tenant N={high}/N={low}: {figures[high] / figures[low]:.2f}x "
                  "(target: at most 1.5)")  # fmt: skip
    finally:
        subprocess.run(
            [sys.executable, "-m", "souverain", "lab", "down", "--name", args.name],
            capture_output=True,
            check=False,
        )


if __name__ == "__main__":
    main()
