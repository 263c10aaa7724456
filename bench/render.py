"""Benchmark: validate and render suites of 10, 100 and 1,000 tenants; `souverain --help` start.

Prints figures to compare between changes; asserts nothing (these machines are shared).
Run: .venv/bin/python bench/render.py [--tenants 10,100,1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from souverain.deployment import Deployment
from souverain.model.loader import load_suite
from souverain.render.pipeline import plan_changes, render_deployment
from souverain.scaffold import ScaffoldHost, suite_yaml
from souverain.secrets import ensure_password_file


def suite_text(tenants: int) -> str:
    text = suite_yaml(
        name="bench",
        hosts=[ScaffoldHost("srv1", "192.0.2.10")],
        domain="t0.example.org",
        tenant_id="t0",
        tenant_name="Tenant 0",
    )
    extra = "".join(
        f'  - id: t{i}\n    name: "Tenant {i}"\n    domain: t{i}.example.org\n'
        for i in range(1, tenants)
    )
    return text.replace("\ncomponents:\n", f"\n{extra}\ncomponents:\n", 1)


def timed(function, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return min(samples), statistics.median(samples)


def bench_suite(tenants: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "suite.yml").write_text(suite_text(tenants))
        deployment = Deployment.at(root)
        ensure_password_file(deployment)
        validate = timed(lambda: load_suite(deployment.suite_file), repeat)
        start = time.perf_counter()
        outcome = render_deployment(deployment)
        cold = time.perf_counter() - start
        files = sum(1 for item in outcome.build.files.values() if item.host)
        warm = timed(lambda: render_deployment(deployment), repeat)
        print(
            f"{tenants:>6} tenants  validate {validate[0]:.3f}s (median {validate[1]:.3f})  "
            f"first render {cold:.3f}s (CA, certificates, secrets created)  "
            f"re-render {warm[0]:.3f}s (median {warm[1]:.3f})  {files} files",
            flush=True,
        )
        plan, render = one_tenant_changed(deployment, tenants)
        print(
            f"{tenants:>6} tenants  one tenant renamed: plan {plan:.3f}s, render {render:.3f}s",
            flush=True,
        )


def one_tenant_changed(deployment: Deployment, tenants: int) -> tuple[float, float]:
    """plan, then render, after renaming the tenant in the middle of the suite."""
    middle = tenants // 2
    text = deployment.suite_file.read_text()
    old = f'name: "Tenant {middle}"'
    deployment.suite_file.write_text(text.replace(old, f'name: "Tenant {middle} renamed"'))
    start = time.perf_counter()
    plan_changes(deployment)
    plan = time.perf_counter() - start
    start = time.perf_counter()
    render_deployment(deployment)
    return plan, time.perf_counter() - start


def bench_help(repeat: int) -> None:
    command = [sys.executable, "-m", "souverain", "--help"]
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    print(f"souverain --help  {min(samples):.3f}s (median {statistics.median(samples):.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bench_help(max(args.repeat, 5))
    for count in (int(n) for n in args.tenants.split(",")):
        bench_suite(count, args.repeat)


if __name__ == "__main__":
    main()
