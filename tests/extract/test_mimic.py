"""MIMIC-IV adapter: each mapped field on the hand-written fixture (tests/fixtures/mimic,
rows written by make_fixture.py), the traps, and the real demo when it is present."""

from __future__ import annotations

import csv
import gzip
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from pipeline.codes import load_drug_codes, load_lab_codes
from pipeline.config import load_config
from pipeline.errors import UserError
from pipeline.extract import mimic
from pipeline.extract.base import COLUMNS, file_sha256

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mimic"
DEMO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mimic-iv-demo" / "hosp"


@pytest.fixture(scope="module")
def tables():
    return {t.table: t for t in mimic.read(FIXTURE, load_config()).tables}


def rows(tables, name):
    return tables[name].frame.to_pylist()


def test_returns_every_table_with_contract_columns_as_text(tables):
    assert set(tables) == {"patients", "labs", "prescriptions", "dispensings", "diagnoses"}
    for name, t in tables.items():
        assert t.frame.column_names == [*list(COLUMNS[name]), "source_row"]
        assert all(str(f.type) == "string" for f in t.frame.schema if f.name != "source_row")


def test_source_file_and_hash_name_the_mimic_file(tables):
    expected = {
        "patients": "patients.csv.gz",
        "labs": "labevents.csv.gz",
        "prescriptions": "prescriptions.csv.gz",
        "dispensings": "emar.csv.gz",
        "diagnoses": "diagnoses_icd.csv.gz",
    }
    for name, file in expected.items():
        assert tables[name].source_file == file
        assert tables[name].content_hash == file_sha256(FIXTURE / file)


def test_patients_sex_and_birth_year_from_anchor_year_group(tables):
    p = {r["patient_id"]: r for r in rows(tables, "patients")}
    assert p["1001"]["sex"] == "F" and p["1002"]["sex"] == "M"
    # anchor_age 60 in anchor_year 2150, whose real span starts 2014 -> born 1954
    assert p["1001"]["birth_year"] == "1954"
    assert p["1002"]["birth_year"] == "1972"  # 2017 - 45
    # no anchor_year_group: no shift, so the shifted anchor year is used (2120 - 91)
    assert p["1003"]["birth_year"] == "2029"
    assert p["1001"]["site"] is None
    assert [r["source_row"] for r in rows(tables, "patients")] == [1, 2, 3]


def test_dates_move_back_whole_days_and_keep_intervals(tables):
    labs = rows(tables, "labs")
    assert labs[0]["taken_at"] == "2014-03-02 06:00:00"  # 2150-03-02 06:00 in the file
    rx = rows(tables, "prescriptions")[0]
    start, end = (datetime.fromisoformat(rx[k]) for k in ("start_at", "end_at"))
    assert end - start == datetime(2150, 3, 9, 12) - datetime(2150, 3, 2, 8)
    assert start - datetime.fromisoformat(labs[0]["taken_at"]) == datetime(2150, 3, 2, 8) - datetime(2150, 3, 2, 6)


def test_patient_without_anchor_year_group_keeps_dates_as_read(tables):
    lab = next(r for r in rows(tables, "labs") if r["patient_id"] == "1003")
    assert lab["taken_at"] == "2120-05-05 10:00:00"


def test_shift_can_be_switched_off():
    cfg = load_config().with_overrides({"mimic": {"shift_dates_to_anchor_year_group": False}})
    t = {t.table: t for t in mimic.read(FIXTURE, cfg).tables}
    assert t["labs"].frame.to_pylist()[0]["taken_at"] == "2150-03-02 06:00:00"
    assert t["patients"].frame.to_pylist()[0]["birth_year"] == "2090"


def test_labs_blood_item_keeps_label_value_unit_and_range(tables):
    r = rows(tables, "labs")[0]
    assert r == {
        "patient_id": "1001",
        "taken_at": "2014-03-02 06:00:00",
        "loinc": None,
        "test_name": "Ferritin",
        "value": "12",
        "unit": "ng/mL",
        "ref_low": "13",
        "ref_high": "150",
        "site": None,
        "source_row": 1,
    }


def test_labs_value_below_range_keeps_comparator(tables):
    r = rows(tables, "labs")[2]
    assert (r["test_name"], r["value"], r["unit"]) == ("Vitamin B12", "<150", "pg/mL")


def test_labs_multiline_comment_counts_as_one_source_row(tables):
    assert [r["source_row"] for r in rows(tables, "labs")] == list(range(1, 10))


def test_labs_other_fluids_are_prefixed_so_they_cannot_map(tables):
    names = [r["test_name"] for r in rows(tables, "labs")]
    assert "Ascites: Bilirubin, Total, Ascites" in names
    assert "Urine: Bilirubin" in names
    assert "Other Body Fluid: Iron" in names
    lab_names = set(load_lab_codes().query("code_system == 'NAME'")["match_key"])
    assert not {"urine: bilirubin", "other body fluid: iron"} & lab_names


def test_labs_unknown_unit_and_missing_item_pass_through_unguessed(tables):
    by_row = {r["source_row"]: r for r in rows(tables, "labs")}
    assert (by_row[6]["test_name"], by_row[6]["value"], by_row[6]["unit"]) == ("Ferritin", "40", "mmol/mol")
    assert by_row[7]["test_name"] == "MIMIC itemid 99999" and by_row[7]["unit"] is None
    assert by_row[9]["value"] == "___"  # de-identified value: validation quarantines it


def test_prescriptions_fields(tables):
    r = rows(tables, "prescriptions")[0]
    assert r == {
        "patient_id": "1001",
        "start_at": "2014-03-02 08:00:00",
        "end_at": "2014-03-09 12:00:00",
        "duration_days": None,
        "drug_code": "00245005301",
        "code_system": "NDC",
        "drug_name": "Ferrous Sulfate",
        "route": "oral",
        "dose_amount": "325",
        "dose_unit": "mg",
        "doses_per_day": "2",
        "quantity": None,
        "prescriber_specialty": None,
        "site": None,
        "source_row": 1,
    }


def test_prescriptions_ndc_zero_or_empty_is_no_code(tables):
    codes = {r["drug_name"]: (r["drug_code"], r["code_system"]) for r in rows(tables, "prescriptions")}
    assert codes["Spironolactone"] == (None, None)  # ndc '0'
    assert codes["BusPIRone"] == (None, None)  # ndc empty
    assert codes["Ferric Gluconate"] == (None, None)  # ndc all zeros
    assert codes["Heparin"] == ("63323026201", "NDC")


def test_prescriptions_routes(tables):
    routes = {r["drug_name"]: r["route"] for r in rows(tables, "prescriptions")}
    assert routes == {
        "Ferrous Sulfate": "oral",
        "FoLIC Acid": "oral",
        "Cyanocobalamin": "im",
        "Spironolactone": "oral",
        "BusPIRone": "oral",
        "Ferric Gluconate": "iv",
        "Heparin": "sc",
        "Lidocaine 5% Patch": "other",
        "Ferrous Sulfate (Liquid)": None,
    }


def test_spironolactone_and_buspirone_names_match_no_iron_entry(tables):
    drugs = load_drug_codes()
    iron = drugs[(drugs.code_system == "NAME") & drugs.has_iron]
    hits = {
        r["drug_name"]
        for r in rows(tables, "prescriptions")
        if any(re.search(p, r["drug_name"].lower()) for p in iron.pattern)
    }
    assert hits == {"Ferrous Sulfate", "Ferric Gluconate", "Ferrous Sulfate (Liquid)"}


def test_dispensings_are_emar_administrations_only(tables):
    d = rows(tables, "dispensings")
    assert [(r["source_row"], r["drug_name"]) for r in d] == [
        (1, "Ferrous Sulfate"),
        (3, "Ferrous Sulfate"),
        (5, "Spironolactone"),
    ]
    assert d[0] == {
        "patient_id": "1001",
        "dispensed_at": "2014-03-02 08:10:00",
        "drug_code": None,
        "code_system": None,
        "drug_name": "Ferrous Sulfate",
        "quantity": "1",
        "days_supply": "1",
        "site": None,
        "source_row": 1,
    }
    assert "2 other events" in tables["dispensings"].notes[0]


def test_diagnoses_icd9_and_icd10_with_admission_time(tables):
    d = rows(tables, "diagnoses")
    assert [(r["code"], r["coding_system"]) for r in d] == [
        ("2800", "ICD9CM"),
        ("D509", "ICD10CM"),
        ("K921", "ICD10CM"),
        ("5789", "ICD9CM"),
    ]
    assert d[0]["recorded_at"] == "2014-03-01 10:30:00"  # admittime 2150-03-01 10:30, shifted
    assert d[3]["recorded_at"] is None  # hadm_id not in admissions


def test_optional_files_absent_give_no_table(tmp_path):
    for f in FIXTURE.glob("*.csv.gz"):
        if f.name not in ("emar.csv.gz", "diagnoses_icd.csv.gz"):
            shutil.copy(f, tmp_path / f.name)
    assert {t.table for t in mimic.read(tmp_path, load_config()).tables} == {"patients", "labs", "prescriptions"}


def test_accepts_the_mimic_root_holding_hosp(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "hosp")
    assert len(mimic.read(tmp_path, load_config()).tables) == 5


@pytest.mark.parametrize("missing", ["patients", "labevents", "d_labitems", "prescriptions"])
def test_missing_required_file_is_a_user_error_naming_it(tmp_path, missing):
    for f in FIXTURE.glob("*.csv.gz"):
        if f.name != f"{missing}.csv.gz":
            shutil.copy(f, tmp_path / f.name)
    with pytest.raises(UserError, match=f"{missing}.csv.gz"):
        mimic.read(tmp_path, load_config())


def test_missing_required_column_is_a_user_error_naming_it(tmp_path):
    shutil.copytree(FIXTURE, tmp_path, dirs_exist_ok=True)
    with gzip.open(tmp_path / "patients.csv.gz", "wt") as fh:
        fh.write("subject_id,sex,anchor_age,anchor_year\n1,F,50,2150\n")
    with pytest.raises(UserError, match="patients.csv.gz: required column 'gender'"):
        mimic.read(tmp_path, load_config())


# ---------------------------------------------------------------- the real MIMIC-IV demo


def _count_records(path: Path, keep=lambda row: True) -> int:
    with gzip.open(path, "rt", newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return sum(1 for row in reader if keep(row))


@pytest.mark.mimic
@pytest.mark.skipif(not DEMO.is_dir(), reason="MIMIC-IV demo not present at ../shared/data/mimic-iv-demo")
def test_real_demo():
    tables = {t.table: t for t in mimic.read(DEMO, load_config()).tables}
    sources = {
        "patients": "patients",
        "labs": "labevents",
        "prescriptions": "prescriptions",
        "diagnoses": "diagnoses_icd",
    }
    for table, file in sources.items():
        n = _count_records(DEMO / f"{file}.csv.gz")
        assert tables[table].frame.num_rows == n, table
        assert tables[table].frame.column("source_row").to_pylist() == list(range(1, n + 1)), table
    events = mimic._read_codelist("mimic_emar_events.csv")
    doses = {e.lower() for e, ok in zip(events.event_txt, events.counts_as_dose, strict=False) if ok == "true"}
    n_doses = _count_records(DEMO / "emar.csv.gz", lambda r: (r["event_txt"] or "").strip().lower() in doses)
    assert tables["dispensings"].frame.num_rows == n_doses
    # every date moved out of MIMIC's 2100-2200 range (all demo patients have anchor_year_group)
    assert max(tables["labs"].frame.column("taken_at").to_pylist()) < "2030"


@pytest.mark.mimic
@pytest.mark.skipif(not DEMO.is_dir(), reason="MIMIC-IV demo not present at ../shared/data/mimic-iv-demo")
def test_real_demo_item_names_agree_with_the_itemid_code_list():
    """Each MIMIC_ITEMID entry of lab_analytes.csv, named as the adapter names it, maps by
    NAME to the same analyte, so LOINC-less MIMIC labs land on the intended analyte."""
    codes = load_lab_codes()
    by_name = dict(
        zip(
            codes.loc[codes.code_system == "NAME", "match_key"],
            codes.loc[codes.code_system == "NAME", "analyte"],
            strict=False,
        )
    )
    with gzip.open(DEMO / "d_labitems.csv.gz", "rt", newline="") as fh:
        items = {r["itemid"]: r for r in csv.DictReader(fh)}
    for itemid, analyte in zip(
        codes.loc[codes.code_system == "MIMIC_ITEMID", "code"],
        codes.loc[codes.code_system == "MIMIC_ITEMID", "analyte"],
        strict=False,
    ):
        item = items[itemid]
        assert item["fluid"] == "Blood", itemid
        assert by_name.get(item["label"].strip().lower()) == analyte, (itemid, item["label"])


def _with_comment_rows(tmp_path: Path, extra: list[dict]) -> Path:
    """A copy of the fixture with extra labevents rows (value and valuenum empty)."""
    folder = tmp_path / "mimic"
    shutil.copytree(FIXTURE, folder)
    with gzip.open(FIXTURE / "labevents.csv.gz", "rt", newline="") as f:
        reader = csv.DictReader(f)
        header, old = reader.fieldnames, list(reader)
    with gzip.open(folder / "labevents.csv.gz", "wt", newline="") as f:
        w = csv.DictWriter(f, header)
        w.writeheader()
        w.writerows(old)
        for i, row in enumerate(extra):
            w.writerow({**old[0], "labevent_id": str(100 + i), "value": "", "valuenum": "", **row})
    return folder


@pytest.mark.parametrize(
    "comment, value",
    [
        ("GREATER THAN 2000.", ">2000"),
        ("GREATER THAN 20 NG/ML.", ">20"),
        (">2000*.", ">2000"),
        ("LESS THAN 5 NG/ML", "<5"),
        ("<0.01.  cTropnT > 0.10 ng/mL suggests Acute MI.", "<0.01"),
        ("<=0.1", "<=0.1"),
        ("UNABLE TO REPORT.", None),
        ("HOLD.  DISCARD GREATER THAN 8 HOURS OLD.", None),
        ("___", None),
        ("", None),
    ],
)
def test_labs_result_only_in_comments_becomes_the_value(tmp_path, comment, value):
    folder = _with_comment_rows(tmp_path, [{"itemid": "51010", "valueuom": "pg/mL", "comments": comment}])
    labs = {t.table: t for t in mimic.read(folder, load_config()).tables}["labs"].frame.to_pylist()
    assert labs[-1]["value"] == value


def test_labs_comment_never_overrides_a_value(tmp_path):
    folder = _with_comment_rows(tmp_path, [{"itemid": "51010", "value": "250", "valuenum": "250", "comments": "<5"}])
    labs = {t.table: t for t in mimic.read(folder, load_config()).tables}["labs"].frame.to_pylist()
    assert labs[-1]["value"] == "250"
