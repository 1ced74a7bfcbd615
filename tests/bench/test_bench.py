"""`anemia-audit bench` runs end to end on a tiny cohort and writes its results file.
Nothing here asserts a time: only that every process ran and was measured."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.engine.bare_ingest import ingest

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent / "anemia-audit"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    out = subprocess.run(
        [str(BIN), "bench", "--patients", "300", "--work", str(tmp / "work"), "--results", str(tmp / "r.json")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads((tmp / "r.json").read_text()), out.stdout, tmp


def test_every_process_is_measured(result):
    data, _, _ = result
    names = [t["name"] for t in data["timings"]]
    assert names[:5] == ["bare_ingest", "load", "validate", "classify", "audit"]
    assert names[-1] == "pandas_reference"
    for t in data["timings"]:
        assert t["wall_s"] > 0 and t["peak_rss_mib"] > 10, t
    assert data["timings"][0]["ratio_to_ingest"] == 1.0


def test_rows_are_those_of_the_input_files(result):
    data, _, tmp = result
    lines = {p.stem: len(p.read_text().splitlines()) - 1 for p in (tmp / "work" / "input").glob("*.csv")}
    assert data["input_rows"] == {k: v for k, v in lines.items() if k != "truth"}


def test_the_pandas_reference_finds_the_iron_starts(result):
    data, _, _ = result
    counts = data["reference_counts"]
    assert 0 < counts["ferritin_before"] < counts["iron_starts"]
    assert 0 < counts["followup_hb"] < counts["iron_starts"]


def test_the_table_is_printed_and_the_cohort_is_reused(result):
    _, stdout, tmp = result
    assert "| bare_ingest |" in stdout and "| pandas_reference |" in stdout
    marker = json.loads((tmp / "work" / "input" / "cohort.json").read_text())
    assert marker == {"patients": 300, "seed": 1, "profile": "default"}


def test_a_failing_step_names_the_step_and_exits_2(tmp_path):
    work = tmp_path / "work"
    (work / "input").mkdir(parents=True)
    (work / "input" / "cohort.json").write_text(json.dumps({"patients": 5, "seed": 1, "profile": "default"}))
    out = subprocess.run([str(BIN), "bench", "--patients", "5", "--work", str(work)], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.startswith("error: bench: step ") and "Traceback" not in out.stderr


def test_bare_ingest_reads_each_file_into_a_table(tmp_path):
    (tmp_path / "patients.csv").write_text("patient_id,sex\nP1,F\nP2,M\n")
    (tmp_path / "labs.csv").write_text("patient_id,value\nP1,120\n")
    assert ingest(tmp_path, tmp_path / "b.duckdb") == {"patients": 2, "labs": 1}
