"""OMOP CDM v5.4 adapter: each mapped field on the hand-written fixture (tests/fixtures/omop,
CSV with mixed-case file names and a tab-separated Athena-style CONCEPT.csv), without the
concept table, as Parquet, and as a DuckDB database."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from pipeline.errors import UserError
from pipeline.extract import omop
from pipeline.extract.base import COLUMNS, file_sha256

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "omop"


def read(path) -> dict:
    return {t.table: t for t in omop.read(path, None).tables}


def rows(tables, name):
    return tables[name].frame.to_pylist()


@pytest.fixture(scope="module")
def tables():
    return read(FIXTURE)


@pytest.fixture()
def no_concept(tmp_path):
    for f in FIXTURE.glob("*.csv"):
        if f.name != "CONCEPT.csv":
            shutil.copy(f, tmp_path / f.name)
    return read(tmp_path)


def test_tables_columns_and_provenance(tables):
    assert set(tables) == {"patients", "labs", "prescriptions", "dispensings", "diagnoses"}
    for name, t in tables.items():
        assert t.frame.column_names == [*list(COLUMNS[name]), "source_row"]
    assert tables["patients"].source_file == "PERSON.csv"
    assert tables["patients"].content_hash == file_sha256(FIXTURE / "PERSON.csv")
    assert tables["dispensings"].source_file == "drug_exposure.csv"


def test_person_sex_from_concept_then_source_value_then_unknown(tables):
    sex = {r["patient_id"]: r["sex"] for r in rows(tables, "patients")}
    assert sex == {"1": "F", "2": "M", "3": "female", "4": "U"}


def test_person_birth_year_and_care_site(tables):
    p = {r["patient_id"]: r for r in rows(tables, "patients")}
    assert p["1"]["birth_year"] == "1950"
    assert p["1"]["site"] == "General Hospital"
    assert p["2"]["site"] is None
    assert p["3"]["site"] == "99"  # care site not in care_site: the id itself


def test_observation_period_is_reported_only(tables):
    assert "2 observation periods for 2 persons" in tables["patients"].notes[0]


def test_measurement_loinc_from_concept_and_operator_less_than(tables):
    r = rows(tables, "labs")[0]
    assert r == {
        "patient_id": "1",
        "taken_at": "2024-01-02 09:15:00",
        "loinc": "2276-4",
        "test_name": "FERR",
        "value": "<5",
        "unit": "ng/mL",
        "ref_low": "15",
        "ref_high": "300",
        "site": "General Hospital",
        "source_row": 1,
    }


def test_measurement_date_only_equals_operator_ucum_unit_and_visit_site(tables):
    r = rows(tables, "labs")[1]
    assert r["taken_at"] == "2024-01-06"
    assert r["value"] == "95"  # '=' adds no comparator
    assert r["unit"] == "g/L"  # from unit_concept_id (UCUM)
    assert r["test_name"] == "Hemoglobin [Mass/volume] in Blood"  # source value was a LOINC code
    assert r["site"] == "CLINIC-B"  # the visit's care site wins


def test_measurement_value_source_value_when_no_number(tables):
    r = rows(tables, "labs")[2]
    assert (r["loinc"], r["test_name"], r["value"], r["unit"]) == (None, "Vitamin B12", ">1500", "pg/mL")


def test_measurement_unknown_unit_passes_through(tables):
    assert rows(tables, "labs")[3]["unit"] == "mmol/mol"


def test_measurement_greater_equal_and_loinc_shaped_source_value(tables):
    r = rows(tables, "labs")[4]
    assert (r["loinc"], r["value"]) == ("2498-4", ">=12.5")


def test_measurement_unknown_operator_adds_nothing_and_is_noted(tables):
    assert rows(tables, "labs")[5]["value"] == "7"
    assert "1 rows with an operator_concept_id not in omop_concepts.csv" in tables["labs"].notes[0]


def test_drug_exposure_prescription_fields(tables):
    r = rows(tables, "prescriptions")[0]
    assert r == {
        "patient_id": "1",
        "start_at": "2024-01-03 10:00:00",
        "end_at": "2024-02-01",
        "duration_days": "30",
        "drug_code": "310325",
        "code_system": "RXNORM",
        "drug_name": "ferrous sulfate 325 MG Oral Tablet",
        "route": "oral",
        "dose_amount": None,
        "dose_unit": None,
        "doses_per_day": None,
        "quantity": "30",
        "prescriber_specialty": "General Practice",
        "site": "General Hospital",
        "source_row": 1,
    }


def test_drug_exposure_routes_and_names_without_concepts(tables):
    by_row = {r["source_row"]: r for r in rows(tables, "prescriptions")}
    assert (by_row[3]["drug_name"], by_row[3]["route"], by_row[3]["drug_code"]) == (
        "Spironolactone 25 mg tablet",
        "oral",
        None,
    )  # 'PO' via routes.csv
    assert (by_row[4]["drug_name"], by_row[4]["route"]) == ("BusPIRone 10 mg tablet", "other")
    assert by_row[3]["prescriber_specialty"] == "haematology"  # specialty_source_value
    assert by_row[5]["route"] == "iv"


def test_dispensing_types_feed_dispensings_not_prescriptions(tables):
    assert [r["source_row"] for r in rows(tables, "prescriptions")] == [1, 3, 4, 5]
    d = rows(tables, "dispensings")
    assert [r["source_row"] for r in d] == [2, 6]
    assert d[0] == {
        "patient_id": "1",
        "dispensed_at": "2024-01-04",
        "drug_code": "310325",
        "code_system": "RXNORM",
        "drug_name": "ferrous sulfate 325 MG Oral Tablet",
        "quantity": "30",
        "days_supply": "30",
        "site": "General Hospital",
        "source_row": 2,
    }
    # RxNorm Extension is not RxNorm: the NDC source concept is used instead
    assert (d[1]["drug_code"], d[1]["code_system"]) == ("00517003125", "NDC")


def test_no_dispensing_rows_means_no_dispensings_table(tmp_path):
    for f in FIXTURE.glob("*.csv"):
        shutil.copy(f, tmp_path / f.name)
    text = (tmp_path / "drug_exposure.csv").read_text().replace(",38000175,", ",32838,").replace(",32825,", ",32838,")
    (tmp_path / "drug_exposure.csv").write_text(text)
    assert "dispensings" not in read(tmp_path)


def test_condition_codes_icd10cm_snomed_icd9_and_guessed(tables):
    got = [(r["code"], r["coding_system"], r["recorded_at"]) for r in rows(tables, "diagnoses")]
    assert got == [
        ("D50.9", "ICD10CM", "2023-12-20 11:00:00"),
        ("396331005", "SNOMED", "2023-11-01"),
        ("280.9", "ICD9CM", "2023-10-01"),
        ("5789", "ICD9CM", "2023-09-01"),
        ("K90.0", "ICD10", "2023-08-01"),
        ("???", None, "2023-07-01"),
    ]


def test_without_concept_table_source_values_are_used(no_concept):
    labs = rows(no_concept, "labs")
    assert [r["loinc"] for r in labs] == [None, "718-7", None, None, "2498-4", None]
    assert [r["test_name"] for r in labs][:2] == ["FERR", "718-7"]
    assert labs[1]["unit"] is None  # only a unit concept id, no concept table
    assert labs[0]["value"] == "<5"  # operators come from the committed code list
    rx = rows(no_concept, "prescriptions")
    # drug_concept_id without a concept to read it: the id itself, as an OMOP code (0 is none)
    assert [(r["drug_code"], r["code_system"]) for r in rx] == [
        ("40001", "OMOP"),
        (None, None),
        (None, None),
        ("40002", "OMOP"),
    ]
    assert rx[0]["drug_name"] == "FeSO4 325"
    assert [r["source_row"] for r in rows(no_concept, "dispensings")] == [2, 6]
    dx = [(r["code"], r["coding_system"]) for r in rows(no_concept, "diagnoses")]
    assert dx == [
        ("D50.9", "ICD10"),
        ("LOCAL-CELIAC", None),
        ("280.9", "ICD9CM"),
        ("5789", "ICD9CM"),
        ("K90.0", "ICD10"),
        ("???", None),
    ]


def _as_parquet(tmp_path: Path) -> Path:
    con = duckdb.connect()
    for f in FIXTURE.glob("*.csv"):
        dialect = "delim = '\t', quote = ''" if f.name == "CONCEPT.csv" else "delim = ','"
        con.execute(
            f"COPY (SELECT * FROM read_csv('{f}', header = true, {dialect})) "
            f"TO '{tmp_path / (f.stem.lower() + '.parquet')}' (FORMAT parquet)"
        )
    return tmp_path


def test_parquet_folder_gives_the_same_rows(tmp_path, tables):
    pq = read(_as_parquet(tmp_path))
    assert {k: v.frame.num_rows for k, v in pq.items()} == {k: v.frame.num_rows for k, v in tables.items()}
    lab = rows(pq, "labs")[0]
    # value_as_number is a DOUBLE column in Parquet, so 5 reads back as '5.0'
    assert (lab["loinc"], lab["value"], lab["unit"], lab["source_row"]) == ("2276-4", "<5.0", "ng/mL", 1)
    assert rows(pq, "labs")[4]["value"] == ">=12.5"
    assert pq["labs"].source_file == "measurement.parquet"
    assert [r["sex"] for r in rows(pq, "patients")] == ["F", "M", "female", "U"]


def test_duckdb_database_in_a_schema(tmp_path, tables):
    db = tmp_path / "omop_cdm.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA cdm")
    for f in FIXTURE.glob("*.csv"):
        dialect = "delim = '\t', quote = ''" if f.name == "CONCEPT.csv" else "delim = ','"
        con.execute(f"CREATE TABLE cdm.{f.stem.upper()} AS SELECT * FROM read_csv('{f}', header = true, {dialect})")
    con.close()
    got = read(db)
    assert {k: v.frame.num_rows for k, v in got.items()} == {k: v.frame.num_rows for k, v in tables.items()}
    assert got["labs"].source_file == "omop_cdm.duckdb:MEASUREMENT"
    assert got["labs"].content_hash == file_sha256(db)
    assert next((r["code"], r["coding_system"]) for r in rows(got, "diagnoses")) == ("D50.9", "ICD10CM")


@pytest.mark.parametrize("missing", ["PERSON.csv", "measurement.csv", "drug_exposure.csv"])
def test_missing_required_table_is_a_user_error(tmp_path, missing):
    for f in FIXTURE.glob("*.csv"):
        if f.name != missing:
            shutil.copy(f, tmp_path / f.name)
    with pytest.raises(UserError, match=f"required table '{missing.split('.')[0].lower()}'"):
        read(tmp_path)


def test_two_files_for_one_table_is_a_user_error(tmp_path):
    for f in FIXTURE.glob("*.csv"):
        shutil.copy(f, tmp_path / f.name)
    shutil.copy(FIXTURE / "PERSON.csv", tmp_path / "person.csv.gz")
    with pytest.raises(UserError, match="two files for OMOP table 'person'"):
        read(tmp_path)


def test_missing_required_column_is_a_user_error(tmp_path):
    for f in FIXTURE.glob("*.csv"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "measurement.csv").write_text("measurement_id,person_id\n1,1\n")
    with pytest.raises(UserError, match="measurement.csv: required column 'measurement_date'"):
        read(tmp_path)


# --- OMOP quirks (issue 10 item 7): literal rows appended to the fixture, no concept table ----

_HEADER = (FIXTURE / "drug_exposure.csv").read_text().splitlines()[0].split(",")


def _drug_row(row_id, concept, start_date, start_dt, end_date, end_dt, days_supply, name="x"):
    values = dict.fromkeys(_HEADER, "")
    values.update(
        drug_exposure_id=str(row_id), person_id="1", drug_concept_id=concept, drug_exposure_start_date=start_date,
        drug_exposure_start_datetime=start_dt, drug_exposure_end_date=end_date, drug_exposure_end_datetime=end_dt,
        drug_type_concept_id="32838", days_supply=days_supply, drug_source_value=name,
    )  # fmt: skip
    return ",".join(values[c] for c in _HEADER)


QUIRKS = [
    # days_supply 0 = unknown; start datetime midnight of its date = date-only; OMOP ingredient id
    _drug_row(31, "1396131", "2024-03-01", "2024-03-01 00:00:00", "2024-03-28", "", "0"),
    # days_supply 1 is a real supply; a time one second after midnight is a time
    _drug_row(32, "0", "2024-03-01", "2024-03-01 00:00:01", "2024-03-01", "2024-03-01 00:00:00", "1"),
    # days_supply empty stays unknown; midnight of another day is not the date's midnight
    _drug_row(33, "0", "2024-03-01", "2024-03-02 00:00:00", "", "", ""),
]


@pytest.fixture()
def quirks(tmp_path):
    for f in FIXTURE.glob("*.csv"):
        if f.name != "CONCEPT.csv":
            shutil.copy(f, tmp_path / f.name)
    with open(tmp_path / "drug_exposure.csv", "a") as fh:
        fh.write("\n".join(QUIRKS) + "\n")
    text = (tmp_path / "measurement.csv").read_text()
    (tmp_path / "measurement.csv").write_text(
        text.replace("2024-01-02,2024-01-02 09:15:00", "2024-01-02,2024-01-02 00:00")
    )
    return tmp_path


def test_days_supply_zero_is_unknown_not_invalid(quirks):
    rx = {r["source_row"]: r for r in rows(read(quirks), "prescriptions")}
    assert [rx[n]["duration_days"] for n in (7, 8, 9)] == [None, "1", None]


def test_midnight_datetime_of_its_own_date_is_date_only(quirks):
    t = read(quirks)
    rx = {r["source_row"]: r for r in rows(t, "prescriptions")}
    assert (rx[7]["start_at"], rx[7]["end_at"]) == ("2024-03-01", "2024-03-28")
    assert (rx[8]["start_at"], rx[8]["end_at"]) == ("2024-03-01 00:00:01", "2024-03-01")
    assert (rx[9]["start_at"], rx[9]["end_at"]) == ("2024-03-02 00:00:00", None)
    assert rows(t, "labs")[0]["taken_at"] == "2024-01-02"


def test_an_omop_ingredient_concept_id_maps_without_a_concept_table(quirks, tmp_path):
    """drug_concept_id 1396131 (RxNorm ingredient ferrous sulfate) with no concept table is an
    iron prescription; its days_supply 0 is staged as unknown, not quarantined."""
    from pipeline import steps
    from pipeline.config import load_config
    from pipeline.engine import connect

    cfg = load_config()
    steps.load("omop", quirks, tmp_path / "w.duckdb", cfg)
    steps.validate(tmp_path / "w.duckdb", cfg)
    con = connect(tmp_path / "w.duckdb", read_only=True)
    stg = con.table("stg_prescriptions").execute().set_index("drug_code")
    assert bool(stg.loc["1396131", "has_iron"]) and stg.loc["1396131", "drug_class"] == "iron_oral"
    assert not bool(stg.loc["1396131", "start_has_time"])
    q = con.table("quarantine").execute()
    assert q[q.table_name == "prescriptions"].empty
    con.disconnect()
