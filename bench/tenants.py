"""Benchmark: what a hoster waits for when the suite already serves N tenants (design §6).

For N = 10, 100 and 1,000 tenants on one host: the first render (CA, certificates, every
tenant's secrets and DKIM key) and a first audit of the build, then, each in a fresh process
as a hoster runs them, `souverain tenant add` of one more tenant, `souverain plan`,
`souverain render` and `souverain audit --no-render` of that addition, `plan`, `render`
and `audit --no-render` after renaming one tenant, `tenant suspend`, `render`, `tenant
resume`, `render` of another, and `tenant remove`, `plan`, `render` of the one added. The
figures that should not grow with N are printed with their ratio to N = 10 (issue 19's
target: at most 1.5).

`deploy --tenant` needs a lab: bench/tenant_deploy.py measures it.

Prints figures to compare between changes; asserts nothing (these machines are shared).
Run: .venv/bin/python bench/tenants.py [--tenants 10,100,1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from render import suite_text  # bench/render.py: the same suites
from souverain.deployment import Deployment
from souverain.render.pipeline import render_deployment
from souverain.secrets import ensure_password_file

STEPS = (
    "add", "plan added", "render added", "audit added",
    "plan renamed", "render renamed", "audit renamed",
    "suspend", "render suspended", "resume", "render resumed",
    "remove", "plan removed", "render removed",
)  # fmt: skip
# The audit exits 1 when a rule fails (a suite of the bench has some): that is no error here.
AUDIT = ("audit", "--no-render", "--format", "json")


def cli(root: Path, *args: str) -> float:
    """Seconds `souverain -C root ARGS` takes, in a process of its own (as a hoster runs it)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "souverain", "-C", str(root), *args], capture_output=True
    )
    if done.returncode not in ((0, 1) if args[0] == "audit" else (0,)):
        raise SystemExit(f"souverain {' '.join(args)}: {done.stderr.decode()[-2000:]}")
    return time.perf_counter() - start


def one_round(root: Path, tenants: int, round_: int) -> dict[str, float]:
    """Add a tenant, plan and render it; rename one, plan and render it."""
    new = f"n{round_}"
    seconds = {
        "add": cli(root, "tenant", "add", new, "--domain", f"{new}.example.org", "--name", new),
        "plan added": cli(root, "plan"),
        "render added": cli(root, "render"),
        "audit added": cli(root, *AUDIT),
    }
    suite_file = root / "suite.yml"
    middle = tenants // 2
    text = suite_file.read_text()
    old = f'name: "Tenant {middle}"'
    suite_file.write_text(text.replace(old, f'name: "Tenant {middle} round {round_}"', 1))
    seconds["plan renamed"] = cli(root, "plan")
    seconds["render renamed"] = cli(root, "render")
    seconds["audit renamed"] = cli(root, *AUDIT)
    # Another tenant suspended, rendered, resumed and rendered: the directory's access rules
    # (which list the suspended tenants) and that tenant's files change, nothing else.
    other = f"t{max(middle - 1, 0)}"
    seconds["suspend"] = cli(root, "tenant", "suspend", other)
    seconds["render suspended"] = cli(root, "render")
    seconds["resume"] = cli(root, "tenant", "resume", other)
    seconds["render resumed"] = cli(root, "render")
    # The added tenant taken out again (the suite is back to N tenants for the next round).
    seconds["remove"] = cli(root, "tenant", "remove", new)
    seconds["plan removed"] = cli(root, "plan")
    seconds["render removed"] = cli(root, "render")
    return seconds


def bench(tenants: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "suite.yml").write_text(suite_text(tenants))
        deployment = Deployment.at(root)
        ensure_password_file(deployment)
        start = time.perf_counter()
        render_deployment(deployment)
        first = time.perf_counter() - start
        first_audit = cli(root, *AUDIT)
        rounds = [one_round(root, tenants, each) for each in range(repeat)]
    medians = {step: statistics.median(r[step] for r in rounds) for step in STEPS}
    figures = "  ".join(f"{step} {medians[step]:.2f}s" for step in STEPS)
    print(
        f"{tenants:>6} tenants  first render {first:.1f}s  first audit {first_audit:.1f}s  "
        f"{figures} (median of {repeat})"
    )
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    counts = [int(n) for n in args.tenants.split(",")]
    results = {count: bench(count, args.repeat) for count in counts}
    base = counts[0]
    for count in counts[1:]:
        ratios = "  ".join(
            f"{step} {results[count][step] / results[base][step]:.2f}x" for step in STEPS
        )
        print(f"N={count}/N={base}: {ratios}")


if __name__ == "__main__":
    main()
