"""Shared test helpers: write a canonical input folder, load and validate it into a real DuckDB file."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pipeline.extract.base import COLUMNS

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MIMIC_DEMO = SHARED / "data" / "mimic-iv-demo" / "hosp"

GOOD_PATIENT = {"patient_id": "P1", "sex": "F", "birth_year": "1960", "site": "SITE-A"}
GOOD_LAB = {"patient_id": "P1", "taken_at": "2024-01-05", "loinc": "718-7", "value": "10.5", "unit": "g/dL"}
GOOD_RX = {
    "patient_id": "P1",
    "start_at": "2024-01-10",
    "drug_code": "B03AA07",
    "code_system": "ATC",
    "drug_name": "Ferrous sulfate 200 mg tablets",
    "route": "oral",
    "dose_amount": "1",
    "dose_unit": "tablet",
    "doses_per_day": "1",
    "quantity": "28",
}


def write_table(folder: Path, table: str, rows: list[dict], columns: tuple[str, ...] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    columns = columns or COLUMNS[table]
    path = folder / f"{table}.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="raise")
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in columns})
    return path


def write_input(folder: Path, patients=None, labs=None, prescriptions=None, **optional) -> Path:
    write_table(folder, "patients", patients if patients is not None else [GOOD_PATIENT])
    write_table(folder, "labs", labs if labs is not None else [GOOD_LAB])
    write_table(folder, "prescriptions", prescriptions if prescriptions is not None else [GOOD_RX])
    for table, rows in optional.items():
        write_table(folder, table, rows)
    return folder


def load_and_validate(input_dir: Path, db: Path, config=None, today=None):
    """Load and validate a canonical folder through the step chain; returns (open con, reconciliation)."""
    from pipeline import steps
    from pipeline.config import load_config
    from pipeline.engine import connect

    config = config or load_config()
    steps.load("csv", input_dir, db, config)
    result = steps.validate(db, config, today=today)
    return connect(db), result


def staged_prescriptions(folder: Path, rows: list[dict], names) -> dict:
    """Load and validate `rows` as the prescriptions file; the staged row of each of `names`
    (one per row, in order), after checking that none was quarantined."""
    con, _ = load_and_validate(write_input(folder / "in", prescriptions=rows), folder / "w.duckdb")
    df = con.table("stg_prescriptions").execute().sort_values("row_id").reset_index(drop=True)
    con.disconnect()
    assert len(df) == len(names)  # nothing quarantined
    return dict(zip(names, df.itertuples(index=False), strict=True))


def quarantined(con, table: str) -> list[tuple[int, str]]:
    q = con.table("quarantine").filter(lambda t: t.table_name == table).execute()
    return sorted(zip(q.source_row, q.check_id, strict=False))


@pytest.fixture
def warehouse(tmp_path):
    """Load the given rows and validate; returns (con, reconciliation)."""

    def _run(**tables):
        folder = write_input(tmp_path / "in", **tables)
        return load_and_validate(folder, tmp_path / "audit.duckdb")

    yield _run
