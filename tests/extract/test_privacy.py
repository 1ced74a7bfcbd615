"""The identifier guard refuses direct identifiers unless the user drops or allows them."""

import pytest

from pipeline.config import load_config
from pipeline.errors import UserError
from pipeline.extract.privacy import looks_like_identifier
from tests.conftest import load_and_validate, write_input, write_table

IDENTIFIERS = [
    "name",
    "Patient Name",
    "surname",
    "first_name",
    "address",
    "address_line_1",
    "postcode",
    "zip",
    "email",
    "phone",
    "mobile_number",
    "NHS number",
    "nhs_no",
    "MRN",
    "ssn",
    "dob",
    "date_of_birth",
    "BirthDate",
    # issue 12, item 9: more names (data/reference/identifier_patterns.csv)
    "Hospital Number",
    "hosp_no",
    "hospital_id",
    "patient_mrn",
    "MRN_no",
    "mrns",
    "medical_record_number",
    "CHI",
    "chi_number",
    "birthdate",
    "birth_day",
    "D.O.B",
    "date_birth",
    "initials",
    "patient_initials",
    "street",
    "street_name",
    "NI number",
    "nino",
    "national_insurance_no",
    "passport",
    "passport_number",
    "telephone_no",
    "middle_name",
]
HARMLESS = [
    "patient_id",
    "birth_year",
    "age_band",
    "sex",
    "site",
    "drug_name",
    "test_name",
    "code_system",
    "pregnancy_start",
    "taken_at",
]


@pytest.mark.parametrize("column", IDENTIFIERS)
def test_identifier_like_columns_are_recognised(column):
    assert looks_like_identifier(column)


@pytest.mark.parametrize("column", HARMLESS)
def test_contract_columns_are_not_identifiers(column):
    assert not looks_like_identifier(column)


def _with_dob(folder):
    write_table(
        folder,
        "patients",
        [{"patient_id": "P1", "sex": "F", "birth_year": "1960", "dob": "1960-04-02"}],
        columns=("patient_id", "sex", "birth_year", "dob"),
    )


def test_refused_by_default(tmp_path):
    folder = write_input(tmp_path / "in")
    _with_dob(folder)
    with pytest.raises(UserError, match="patients.csv: column 'dob' looks like a direct identifier"):
        load_and_validate(folder, tmp_path / "w.duckdb")


def test_dropped_column_is_never_stored(tmp_path):
    folder = write_input(tmp_path / "in")
    _with_dob(folder)
    cfg = load_config().with_overrides({"privacy": {"drop_columns": ["dob"]}})
    con, _ = load_and_validate(folder, tmp_path / "w.duckdb", config=cfg)
    cells = con.con.execute("select * from raw_patients").fetchall()
    assert not any("1960-04-02" in str(v) for row in cells for v in row)


def test_allowed_column_loads_but_is_not_a_contract_column(tmp_path):
    folder = write_input(tmp_path / "in")
    _with_dob(folder)
    cfg = load_config().with_overrides({"privacy": {"allow_columns": ["dob"]}})
    con, _recon = load_and_validate(folder, tmp_path / "w.duckdb", config=cfg)
    assert "dob" not in con.table("raw_patients").columns


def test_no_contract_column_is_an_identifier():
    from pipeline.extract.base import COLUMNS

    assert [c for cols in COLUMNS.values() for c in cols if looks_like_identifier(c)] == []
