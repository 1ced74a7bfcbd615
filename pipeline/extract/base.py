"""What every source adapter hands to the warehouse loader.

An adapter (csv, omop, mimic) returns a list of `SourceTable`s: for one canonical table
(`patients`, `labs`, `prescriptions`, `dispensings`, `diagnoses`), the rows read from one
source file, with the contract's column names (docs/data-contract.md), every value as text
(or null), and a 1-based `source_row` column giving the row's position in that source file.
Columns the contract does not name must not be present. The loader adds `row_id` and
`load_id` and writes `raw_<table>`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REQUIRED_TABLES = ("patients", "labs", "prescriptions")
OPTIONAL_TABLES = ("dispensings", "diagnoses")
TABLES = REQUIRED_TABLES + OPTIONAL_TABLES

# Contract columns per canonical table, in order (docs/data-contract.md).
COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": ("patient_id", "sex", "birth_year", "age_band", "site", "pregnancy_start", "pregnancy_end"),
    "labs": ("patient_id", "taken_at", "loinc", "test_name", "value", "unit", "ref_low", "ref_high", "site"),
    "prescriptions": ("patient_id", "start_at", "end_at", "duration_days", "drug_code", "code_system",
                      "drug_name", "route", "dose_amount", "dose_unit", "doses_per_day", "quantity",
                      "prescriber_specialty", "site"),
    "dispensings": ("patient_id", "dispensed_at", "drug_code", "code_system", "drug_name", "quantity",
                    "days_supply", "site"),
    "diagnoses": ("patient_id", "code", "coding_system", "recorded_at"),
}

# Columns that must be present in the file (alternatives: at least one of the tuple).
REQUIRED_COLUMNS: dict[str, tuple[tuple[str, ...], ...]] = {
    "patients": (("patient_id",), ("sex",), ("birth_year", "age_band")),
    "labs": (("patient_id",), ("taken_at",), ("loinc", "test_name"), ("value",)),
    "prescriptions": (("patient_id",), ("start_at",), ("drug_code", "drug_name")),
    "dispensings": (("patient_id",), ("dispensed_at",), ("drug_code", "drug_name")),
    "diagnoses": (("patient_id",), ("code",), ("coding_system",), ("recorded_at",)),
}


@dataclass
class SourceTable:
    """Rows of one canonical table read from one source file.

    `frame` is anything DuckDB can scan (a pyarrow Table, a pandas DataFrame or a DuckDB
    relation on the loader's connection) holding the contract columns as text plus
    `source_row`. Contract columns missing from the frame are loaded as null.
    """

    table: str
    source_file: str
    content_hash: str
    frame: Any
    notes: list[str] = field(default_factory=list)


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
