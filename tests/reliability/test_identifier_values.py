"""Identifier values (issue 12, item 9): an e-mail address, phone number, NHS number with a valid
check digit, US SSN or UK postcode in a free-text column stops the load with one line naming
file, column and line, never the value; nothing reaches the warehouse or a report. Near misses
(an NHS-shaped number with a wrong check digit, `B12 1mg`) load."""

import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import GOOD_LAB, GOOD_PATIENT, GOOD_RX, REPO, write_input

# (table, column, value, what the message calls it); the NHS numbers' check digits are valid.
IDENTIFIERS = {
    "email_in_site": ("patients", "site", "jane.doe@example.org", "an e-mail address"),
    "email_in_specialty": ("prescriptions", "prescriber_specialty", "Dr X (x.y@nhs.net)", "an e-mail address"),
    "nhs_number": ("labs", "test_name", "Hb 943 476 5919", "an NHS number"),
    "nhs_number_unspaced": ("prescriptions", "drug_name", "ferrous 9434765919", "an NHS number"),
    "uk_mobile": ("labs", "site", "call 07700 900123", "a UK telephone number"),
    "uk_phone_intl": ("patients", "site", "+44 20 7946 0958", "a UK telephone number"),
    "us_phone": ("prescriptions", "prescriber_specialty", "(212) 555-0123", "a North American telephone number"),
    "us_ssn": ("labs", "unit", "078-05-1120", "a US social security number"),
    "uk_postcode": ("patients", "site", "Leeds LS1 4AP", "a UK postcode"),
    "uk_postcode_lower": ("prescriptions", "route", "sw1a 1aa", "a UK postcode"),
}
NEAR_MISSES = {
    ("labs", "test_name"): ["Hb 943 476 5918", "Vitamin B12 1mg/ml", "718-7 Haemoglobin 2024", "FBC @ 9am"],
    ("prescriptions", "drug_name"): ["Ferrous sulfate 200 mg tablets", "Cyanocobalamin 1000 micrograms/1ml"],
    ("patients", "site"): ["SITE-01", "Ward 12 3rd floor", "St James's 1234567890"],
}
ROWS = {"patients": GOOD_PATIENT, "labs": GOOD_LAB, "prescriptions": GOOD_RX}


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)  # fmt: skip


def _folder(tmp_path, table, column, value):
    """Row 3 of `table` holds the value; row 1 has a quoted line break, so row 3 is on line 5."""
    first = {**ROWS[table], "patient_id": "P1"}
    first[{"labs": "test_name", "patients": "site", "prescriptions": "drug_name"}[table]] = "Two\nlines"
    rows = [first, {**ROWS[table], "patient_id": "P2"}, {**ROWS[table], "patient_id": "P3", column: value}]
    return write_input(tmp_path / "in", **{table: rows})


@pytest.mark.parametrize("case", IDENTIFIERS)
def test_an_identifier_value_stops_the_load_naming_file_column_and_line(tmp_path, case):
    table, column, value, what = IDENTIFIERS[case]
    folder = _folder(tmp_path, table, column, value)
    db = tmp_path / "w.duckdb"
    r = _cli("load", "--input", str(folder), "--db", str(db), cwd=tmp_path)
    assert r.returncode == 2, r.stderr[-2000:]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert lines[0].startswith(f"error: {table}.csv: column '{column}' holds what looks like {what} at line 5; ")
    assert value not in r.stderr + r.stdout and value.split()[-1] not in r.stderr + r.stdout
    assert not db.exists()  # refused before the warehouse was opened


def test_the_whole_job_releases_nothing_when_a_site_holds_an_e_mail(tmp_path):
    folder = write_input(tmp_path / "in", patients=[{**GOOD_PATIENT, "site": "ward.manager@example.org"}])
    out = tmp_path / "reports"
    r = _cli("run", "--input", str(folder), "--db", str(tmp_path / "w.duckdb"), "--out", str(out), cwd=tmp_path)
    assert r.returncode == 2 and "patients.csv: column 'site' holds what looks like an e-mail address" in r.stderr
    assert "example.org" not in r.stderr + r.stdout
    assert not out.exists() or not any(out.iterdir())


def test_an_identifier_value_in_parquet_names_the_row(tmp_path):
    folder = write_input(tmp_path / "in")
    (folder / "prescriptions.csv").unlink()
    n = 5000
    cols = {k: [v] * n for k, v in GOOD_RX.items()}
    cols["drug_name"] = [*cols["drug_name"][:4321], "a@b.co", *cols["drug_name"][4322:]]
    pq.write_table(pa.table(cols), folder / "prescriptions.parquet", row_group_size=1000)
    r = _cli("load", "--input", str(folder), "--db", str(tmp_path / "w.duckdb"), cwd=tmp_path)
    assert r.returncode == 2
    assert "prescriptions.parquet: column 'drug_name' holds what looks like an e-mail address at row 4322;" in r.stderr
    assert "a@b.co" not in r.stderr


def test_near_misses_load(tmp_path):
    tables = {}
    for (table, column), values in NEAR_MISSES.items():
        tables[table] = [{**ROWS[table], column: v, "patient_id": "P1" if table != "patients" else f"P{i}"}
                         for i, v in enumerate(values, 1)]  # fmt: skip
    folder = write_input(tmp_path / "in", **tables)
    db = tmp_path / "w.duckdb"
    r = _cli("load", "--input", str(folder), "--db", str(db), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from raw_labs").fetchone() == (len(NEAR_MISSES["labs", "test_name"]),)


FIXTURES = REPO / "tests" / "fixtures"


def _rewrite_gz(path, old: str, new: str) -> None:
    import gzip

    text = gzip.decompress(path.read_bytes()).decode()
    assert old in text
    path.write_bytes(gzip.compress(text.replace(old, new, 1).encode()))


def test_an_identifier_value_in_an_omop_care_site_stops_the_load(tmp_path):
    import shutil

    shutil.copytree(FIXTURES / "omop", tmp_path / "omop")
    care = tmp_path / "omop" / "care_site.csv"
    care.write_text(care.read_text().replace("General Hospital", "General Hospital (ring 07700 900123)"))
    db = tmp_path / "w.duckdb"
    r = _cli("load", "--source", "omop", "--input", str(tmp_path / "omop"), "--db", str(db), cwd=tmp_path)
    assert r.returncode == 2, r.stderr[-2000:]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "column 'site' holds what looks like a UK telephone number at row " in lines[0]
    assert "900123" not in r.stderr + r.stdout
    assert not db.exists()


def test_an_identifier_value_in_a_mimic_drug_name_stops_the_load(tmp_path):
    import shutil

    shutil.copytree(FIXTURES / "mimic", tmp_path / "hosp")
    _rewrite_gz(tmp_path / "hosp" / "prescriptions.csv.gz", "Ferrous Sulfate", "Ferrous Sulfate ask j.bloggs@nhs.net")
    db = tmp_path / "w.duckdb"
    r = _cli("load", "--source", "mimic", "--input", str(tmp_path / "hosp"), "--db", str(db), cwd=tmp_path)
    assert r.returncode == 2, r.stderr[-2000:]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: prescriptions.csv.gz: column 'drug_name' holds what "
                                                   "looks like an e-mail address at row 1;")  # fmt: skip
    assert "bloggs" not in r.stderr + r.stdout
    assert not db.exists()


def test_screen_tables_scans_arrow_and_pandas_frames_and_skips_streams():
    import pandas as pd

    from pipeline.errors import UserError
    from pipeline.extract.base import SourceTable
    from pipeline.extract.privacy import screen_tables

    clean = pa.table({"site": ["A", "B"], "source_row": [1, 2]})
    screen_tables([SourceTable("patients", "p.csv", "h", clean)])
    dirty = pd.DataFrame({"test_name": ["Hb", "Hb SW1A 1AA"], "source_row": [7, 9]})
    with pytest.raises(UserError, match=r"^l\.csv: column 'test_name' holds what looks like a UK postcode at row 9;"):
        screen_tables([SourceTable("labs", "l.csv", "h", dirty)])
    stream = pa.RecordBatchReader.from_batches(clean.schema, clean.to_batches())
    screen_tables([SourceTable("patients", "p.csv", "h", stream)])  # the csv adapter screened it already
    assert stream.read_all().num_rows == 2  # and the stream was not consumed


def test_the_first_row_holding_an_identifier_is_named_when_values_repeat():
    """The screen judges each distinct value once (issue 11): a value that repeats must still be
    named at its first row, across columns and patterns, and a near miss that repeats must not
    borrow the verdict of a real identifier of the same shape."""
    from pipeline.extract.privacy import first_identifier_value

    near, nhs = "Hb 943 476 5918", "Hb 943 476 5919"  # same shape; only the second check digit is valid
    batch = pa.RecordBatch.from_pydict({
        "test_name": ["Hb", near, nhs, "Hb", nhs, near, None, nhs],
        "site": ["A", "A", "A", "a@b.co", "A", "A", "A", "a@b.co"],
        "source_row": [10, 11, 19, 17, 12, 13, 14, 15],
    })  # fmt: skip
    assert first_identifier_value(batch) == ("test_name", 12, "an NHS number")
    only_near = pa.RecordBatch.from_pydict({"test_name": [near, "Hb", near], "source_row": [1, 2, 3]})
    assert first_identifier_value(only_near) is None
    later = pa.RecordBatch.from_pydict({"test_name": ["Hb", nhs, nhs], "site": ["a@b.co", "A", "a@b.co"],
                                        "source_row": [30, 20, 21]})  # fmt: skip
    assert first_identifier_value(later) == ("test_name", 20, "an NHS number")
    earlier_site = pa.RecordBatch.from_pydict({"test_name": [nhs, "Hb"], "site": ["A", "x@y.org"],
                                               "source_row": [8, 7]})  # fmt: skip
    assert first_identifier_value(earlier_site) == ("site", 7, "an e-mail address")
