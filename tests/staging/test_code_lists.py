"""Code lists (issue 10 item 8): literal diagnoses and labs through load and validate, then one
B12 and one folate episode through classify.

- marrow metastases are ICD-10 C79.5 only: C79.5x inside, C79.0 / C79.9 outside (they are
  other sites: active cancer); a diagnosis without a code is quarantined;
- H. pylori: WHO ICD-10 B98.0 and ICD-10-CM B96.81 inside, B96.8 (other named bacteria) outside;
- red-cell folate LOINC 2283-0 and 2282-2, serum folate 2284-8 outside; holotranscobalamin
  LOINC 72160-5, B12 binding capacity 2171-7 outside; a test with no LOINC maps by its name."""

from __future__ import annotations

import pytest

from tests.conftest import GOOD_LAB, GOOD_PATIENT, GOOD_RX

DIAGNOSES = {
    "C79.5": ("C79.5", "ICD10", "marrow_metastases"),
    "C79.52": ("C79.52", "ICD10CM", "marrow_metastases"),
    "C79.9": ("C79.9", "ICD10", "active_cancer"),
    "C79.0": ("C79.0", "ICD10", "active_cancer"),
    "B98.0": ("B98.0", "ICD10", "h_pylori"),
    "B96.81": ("B96.81", "ICD10CM", "h_pylori"),
    "B96.8": ("B96.8", "ICD10", None),
    "041.86": ("041.86", "ICD9CM", "h_pylori"),
}
LABS = {
    "2283-0": ("2283-0", "", "400", "ng/mL", "rbc_folate"),
    "2282-2": ("2282-2", "", "400", "ng/mL", "rbc_folate"),
    "2284-8": ("2284-8", "", "8", "ng/mL", "folate"),
    "72160-5": ("72160-5", "", "30", "pmol/L", "holotc"),
    "2171-7": ("2171-7", "Vitamin B12 binding capacity", "1000", "pg/mL", None),
    "name_only": ("", "RBC folate", "400", "ng/mL", "rbc_folate"),
}


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    from pipeline import steps
    from pipeline.config import load_config
    from tests.conftest import load_and_validate, write_input

    tmp = tmp_path_factory.mktemp("codes")
    dx = [
        {"patient_id": "P1", "code": c, "coding_system": s, "recorded_at": "2024-01-01"}
        for c, s, _ in DIAGNOSES.values()
    ]
    dx.append({"patient_id": "P1", "code": "", "coding_system": "ICD10", "recorded_at": "2024-01-01"})
    labs = [
        {
            **GOOD_LAB,
            "loinc": c,
            "test_name": n,
            "value": v,
            "unit": u,
            "taken_at": "2024-01-20" if c == "2284-8" else "2024-01-08",
        }
        for c, n, v, u, _ in LABS.values()
    ]
    rx = [
        {**GOOD_RX, "drug_code": "B03BA03", "drug_name": "Hydroxocobalamin", "dose_unit": "mL"},
        {**GOOD_RX, "drug_code": "B03BB01", "drug_name": "Folic acid 5mg", "dose_amount": "5", "dose_unit": "mg"},
    ]
    folder = write_input(tmp / "in", patients=[GOOD_PATIENT], labs=labs, prescriptions=rx, diagnoses=dx)
    db = tmp / "w.duckdb"
    con, _ = load_and_validate(folder, db)
    staged = {
        "diagnoses": con.table("stg_diagnoses").execute().sort_values("row_id"),
        "labs": con.table("stg_labs").execute().sort_values("row_id"),
        "quarantine": con.table("quarantine").execute(),
    }
    con.disconnect()
    steps.classify(db, load_config())
    from pipeline.engine import connect

    con = connect(db, read_only=True)
    staged["episodes"] = con.table("episodes").execute().set_index("agent")
    con.disconnect()
    return staged


@pytest.mark.parametrize("code", list(DIAGNOSES))
def test_condition_group_of_each_code(out, code):
    groups = dict(zip(out["diagnoses"].code, out["diagnoses"].condition_group, strict=True))
    expected = DIAGNOSES[code][2]
    got = groups[code.replace(".", "")]
    assert (None if got != got else got) == expected


def test_a_diagnosis_without_a_code_is_quarantined(out):
    q = out["quarantine"]
    assert len(out["diagnoses"]) == len(DIAGNOSES)
    assert set(q[q.table_name == "diagnoses"].check_id) == {"missing_code"}


@pytest.mark.parametrize("case", list(LABS))
def test_analyte_of_each_lab_code(out, case):
    got = out["labs"].analyte.tolist()[list(LABS).index(case)]
    assert (None if got != got else got) == LABS[case][4]


def test_holotranscobalamin_and_red_cell_folate_count_as_prior_tests(out):
    """The only B12-type test before the start is the holotranscobalamin (2171-7 is not one);
    the only folate-type tests before it are red-cell folates (the serum folate is after)."""
    ep = out["episodes"]
    assert ep.loc["b12", "testing_status"] == "tested_before"
    assert ep.loc["folate", "testing_status"] == "tested_before"
