"""The exact-duplicate search (`staging.common.first_row_ids`): a hash of the cleaned values
picks the candidates, the values themselves decide. Run on a real DuckDB connection."""

import ibis
import pandas as pd

from pipeline.staging.common import DUP_HASH, first_row_ids, prepared, with_first_row_id

COLUMNS = ("patient_id", "value")


def _first_rows(con, t: ibis.Table) -> dict[int, int]:
    found = first_row_ids(t, COLUMNS).to_pandas()
    return dict(zip(found.row_id, found._first_row_id, strict=True))


def test_rows_sharing_a_hash_but_not_their_values_are_not_duplicates():
    con = ibis.duckdb.connect()
    rows = pd.DataFrame(
        {
            "row_id": [1, 2, 3, 4],
            "_c_patient_id": ["P1", "P1", "P1", "P2"],
            "_c_value": ["10", "11", "10", "10"],
            DUP_HASH: [7, 7, 7, 7],  # every row collides
        }
    )
    assert _first_rows(con, con.create_table("t", rows)) == {3: 1}


def test_cleaned_values_decide_so_markers_and_spaces_do_not_count():
    con = ibis.duckdb.connect()
    raw = pd.DataFrame(
        {
            "row_id": [10, 11, 12, 13, 14],
            "patient_id": ["P1", " P1 ", "P1", "P1", "P2"],
            "value": ["NA", "", None, "5", None],
        }
    )
    t = prepared(con.create_table("raw", raw), COLUMNS)
    assert _first_rows(con, t) == {11: 10, 12: 10}


def test_every_row_gets_its_first_row_id():
    con = ibis.duckdb.connect()
    t = con.create_table("t", pd.DataFrame({"row_id": [1, 2, 3], "x": ["a", "b", "c"]}))
    dups = con.create_table("d", pd.DataFrame({"row_id": [3], "_first_row_id": [1]}))
    out = with_first_row_id(t, dups).order_by("row_id").to_pandas()
    assert out._first_row_id.tolist() == [1, 2, 1]
    assert out.columns.tolist() == ["row_id", "x", "_first_row_id"]
