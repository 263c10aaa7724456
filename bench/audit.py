"""Benchmark: static audit of suites of 10, 100 and 1,000 tenants (render excluded and included).

Prints figures to compare between changes; asserts nothing (these machines are shared).
Run: .venv/bin/python bench/audit.py [--tenants 10,100,1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

# bench/render.py's generated suites (this script's directory is on sys.path when run).
from render import suite_text
from souverain.audit.engine import audit_deployment
from souverain.audit.report import render as render_report
from souverain.deployment import Deployment
from souverain.render.pipeline import render_deployment
from souverain.secrets import ensure_password_file


def bench(tenants: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "suite.yml").write_text(suite_text(tenants))
        deployment = Deployment.at(root)
        ensure_password_file(deployment)
        render_deployment(deployment)
        samples = []
        report = None
        for _ in range(repeat):
            start = time.perf_counter()
            report = audit_deployment(deployment, render=False)
            samples.append(time.perf_counter() - start)
        start = time.perf_counter()
        audit_deployment(deployment, render=True)
        with_render = time.perf_counter() - start
        assert report is not None
        start = time.perf_counter()
        html = render_report(report, "html")
        html_s = time.perf_counter() - start
        files = sum(1 for path in (root / "build").resolve().rglob("*") if path.is_file())
        print(
            f"{tenants:>5} tenants  {files:>5} build files  {len(report.findings)} rules  "
            f"audit {min(samples):6.2f} s (median {statistics.median(samples):.2f})  "
            f"render-check + audit {with_render:6.2f} s  "
            f"html {html_s:.2f} s ({len(html) // 1024} KiB)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for count in (int(n) for n in args.tenants.split(",")):
        bench(count, args.repeat)


if __name__ == "__main__":
    main()
