"""Spec tests for every row-level validation check: one bad row each, plus good rows that must
stage untouched. All rows go through one real load + validate into a DuckDB file (module scope),
and each test asserts the exact set of checks its row failed."""

from datetime import date

import pytest

from tests.conftest import GOOD_LAB, GOOD_PATIENT, GOOD_RX, load_and_validate, write_input

TODAY = date(2026, 6, 1)

PATIENTS = {
    "good": GOOD_PATIENT,
    "good_age_band": {"patient_id": "P2", "sex": "male", "age_band": "85+"},
    "missing_patient_id": {"patient_id": "", "sex": "F", "birth_year": "1950"},
    "bad_sex": {"patient_id": "P3", "sex": "Q", "birth_year": "1950"},
    "missing_age": {"patient_id": "P4", "sex": "F"},
    "bad_birth_year": {"patient_id": "P5", "sex": "F", "birth_year": "19x0"},
    "birth_year_out_of_range": {"patient_id": "P6", "sex": "F", "birth_year": "1850"},
    "bad_age_band": {"patient_id": "P7", "sex": "F", "age_band": "old"},
    "bad_pregnancy_start": {"patient_id": "P8", "sex": "F", "birth_year": "1990", "pregnancy_start": "soon"},
    "pregnancy_end_before_start": {
        "patient_id": "P9",
        "sex": "F",
        "birth_year": "1990",
        "pregnancy_start": "2024-05-01",
        "pregnancy_end": "2024-01-01",
    },
    "duplicate_patient_id": {"patient_id": "P1", "sex": "F", "birth_year": "1961", "site": "SITE-A"},
    "exact_duplicate": GOOD_PATIENT,
}

LABS = {
    "good": GOOD_LAB,
    "good_unmapped_text_value": {**GOOD_LAB, "loinc": "", "test_name": "Urine colour", "value": "amber", "unit": ""},
    "missing_patient_id": {**GOOD_LAB, "patient_id": ""},
    "unknown_patient": {**GOOD_LAB, "patient_id": "NOBODY"},
    "missing_taken_at": {**GOOD_LAB, "taken_at": ""},
    "bad_taken_at": {**GOOD_LAB, "taken_at": "2024-02-30"},
    "future_taken_at": {**GOOD_LAB, "taken_at": "2026-06-02"},
    "old_taken_at": {**GOOD_LAB, "taken_at": "1899-12-31"},
    "missing_test": {**GOOD_LAB, "loinc": "", "test_name": ""},
    "missing_value": {**GOOD_LAB, "value": ""},
    # a qualifying deficiency test without a usable value is staged (value unknown), not quarantined
    "good_ferritin_without_value": {**GOOD_LAB, "loinc": "2276-4", "value": "", "unit": "ng/mL"},
    "good_b12_text_only_no_unit": {**GOOD_LAB, "loinc": "2132-9", "value": "UNABLE TO REPORT", "unit": ""},
    "good_folate_without_value_odd_unit": {**GOOD_LAB, "loinc": "2284-8", "value": "", "unit": "mmol/mol"},
    "unconvertible_unit__ferritin_with_value": {**GOOD_LAB, "loinc": "2276-4", "value": "40", "unit": "mmol/mol"},
    "value_not_numeric": {**GOOD_LAB, "value": "high"},
    "missing_unit": {**GOOD_LAB, "unit": ""},
    "unconvertible_unit": {**GOOD_LAB, "unit": "mmol/mol"},
    "implausible_value": {**GOOD_LAB, "value": "90", "unit": "g/dL"},
    "exact_duplicate": GOOD_LAB,
}

PRESCRIPTIONS = {
    "good": GOOD_RX,
    "good_name_only": {**GOOD_RX, "drug_code": "", "code_system": "", "drug_name": "Folic acid 5 mg tablets"},
    "good_dose_range": {**GOOD_RX, "dose_amount": "1-2"},
    "missing_patient_id": {**GOOD_RX, "patient_id": ""},
    "unknown_patient": {**GOOD_RX, "patient_id": "NOBODY"},
    "missing_start_at": {**GOOD_RX, "start_at": ""},
    "bad_start_at": {**GOOD_RX, "start_at": "10/01/2024"},
    "future_start_at": {**GOOD_RX, "start_at": "2027-01-01"},
    "old_start_at": {**GOOD_RX, "start_at": "1800-01-01"},
    "bad_end_at": {**GOOD_RX, "end_at": "next week"},
    "end_before_start": {**GOOD_RX, "end_at": "2024-01-09"},
    "missing_drug": {**GOOD_RX, "drug_code": "", "code_system": "", "drug_name": ""},
    "bad_code_system": {**GOOD_RX, "code_system": "BNF"},
    "bad_dose_amount": {**GOOD_RX, "dose_amount": "one"},
    "bad_doses_per_day": {**GOOD_RX, "doses_per_day": "-1"},
    "bad_quantity": {**GOOD_RX, "quantity": "lots"},
    "bad_duration_days": {**GOOD_RX, "duration_days": "0"},
    "impossible_doses_per_day": {**GOOD_RX, "doses_per_day": "48", "dose_unit": "mL"},
    "impossible_units_per_dose": {
        **GOOD_RX,
        "drug_code": "",
        "code_system": "",
        "drug_name": "Amlodipine",
        "dose_amount": "50",
    },
    "impossible_iron_dose": {**GOOD_RX, "dose_amount": "4", "doses_per_day": "3"},
    "exact_duplicate": GOOD_RX,
}

GOOD_DISP = {
    "patient_id": "P1",
    "dispensed_at": "2024-01-11",
    "drug_code": "B03AA07",
    "code_system": "ATC",
    "quantity": "28",
    "days_supply": "28",
}
DISPENSINGS = {
    "good": GOOD_DISP,
    "unknown_patient": {**GOOD_DISP, "patient_id": "NOBODY"},
    "bad_dispensed_at": {**GOOD_DISP, "dispensed_at": "yesterday"},
    "missing_drug": {**GOOD_DISP, "drug_code": "", "code_system": ""},
    "bad_quantity": {**GOOD_DISP, "quantity": "-3"},
    "bad_days_supply": {**GOOD_DISP, "days_supply": "2.5"},
    "exact_duplicate": GOOD_DISP,
}

GOOD_DX = {"patient_id": "P1", "code": "K90.0", "coding_system": "ICD10", "recorded_at": "2023-05-01"}
DIAGNOSES = {
    "good": GOOD_DX,
    "unknown_patient": {**GOOD_DX, "patient_id": "NOBODY"},
    "missing_code": {**GOOD_DX, "code": ""},
    "bad_coding_system": {**GOOD_DX, "coding_system": "READ"},
    "missing_recorded_at": {**GOOD_DX, "recorded_at": ""},
    "exact_duplicate": GOOD_DX,
}

SPECS = {
    "patients": PATIENTS,
    "labs": LABS,
    "prescriptions": PRESCRIPTIONS,
    "dispensings": DISPENSINGS,
    "diagnoses": DIAGNOSES,
}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("checks")
    folder = write_input(
        tmp / "in",
        patients=list(PATIENTS.values()),
        labs=list(LABS.values()),
        prescriptions=list(PRESCRIPTIONS.values()),
        dispensings=list(DISPENSINGS.values()),
        diagnoses=list(DIAGNOSES.values()),
    )
    con, recon = load_and_validate(folder, tmp / "audit.duckdb", today=TODAY)
    q = con.table("quarantine").execute()
    staged = {t: set(con.table(f"stg_{t}").execute().row_id) for t in SPECS}
    raw = {t: con.table(f"raw_{t}").execute()[["row_id", "source_row"]] for t in SPECS}
    yield q, staged, raw, recon
    con.disconnect()


CASES = [(table, name, i + 1) for table, spec in SPECS.items() for i, name in enumerate(spec)]


@pytest.mark.parametrize("table,expected,source_row", CASES, ids=[f"{t}-{n}" for t, n, _ in CASES])
def test_each_row_fails_exactly_its_check(result, table, expected, source_row):
    q, staged, raw, _ = result
    failed = set(q[(q.table_name == table) & (q.source_row == source_row)].check_id)
    row_id = int(raw[table].set_index("source_row").row_id[source_row])
    if expected.startswith("good"):
        assert failed == set()
        assert row_id in staged[table]
    else:
        assert failed == {expected.split("__")[0]}  # "check__variant": the same check on another row
        assert row_id not in staged[table]


def test_every_reason_is_readable(result):
    q = result[0]
    assert q.reason.notna().all() and (q.reason.str.len() > 10).all()
    assert q.raw_values.str.contains("patient_id=").all()


def test_reconciliation_holds(result):
    recon = result[3]
    for r in recon:
        assert r["raw_rows"] == r["staged_rows"] + r["quarantined_rows"]
    by_table = {r["table_name"]: r for r in recon}
    assert by_table["labs"]["raw_rows"] == len(LABS)
    assert by_table["labs"]["staged_rows"] == sum(n.startswith("good") for n in LABS)
