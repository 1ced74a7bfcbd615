"""Run the benchmark: one cohort, then in one run DuckDB's bare ingest of its files, the four
pipeline steps (load, validate, classify, audit), each as its own `anemia-audit` process as
a user runs them, and the pandas reference of the core rule.

Per process: wall time, CPU time (user + system: steadier than wall time on a shared
machine), peak RSS (from `os.wait4`, the child's own resource usage), input rows per second,
and the ratio of wall and CPU time to the bare ingest. The 1-minute load average beside each
figure says how busy the machine was. The cohort is generated before the timing starts.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipeline.errors import UserError
from pipeline.paths import PROJECT_DIR

STEPS = ("load", "validate", "classify", "audit")
RESULTS_DIR = PROJECT_DIR / "bench"


@dataclass
class Timing:
    name: str
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    load_avg_1m: float
    rows_per_s: float = 0.0
    ratio_to_ingest: float = 0.0
    cpu_ratio_to_ingest: float = 0.0


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "anemia-audit"
    return [str(script)] if script.exists() else [sys.executable, "-m", "pipeline.cli"]


def timed(name: str, argv: list[str], log: Path) -> Timing:
    """Run `argv` as a child process; its wall time, CPU time and peak RSS (exact per child:
    `os.wait4` returns that child's resource usage). A failure names the step and its log."""
    t0 = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise UserError(f"bench: step {name} failed (exit code {proc.returncode}); its output is in {log}")
    return Timing(name, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, os.getloadavg()[0])


def _cohort(patients: int, seed: int, profile: str, work: Path, progress: Callable[[str], None]) -> Timing | None:
    """The cohort in work/input, generated unless the same one is already there."""
    marker = work / "input" / "cohort.json"
    wanted = {"patients": patients, "seed": seed, "profile": profile}
    if marker.exists() and json.loads(marker.read_text(encoding="utf-8")) == wanted:
        progress(f"reusing the cohort in {work / 'input'}")
        return None
    shutil.rmtree(work / "input", ignore_errors=True)
    progress(f"generating {patients:,} patients ({profile} profile; not timed against the ingest)")
    argv = [*_cli(), "synth", "--patients", str(patients), "--seed", str(seed), "--profile", profile]
    t = timed("synth", [*argv, "--out", str(work / "input")], work / "synth.log")
    marker.write_text(json.dumps(wanted), encoding="utf-8")
    return t


def _steps(work: Path, config: Path | None) -> list[tuple[str, list[str]]]:
    db = work / "audit.duckdb"
    extra = ["--config", str(config)] if config else []
    first = ["load", "--input", str(work / "input")]
    return [(s, [*_cli(), *(first if s == "load" else [s]), "--db", str(db), *extra]) for s in STEPS]


def _fill(t: Timing, rows: int, ingest: Timing) -> Timing:
    t.rows_per_s = rows / t.wall_s if t.wall_s else 0.0
    t.ratio_to_ingest = t.wall_s / ingest.wall_s
    t.cpu_ratio_to_ingest = t.cpu_s / ingest.cpu_s if ingest.cpu_s else 0.0
    return t


def measure(work: Path, config: Path | None, progress: Callable[[str], None]) -> dict:
    """Time the bare ingest, the four steps and the pandas reference on work/input."""
    for stale in ("audit.duckdb", "audit.duckdb.wal", "bare.duckdb", "bare.duckdb.wal"):
        (work / stale).unlink(missing_ok=True)
    counts_file = work / "bare_counts.json"
    progress("bare ingest (DuckDB read_csv into tables)")
    argv = [sys.executable, "-m", "pipeline.engine.bare_ingest", str(work / "input"), str(work / "bare.duckdb")]
    ingest = timed("bare_ingest", [*argv, str(counts_file)], work / "bare_ingest.log")
    (work / "bare.duckdb").unlink(missing_ok=True)
    rows = json.loads(counts_file.read_text(encoding="utf-8"))
    total = sum(rows.values())
    steps = []
    for name, step_argv in _steps(work, config):
        progress(f"{name}")
        steps.append(_fill(timed(name, step_argv, work / f"{name}.log"), total, ingest))
    progress("pandas reference of the core rule")
    ref = timed("pandas_reference", [sys.executable, "-m", "pipeline.benchmark.reference", str(work / "input")],
                work / "reference.log")  # fmt: skip
    pipeline = Timing(
        "pipeline (load+validate+classify+audit)",
        sum(s.wall_s for s in steps),
        sum(s.cpu_s for s in steps),
        max(s.peak_rss_mib for s in steps),
        max(s.load_avg_1m for s in steps),
    )
    return {
        "input_rows": rows,
        "input_rows_total": total,
        "input_csv_mib": sum(p.stat().st_size for p in (work / "input").glob("*.csv") if p.stem in rows) / 2**20,
        "timings": [asdict(_fill(t, total, ingest)) for t in (ingest, *steps, pipeline, ref)],
        "reference_counts": json.loads((work / "reference.log").read_text(encoding="utf-8").strip().splitlines()[-1]),
    }


def run_bench(
    patients: int,
    profile: str = "default",
    seed: int = 1,
    work: Path | None = None,
    config: Path | None = None,
    results: Path | None = None,
    progress: Callable[[str], None] = print,
) -> tuple[dict, Path]:
    """Generate (or reuse, with `work`) the cohort, measure, write the results JSON; returns
    (results, its path). Without `work`, a temporary folder is used and removed afterwards."""
    keep = work is not None
    work = Path(work) if keep else Path(tempfile.mkdtemp(prefix=f"anemia-bench-{patients}-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        synth = _cohort(patients, seed, profile, work, progress)
        measured = measure(work, config, progress)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    suffix = "" if profile == "default" else f"-{profile}"
    results = results or RESULTS_DIR / f"results-{patients}{suffix}.json"
    out = {
        "patients": patients,
        "profile": profile,
        "seed": seed,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "synth": asdict(synth) if synth else None,
        **measured,
    }
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return out, results


def table(result: dict) -> str:
    """The timings as a markdown table (what `anemia-audit bench` prints)."""
    lines = [
        f"{result['patients']:,} patients ({result['profile']} profile), {result['input_rows_total']:,} input rows, "
        f"{result['input_csv_mib']:,.0f} MiB of CSV",
        "| process | wall s | CPU s | peak RSS MiB | rows/s | wall / ingest | CPU / ingest | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in result["timings"]:
        lines.append(
            f"| {t['name']} | {t['wall_s']:.1f} | {t['cpu_s']:.1f} | {t['peak_rss_mib']:,.0f} | {t['rows_per_s']:,.0f} "
            f"| {t['ratio_to_ingest']:.2f} | {t['cpu_ratio_to_ingest']:.2f} | {t['load_avg_1m']:.1f} |"
        )
    return "\n".join(lines)
