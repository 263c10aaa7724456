"""Benchmark: static audit of suites of 10, 100 and 1,000 tenants (render excluded and included).

For each size: validate (load suite.yml), the audit with render excluded (`--no-render`) as a
first audit (no cache: every secret file decrypted, every file parsed) and as a re-audit
(files unchanged since the last audit come from .audit-cache.vault), the audit with render
included (a re-render that changes nothing, then the audit), each report format, and the
whole command as a user runs it (`souverain audit --no-render --format json`, a new process).

Prints figures to compare between changes; asserts nothing (these machines are shared).
Run: .venv/bin/python bench/audit.py [--tenants 10,100,1000] [--repeat 3] [--keep DIR]

The first render of 1,000 tenants creates their keys and certificates and takes minutes:
with --keep DIR the deployments stay in DIR/<n>-tenants and later runs reuse them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# bench/render.py's generated suites (this script's directory is on sys.path when run).
from render import suite_text
from souverain.audit.cache import CACHE_FILE
from souverain.audit.engine import audit_deployment
from souverain.audit.report import FORMATS
from souverain.audit.report import render as render_report
from souverain.deployment import Deployment
from souverain.model.loader import load_suite
from souverain.render.pipeline import render_deployment
from souverain.secrets import ensure_password_file


def timed(function: Callable[[], object], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return min(samples), statistics.median(samples)


def prepare(root: Path, tenants: int) -> Deployment:
    """The deployment of ``tenants`` tenants in ``root``, rendered (reused when it is)."""
    text = suite_text(tenants)
    root.mkdir(parents=True, exist_ok=True)
    suite = root / "suite.yml"
    if not suite.exists() or suite.read_text() != text:
        suite.write_text(text)
    deployment = Deployment.at(root)
    ensure_password_file(deployment)
    start = time.perf_counter()
    render_deployment(deployment)
    print(f"{tenants:>5} tenants  rendered in {time.perf_counter() - start:.1f} s", flush=True)
    return deployment


def cli_seconds(root: Path, repeat: int) -> float:
    """`souverain audit` in a new process, as a user runs it (interpreter start included)."""
    import souverain

    env = {**os.environ, "PYTHONPATH": str(Path(souverain.__file__).parents[1])}
    command = [sys.executable, "-m", "souverain", "-C", str(root), "audit", "--no-render",
               "--format", "json", "--fail-on", "high", "--output", os.devnull]  # fmt: skip
    return timed(lambda: subprocess.run(command, env=env, capture_output=True), repeat)[0]


def bench(root: Path, tenants: int, repeat: int) -> None:
    deployment = prepare(root, tenants)
    validate = timed(lambda: load_suite(deployment.suite_file), repeat)
    (deployment.root / CACHE_FILE).unlink(missing_ok=True)
    start = time.perf_counter()
    report = audit_deployment(deployment, render=False)
    cold = time.perf_counter() - start
    warm = timed(lambda: audit_deployment(deployment, render=False), repeat)
    included = timed(lambda: audit_deployment(deployment, render=True), repeat)
    formats = {fmt: timed(lambda fmt=fmt: render_report(report, fmt), repeat)[0] for fmt in FORMATS}
    cli = cli_seconds(deployment.root, repeat)
    files = sum(1 for path in deployment.build_dir.resolve().rglob("*") if path.is_file())
    print(
        f"{tenants:>5} tenants  {files} build files  {len(report.findings)} rules  "
        f"validate {validate[0]:.2f} s\n"
        f"       audit, render excluded: first {cold:.2f} s, again {warm[0]:.2f} s "
        f"(median {warm[1]:.2f})\n"
        f"       audit, render included: {included[0]:.2f} s (median {included[1]:.2f})\n"
        f"       reports: " + ", ".join(f"{fmt} {s:.2f} s" for fmt, s in formats.items()) + "\n"
        f"       `souverain audit --no-render --format json` again: {cli:.2f} s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the deployments here")
    args = parser.parse_args()
    for count in (int(n) for n in args.tenants.split(",")):
        if args.keep:
            bench(args.keep / f"{count}-tenants", count, args.repeat)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            bench(Path(tmp), count, args.repeat)


if __name__ == "__main__":
    main()
