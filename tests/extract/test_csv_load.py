"""Loading: content-hash idempotency, appending new files, one transaction per load, and
file-level errors that stop with one clear line (exit code 2) through the real CLI."""

import gzip
import os
import subprocess
import sys

import pytest

from pipeline.config import load_config
from pipeline.engine import connect
from pipeline.engine.raw import load_tables
from pipeline.errors import UserError
from pipeline.extract import csv as csv_source
from tests.conftest import GOOD_LAB, REPO, write_input, write_table


def _load(folder, db):
    con = connect(db)
    extract = csv_source.read(folder, load_config())
    summary = load_tables(con, extract.tables, "csv", progress=lambda m: None)
    return con, summary, extract.notes


def _counts(con):
    return {t: con.table(t).count().execute() for t in ("raw_patients", "raw_labs", "raw_prescriptions")}


def test_loading_the_same_files_twice_adds_nothing(tmp_path):
    folder = write_input(tmp_path / "in")
    con, _, _ = _load(folder, tmp_path / "w.duckdb")
    first = _counts(con)
    con.disconnect()
    con, summary, _ = _load(folder, tmp_path / "w.duckdb")
    assert _counts(con) == first == {"raw_patients": 1, "raw_labs": 1, "raw_prescriptions": 1}
    assert all(f["status"].startswith("already loaded") for f in summary["files"])


def test_a_new_file_appends_with_new_row_ids(tmp_path):
    con, _, _ = _load(write_input(tmp_path / "a"), tmp_path / "w.duckdb")
    con.disconnect()
    second = write_input(tmp_path / "b", labs=[GOOD_LAB, {**GOOD_LAB, "value": "9.9"}])
    con, _, _ = _load(second, tmp_path / "w.duckdb")
    labs = con.table("raw_labs").execute()
    assert len(labs) == 3  # 1 + 2; patients/prescriptions files were identical, so skipped
    assert labs.row_id.is_unique
    assert sorted(labs.source_row) == [1, 1, 2]
    assert _counts(con)["raw_patients"] == 1
    # unique in the whole warehouse, by construction (raw tables declare no key: engine/raw.ddl)
    ids = [i for t in _counts(con) for i in con.table(t).row_id.execute()]
    assert len(ids) == len(set(ids)) == 5


def test_the_load_leaves_the_connection_settings_as_they_were(tmp_path):
    # the append switches off preserve_insertion_order for itself only (engine/raw._insert)
    con, _, _ = _load(write_input(tmp_path / "a"), tmp_path / "w.duckdb")
    assert con.con.execute("select current_setting('preserve_insertion_order')").fetchone()[0] is True


def test_unknown_files_are_reported_and_skipped(tmp_path):
    folder = write_input(tmp_path / "in")
    (folder / "truth.csv").write_text("a,b\n1,2\n")
    _, _, notes = _load(folder, tmp_path / "w.duckdb")
    assert notes == ["truth.csv: not a contract table, skipped"]


def test_gzip_and_parquet_inputs_are_read(tmp_path):
    import pandas as pd

    folder = write_input(tmp_path / "in")
    labs = folder / "labs.csv"
    with gzip.open(folder / "labs.csv.gz", "wb") as fh:
        fh.write(labs.read_bytes())
    labs.unlink()
    rx = folder / "prescriptions.csv"
    pd.read_csv(rx, dtype=str).to_parquet(folder / "prescriptions.parquet")
    rx.unlink()
    con, _summary, _ = _load(folder, tmp_path / "w.duckdb")
    assert _counts(con) == {"raw_patients": 1, "raw_labs": 1, "raw_prescriptions": 1}
    assert con.table("raw_prescriptions").execute().drug_code[0] == "B03AA07"


def test_a_failing_load_leaves_the_warehouse_as_it_was(tmp_path):
    con, _, _ = _load(write_input(tmp_path / "a"), tmp_path / "w.duckdb")
    before = _counts(con)
    con.disconnect()
    folder = write_input(tmp_path / "b", labs=[{**GOOD_LAB, "value": str(i)} for i in range(50)])
    # invalid UTF-8 deep in the labs file: the patients file (read first) must be rolled back too
    with open(folder / "labs.csv", "ab") as fh:
        fh.write(b"P1,2024-01-01,718-7,,\xff\xfe,g/dL,,,\n")
    write_table(folder, "patients", [{"patient_id": "P2", "sex": "M", "birth_year": "1970"}])
    with pytest.raises(UserError, match="labs.csv"):
        _load(folder, tmp_path / "w.duckdb")
    con = connect(tmp_path / "w.duckdb")
    assert _counts(con) == before


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
    )


FILE_PROBLEMS = {
    "missing_column": (
        lambda f: (f / "labs.csv").write_text("patient_id,taken_at,loinc,unit\nP1,2024-01-01,718-7,g/L\n"),
        "labs.csv: required column 'value' is missing",
    ),
    "empty_file": (lambda f: (f / "labs.csv").write_text(""), "labs.csv: file is empty"),
    "semicolons": (
        lambda f: (f / "labs.csv").write_text("patient_id;taken_at;loinc;value\nP1;2024-01-01;718-7;1\n"),
        "labs.csv: columns are separated by semicolons",
    ),
    "bad_encoding": (
        lambda f: (f / "labs.csv").write_bytes(
            "patient_id,taken_at,loinc,value,unit\nP1,2024-01-01,718-7,12,\xb5g/L\n".encode("latin-1")
        ),
        "labs.csv: cannot be read in its first rows: contains text that is not UTF-8",
    ),
    "missing_required_file": (lambda f: (f / "labs.csv").unlink(), "required file missing: labs.csv"),
    "identifier_column": (
        lambda f: write_table(
            f,
            "patients",
            [{"patient_id": "P1", "sex": "F", "birth_year": "1960", "email": "a@b"}],
            columns=("patient_id", "sex", "birth_year", "email"),
        ),
        "patients.csv: column 'email' looks like a direct identifier",
    ),
}


@pytest.mark.parametrize("problem", FILE_PROBLEMS)
def test_file_level_problems_stop_with_one_clear_line(tmp_path, problem):
    folder = write_input(tmp_path / "in")
    damage, expected = FILE_PROBLEMS[problem]
    damage(folder)
    r = _cli("load", "--input", str(folder), "--db", str(tmp_path / "w.duckdb"), cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and expected in lines[0], r.stderr


@pytest.mark.parametrize("command", ["validate", "classify", "audit", "explain --patient P1", "codes"])
def test_commands_on_a_missing_warehouse_say_so(tmp_path, command):
    r = _cli(*command.split(), "--db", str(tmp_path / "none.duckdb"), cwd=tmp_path)
    assert r.returncode == 2 and "warehouse not found" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "none.duckdb").exists()


def test_excel_style_csv_with_bom_crlf_and_capitalised_headers(tmp_path):
    folder = write_input(tmp_path / "in")
    (folder / "patients.csv").write_bytes(b"\xef\xbb\xbfPatient_ID,Sex,Birth_Year\r\nP1,F,1960\r\n")
    con, _summary, _ = _load(folder, tmp_path / "w.duckdb")
    raw = con.table("raw_patients").order_by("row_id").select("patient_id", "sex", "birth_year")
    rows = [tuple(r) for r in raw.to_pandas().itertuples(index=False)]
    assert rows == [("P1", "F", "1960")]
