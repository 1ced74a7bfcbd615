"""`run --input` never mixes sources silently (issue 13, item 5): the warehouse holds one
input; a second input stops with exit 2 and the choice (--fresh / --append), loading
nothing; --append adds it, and the manifest then lists every loaded file (two labs.csv of
two folders) with its own hash and its own raw rows. Real CLI processes, real DuckDB files."""

import json
import os
import subprocess
import sys

import duckdb

from tests.conftest import REPO, write_input

LAB = {"patient_id": "P1", "loinc": "718-7", "unit": "g/dL"}


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600)  # fmt: skip


def _count(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchone()[0]


def _error_line(r) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    return lines[0]


def test_a_second_input_stops_with_the_choice_and_append_lists_both_files(tmp_path):
    db, out = tmp_path / "audit.duckdb", tmp_path / "reports"
    first = write_input(tmp_path / "first")  # one lab row
    second = write_input(tmp_path / "second", labs=[{**LAB, "taken_at": "2024-01-06", "value": "9.5"},
                                                    {**LAB, "taken_at": "2024-01-07", "value": "9.8"}])  # fmt: skip
    r = _cli("run", "--input", str(first), "--db", str(db), "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]

    again = _cli("run", "--input", str(first), "--db", str(db), "--out", str(out), cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]  # the same input again: nothing new, no question
    assert "already loaded" in again.stdout and _count(db, "SELECT count(*) FROM raw_labs") == 1

    refused = _cli("run", "--input", str(second), "--db", str(db), "--out", str(out), cwd=tmp_path)
    line = _error_line(refused)
    assert "another input" in line and "labs.csv" in line and "--fresh" in line and "--append" in line
    assert _count(db, "SELECT count(*) FROM raw_labs") == 1  # nothing of the second input was loaded
    assert _count(db, "SELECT count(*) FROM loaded_files") == 3

    appended = _cli("run", "--input", str(second), "--append", "--db", str(db), "--out", str(out), cwd=tmp_path)
    assert appended.returncode == 0, appended.stderr[-2000:]
    assert _count(db, "SELECT count(*) FROM raw_labs") == 3
    (folder,) = [p for p in out.iterdir() if p.name.startswith("anemia-audit-report-")]
    inputs = json.loads((folder / "manifest.json").read_text())["inputs"]
    labs = [i for i in inputs if i["source_file"] == "labs.csv"]
    assert len(labs) == 2 and labs[0]["sha256"] != labs[1]["sha256"] and labs[0]["load_id"] != labs[1]["load_id"]
    assert sorted(i["raw_rows"] for i in labs) == [1, 2]  # each file its own rows, not the sum
    for i in inputs:
        assert i["raw_rows"] == i["staged_rows"] + i["quarantined_rows"], i
    # patients.csv and prescriptions.csv of the second folder are the same bytes: loaded once
    assert sorted(i["source_file"] for i in inputs) == ["labs.csv", "labs.csv", "patients.csv", "prescriptions.csv"]


def test_fresh_replaces_another_input_and_fresh_with_append_is_refused(tmp_path):
    db, out = tmp_path / "audit.duckdb", tmp_path / "reports"
    first = write_input(tmp_path / "first")
    second = write_input(tmp_path / "second", labs=[{**LAB, "taken_at": "2024-01-06", "value": "9.5"}])
    assert _cli("run", "--input", str(first), "--db", str(db), "--out", str(out), cwd=tmp_path).returncode == 0
    both = _cli("run", "--input", str(second), "--fresh", "--append", "--db", str(db), "--out", str(out), cwd=tmp_path)
    assert "--fresh and --append" in _error_line(both)
    r = _cli("run", "--input", str(second), "--fresh", "--db", str(db), "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert _count(db, "SELECT count(*) FROM raw_labs") == 1
    assert _count(db, "SELECT value FROM raw_labs") == "9.5"  # the second input alone
