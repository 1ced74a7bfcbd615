"""A step that runs out of memory (issue 11: classify at 10,000,000 patients under the 3GB
default): one clear line naming the setting to raise, exit code 2, never a traceback, and the
warehouse exactly as before the step (each step writes in one transaction).

Real CLI processes on a real DuckDB file; `[engine] memory_limit = "8MB"` makes DuckDB fail on
a 300-patient cohort the way a too-small limit fails on a large one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from pipeline.synth import generate
from tests.conftest import REPO
from tests.reliability.test_kills_and_writers import digest


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("oom")
    generate(300, 7, tmp / "in")
    db = tmp / "w.duckdb"
    steps = [("load", "--source", "csv", "--input", str(tmp / "in")), ("validate",), ("classify",)]
    snapshots = {}
    for step in steps:
        snapshots[step[0]] = tmp / f"before-{step[0]}.duckdb"
        if db.exists():
            shutil.copy(db, snapshots[step[0]])
        assert _cli(*step, "--db", str(db), cwd=tmp).returncode == 0
    return tmp, snapshots


@pytest.mark.parametrize("step", ["validate", "classify"])
def test_out_of_memory_is_one_line_and_leaves_the_warehouse_as_it_was(loaded, step):
    tmp, snapshots = loaded
    db = tmp / f"{step}.duckdb"
    shutil.copy(snapshots[step], db)
    before = digest(db)
    (tmp / "small.toml").write_text('[engine]\nmemory_limit = "8MB"\n', encoding="utf-8")
    r = _cli(step, "--db", str(db), "--config", str(tmp / "small.toml"), cwd=tmp)
    assert r.returncode == 2, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: DuckDB ran out of memory"), r.stderr
    assert "memory_limit" in errors[0]
    assert "Traceback" not in r.stdout + r.stderr
    assert digest(db) == before
