"""End-to-end benchmark: synth -> load -> validate -> classify -> audit -> report on N patients.

    .venv/bin/python bench/run_bench.py --patients 100000 [--patients 1000000]

Prints one markdown row per step (wall time, rows, peak memory of the step's process) to
paste into docs/performance.md. Each step runs as its own `anemia-audit` process, as an
analyst would run it. Never run by the tests.
"""

from __future__ import annotations

import argparse
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent / "anemia-audit"


def step(name: str, args: list[str]) -> tuple[str, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run([str(BIN), *args], check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    peak_mb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
    return name, elapsed, peak_mb


def run(patients: int, workdir: Path) -> list[tuple[str, float, float]]:
    data, db = workdir / "synthetic", workdir / "audit.duckdb"
    steps = [
        ("synth", ["synth", "--patients", str(patients), "--seed", "1", "--out", str(data)]),
        ("load", ["load", "--input", str(data), "--db", str(db)]),
        ("validate", ["validate", "--db", str(db)]),
        ("classify", ["classify", "--db", str(db)]),
        ("audit", ["audit", "--db", str(db)]),
        ("report", ["report", "--db", str(db), "--out", str(workdir / "reports"), "--by", "site"]),
    ]
    return [step(n, a) for n, a in steps]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--patients", type=int, action="append", help="cohort size (repeatable)")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    ns = p.parse_args()
    sizes = ns.patients or [10_000, 100_000]
    print(f"machine: {platform.platform()}, python {platform.python_version()}")
    print("| patients | step | seconds | peak RSS so far (MB) |\n|---:|---|---:|---:|")
    for n in sizes:
        work = Path(tempfile.mkdtemp(prefix=f"bench-{n}-"))
        try:
            for name, secs, mb in run(n, work):
                print(f"| {n:,} | {name} | {secs:.1f} | {mb:,.0f} |", flush=True)
        finally:
            if not ns.keep:
                shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
