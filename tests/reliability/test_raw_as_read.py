"""Raw is as read (issue 12, item 4): `NA`, `N/A`, `NULL`, `#N/A` ... reach raw_* as the text in
the file; only an empty unquoted field is null. Staging decides: a required value that is such a
marker is quarantined with a reason naming the marker, and exact duplicates compare cleaned
values (quoted empty = unquoted empty)."""

import csv
import io

import pytest

from tests.conftest import GOOD_PATIENT, load_and_validate, write_input

# Every marker pyarrow or pandas would read as null by default, and a few more.
MARKERS = [
    "NA", "N/A", "n/a", "NULL", "null", "Null", "NaN", "nan", "-NaN", "#N/A", "#N/A N/A", "#NA",
    "None", "none", "nil", "<NA>", "1.#IND", "-1.#QNAN",
]  # fmt: skip
LAB_HEADER = "patient_id,taken_at,loinc,test_name,value,unit,ref_low,ref_high,site"


def _labs_file(folder, body: str):
    (folder / "labs.csv").write_text(f"{LAB_HEADER}\n{body}", encoding="utf-8")


def _as_python_reads(text: str) -> list[list[str | None]]:
    """Independent oracle: the csv module's cells, with an unquoted empty field as None."""
    out = []
    for line in text.splitlines()[1:]:
        cells = next(csv.reader(io.StringIO(line)))
        quoted_empty = [c == '""' for c in line.split(",")]
        out.append([None if (c == "" and not q) else c for c, q in zip(cells, quoted_empty, strict=True)])
    return out


def test_missing_markers_reach_raw_as_the_text_in_the_file(tmp_path):
    folder = write_input(tmp_path / "in", patients=[GOOD_PATIENT])
    rows = [f"P1,2024-01-05,718-7,{m},{m},g/dL,{m},,{m}" for m in MARKERS]
    rows += ['P1,2024-01-06,718-7,"",10.5,g/dL,"",,', 'P1,2024-01-07,718-7," NA ",10.5,g/dL,,,"null"']
    body = "\n".join(rows) + "\n"
    _labs_file(folder, body)
    con, _ = load_and_validate(folder, tmp_path / "w.duckdb")
    got = con.con.execute(f"select {LAB_HEADER} from raw_labs order by source_row").fetchall()
    assert [list(r) for r in got] == _as_python_reads(f"{LAB_HEADER}\n{body}")
    assert got[0][3] == "NA" and got[len(MARKERS)][3] == "" and got[len(MARKERS)][7] is None
    assert sum(r[3] == r[8] == m for r, m in zip(got, MARKERS, strict=False)) == len(MARKERS)


@pytest.mark.parametrize("marker", ["NA", "N/A", "NULL", "#N/A", "none"])
def test_a_required_value_that_is_a_marker_is_quarantined_naming_the_marker(tmp_path, marker):
    folder = write_input(tmp_path / "in", patients=[GOOD_PATIENT])
    _labs_file(
        folder,
        f"P1,2024-01-05,718-7,,10.5,g/dL,,,\n{marker},2024-01-05,718-7,,10.5,g/dL,,,\n,2024-01-05,718-7,,1,g/dL,,,\n",
    )
    con, recon = load_and_validate(folder, tmp_path / "w.duckdb")
    q = con.con.execute(
        "select source_row, reason from quarantine where table_name = 'labs' and check_id = 'missing_patient_id' "
        "order by source_row"
    ).fetchall()
    assert q == [
        (2, f"patient_id is '{marker}' (a missing-value marker); it is required"),
        (3, "patient_id is empty; it is required"),
    ]
    labs = next(r for r in recon if r["table_name"] == "labs")
    assert (labs["raw_rows"], labs["staged_rows"], labs["quarantined_rows"]) == (3, 1, 2)


@pytest.mark.parametrize("marker", ["NA", "NULL", "#N/A", "-nan"])
def test_a_lab_value_that_is_a_marker_is_quarantined_naming_the_marker(tmp_path, marker):
    # Hb (718-7) is not a qualifying deficiency test, so it needs a value
    folder = write_input(tmp_path / "in", patients=[GOOD_PATIENT])
    _labs_file(
        folder,
        f"P1,2024-01-05,718-7,,{marker},g/dL,,,\nP1,2024-01-06,718-7,,,g/dL,,,\nP1,2024-01-07,718-7,,11,g/dL,,,\n",
    )
    con, recon = load_and_validate(folder, tmp_path / "w.duckdb")
    q = con.con.execute(
        "select source_row, reason from quarantine where table_name = 'labs' and check_id = 'missing_value' "
        "order by source_row"
    ).fetchall()
    assert q == [(1, f"value is '{marker}' (a missing-value marker); it is required"),
                 (2, "value is empty; it is required")]  # fmt: skip
    labs = next(r for r in recon if r["table_name"] == "labs")
    assert (labs["raw_rows"], labs["staged_rows"], labs["quarantined_rows"]) == (3, 1, 2)


def test_a_marker_in_an_optional_column_is_staged_as_missing(tmp_path):
    folder = write_input(tmp_path / "in", patients=[{**GOOD_PATIENT, "site": "N/A"}])
    con, _ = load_and_validate(folder, tmp_path / "w.duckdb")
    assert con.con.execute("select site from raw_patients").fetchall() == [("N/A",)]
    assert con.con.execute("select site from stg_patients").fetchall() == [(None,)]


def test_exact_duplicates_compare_cleaned_values(tmp_path):
    folder = write_input(tmp_path / "in", patients=[GOOD_PATIENT])
    header = "patient_id,start_at,end_at,drug_code,code_system,drug_name,route,quantity"
    rx = "P1,2024-01-10,{end},B03AA07,ATC,Ferrous sulfate 200 mg tablets,oral,28"
    lines = [rx.format(end=""), rx.format(end='""'), rx.format(end="NA"), rx.format(end="2024-02-10")]
    (folder / "prescriptions.csv").write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    con, _ = load_and_validate(folder, tmp_path / "w.duckdb")
    raw_end = con.con.execute("select end_at from raw_prescriptions order by source_row").fetchall()
    assert raw_end == [(None,), ("",), ("NA",), ("2024-02-10",)]  # as read: three different raw values
    dups = con.con.execute(
        "select source_row from quarantine where table_name = 'prescriptions' and check_id = 'exact_duplicate' "
        "order by source_row"
    ).fetchall()
    assert dups == [(2,), (3,)]  # same row as row 1 once cleaned; row 4 differs
    assert con.con.execute("select count(*) from stg_prescriptions").fetchone() == (2,)
