"""Code-list coverage: every source lab and drug name no code list maps, most frequent first.
Literal raw tables in a real DuckDB file; one scenario per test."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from pipeline.explain.coverage import RESULT_COLUMNS, unmapped


def lab(row_id, test_name, loinc=None):
    return {"row_id": row_id, "loinc": loinc, "test_name": test_name}


def drug(row_id, drug_name, drug_code=None, code_system=None):
    return {"row_id": row_id, "drug_code": drug_code, "code_system": code_system, "drug_name": drug_name}


@pytest.fixture()
def con(tmp_path):
    return ibis.duckdb.connect(str(tmp_path / "audit.duckdb"))


def put(con, name, records):
    df = pd.DataFrame.from_records(records).astype({"row_id": "int64"})
    for col in df.columns.drop("row_id"):
        df[col] = df[col].astype("string")
    con.create_table(name, ibis.memtable(df), overwrite=True)


def as_tuples(df):
    return [tuple(None if pd.isna(v) else v for v in row) for row in df.itertuples(index=False)]


def test_no_raw_tables_gives_an_empty_frame_with_the_columns(con):
    out = unmapped(con)
    assert list(out.columns) == list(RESULT_COLUMNS) and out.empty


LABS = [
    lab(1, "Ferritin"),
    lab(2, "Hemoglobin A1c"),
    lab(3, "Hemoglobin A1c"),
    lab(4, "Urine: Iron, Urine"),
    lab(5, "Sodium"),
]


def test_every_unmapped_lab_name_is_listed_with_its_count_most_frequent_first(con):
    put(con, "raw_labs", LABS)
    assert as_tuples(unmapped(con)) == [
        ("labs", None, "Hemoglobin A1c", 2),
        ("labs", None, "Sodium", 1),
        ("labs", None, "Urine: Iron, Urine", 1),
    ]


def test_keywords_only_narrows_to_names_that_mention_a_keyword(con):
    put(con, "raw_labs", LABS)
    assert as_tuples(unmapped(con, keywords_only=True)) == [
        ("labs", None, "Hemoglobin A1c", 2),
        ("labs", None, "Urine: Iron, Urine", 1),
    ]


def test_a_drug_name_without_any_keyword_is_listed(con):
    """An unknown brand mentions no keyword (issue 10: 'Galfer' was never listed); Galfer
    itself is now in drugs.csv and is not."""
    put(
        con,
        "raw_prescriptions",
        [drug(1, "Ironorm"), drug(2, "Fictifer 100"), drug(3, "Fictifer 100"), drug(4, "Galfer")],
    )
    assert as_tuples(unmapped(con)) == [
        ("prescriptions", None, "Fictifer 100", 2),
        ("prescriptions", None, "Ironorm", 1),
    ]
    assert as_tuples(unmapped(con, keywords_only=True)) == []


def test_lab_mapped_by_loinc_is_not_listed_even_with_an_odd_name(con):
    put(con, "raw_labs", [lab(1, "Ferritin (send-out)", "2276-4"), lab(2, "Ferritin (send-out)", "99999-9")])
    assert as_tuples(unmapped(con)) == [("labs", "99999-9", "Ferritin (send-out)", 1)]


def test_lab_name_match_ignores_case_and_spaces(con):
    put(con, "raw_labs", [lab(1, "  VITAMIN B12 "), lab(2, "B12 binding")])
    assert as_tuples(unmapped(con)) == [("labs", None, "B12 binding", 1)]


def test_lab_mapped_at_staging_is_not_listed(con):
    put(con, "raw_labs", [lab(1, "Haemoglobin POC"), lab(2, "Haemoglobin POC")])
    con.create_table("stg_labs", ibis.memtable(pd.DataFrame({"row_id": [1, 2], "analyte": ["hb", None]})))
    assert as_tuples(unmapped(con)) == [("labs", None, "Haemoglobin POC", 1)]


def test_spironolactone_and_buspirone_are_not_in_the_iron_domain(con):
    put(con, "raw_prescriptions", [drug(1, "Spironolactone"), drug(2, "BusPIRone"), drug(3, "Iron tablets")])
    assert as_tuples(unmapped(con, keywords_only=True)) == [("prescriptions", None, "Iron tablets", 1)]


def test_drug_mapped_by_whole_word_name_is_not_listed(con):
    put(
        con,
        "raw_prescriptions",
        [
            drug(1, "Ferrous Sulfate (Liquid)"),
            drug(2, "FoLIC Acid"),
            drug(3, "Cyanocobalamin"),
            drug(4, "Ferrlecit"),
            drug(5, "Vitamin B-12 1000mcg"),
            drug(6, "Velphoro 500mg"),
            drug(7, "Ferrous-Gluc"),
        ],
    )
    assert as_tuples(unmapped(con)) == [("prescriptions", None, "Ferrous-Gluc", 1)]


def test_drug_mapped_by_code_or_atc_prefix_is_not_listed(con):
    put(
        con,
        "raw_prescriptions",
        [
            drug(1, "Ferro-Grad", "B03AA07", "ATC"),
            drug(2, "Ferro-Grad", "B03AA99", "atc"),
            drug(3, "Ferro-Grad", "1234567890", "NDC"),
            drug(4, "Fergon B12 tabs", "24941", "RXNORM"),
        ],
    )
    assert as_tuples(unmapped(con)) == [("prescriptions", "NDC:1234567890", "Ferro-Grad", 1)]


def test_dispensings_are_a_separate_domain_and_staged_agents_hide_rows(con):
    put(con, "raw_dispensings", [drug(1, "Iron syrup"), drug(2, "Iron syrup"), drug(3, "Iron syrup")])
    stg = pd.DataFrame(
        {
            "row_id": [1, 2, 3],
            "has_iron": [True, False, False],
            "has_b12": [False] * 3,
            "has_folate": [False] * 3,
            "drug_class": pd.Series([None, None, None], dtype="string"),
        }
    )
    con.create_table("stg_dispensings", ibis.memtable(stg))
    assert as_tuples(unmapped(con)) == [("dispensings", None, "Iron syrup", 2)]


def test_order_and_limit(con):
    put(con, "raw_labs", [lab(1, "Iron stain"), lab(2, "Methemoglobin"), lab(3, "Methemoglobin")])
    put(con, "raw_prescriptions", [drug(1, "Ferrimax"), drug(2, "Ferrimax"), drug(3, "Ferrimax")])
    assert as_tuples(unmapped(con)) == [
        ("prescriptions", None, "Ferrimax", 3),
        ("labs", None, "Methemoglobin", 2),
        ("labs", None, "Iron stain", 1),
    ]
    assert as_tuples(unmapped(con, limit=1)) == [("prescriptions", None, "Ferrimax", 3)]


def test_cli_codes_lists_every_name_or_only_keyword_names(tmp_path):
    """`anemia-audit codes --unmapped` on a real warehouse file: every unmapped name, most
    frequent first; `--keywords` only names that mention a keyword."""
    import subprocess
    import sys

    db = tmp_path / "audit.duckdb"
    con = ibis.duckdb.connect(str(db))
    put(con, "raw_prescriptions", [drug(1, "Fictifer 100"), drug(2, "Fictifer 100"), drug(3, "Iron tonic")])
    con.disconnect()
    run = lambda *a: subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "codes", *a, "--db", str(db)], capture_output=True, text=True
    )
    every, keywords = run("--unmapped"), run("--keywords")
    assert every.returncode == keywords.returncode == 0, every.stderr + keywords.stderr
    lines = every.stdout.splitlines()
    assert "Fictifer 100" in lines[1] and "2" in lines[1] and "Iron tonic" in lines[2]
    assert "Fictifer" not in keywords.stdout and "Iron tonic" in keywords.stdout
