"""Values (issue 12, item 5): every date form docs/data-contract.md accepts is read as it says
(an offset from UTC converted to UTC, never cut off), every other form is quarantined with
its value named; a reference limit that is text, a comma decimal, infinite or overflowing is
quarantined, never nulled or staged. Raw rows = staged + quarantined throughout."""

from datetime import date, datetime

import pytest

from tests.conftest import GOOD_LAB, GOOD_PATIENT, GOOD_RX, load_and_validate, write_input

TODAY = date(2025, 6, 30)

# The documented forms (docs/data-contract.md "Dates") and what they must be read as.
ACCEPTED = {
    "2024-03-01": (datetime(2024, 3, 1), False),
    "2024-03-01 14:30": (datetime(2024, 3, 1, 14, 30), True),
    "2024-03-01T14:30": (datetime(2024, 3, 1, 14, 30), True),
    "2024-03-01 9:15": (datetime(2024, 3, 1, 9, 15), True),
    "2024-03-01T14:30:15": (datetime(2024, 3, 1, 14, 30, 15), True),
    "2024-03-01 14:30:15.250": (datetime(2024, 3, 1, 14, 30, 15, 250000), True),
    "2024-03-01T14:30Z": (datetime(2024, 3, 1, 14, 30), True),
    "2024-03-01T16:30+02:00": (datetime(2024, 3, 1, 14, 30), True),
    "2024-03-01 09:30-0500": (datetime(2024, 3, 1, 14, 30), True),
    "2024-03-01T23:30:00-03": (datetime(2024, 3, 2, 2, 30), True),  # crosses midnight into the next day
    " 2024-03-01 ": (datetime(2024, 3, 1), False),  # surrounding spaces are trimmed
}
# Undocumented forms: each is quarantined as bad_taken_at, naming the value.
REFUSED = [
    "01/03/2024", "03/01/2024", "2024/03/01", "20240301", "1 Mar 2024", "March 1, 2024", "2024-3-1",
    "2024-03-01T14", "2024-03-01 14:30 PM", "2024-03-01+02:00", "2024-02-30", "2024-13-01", "2024-03-01T25:00",
    "45352", "yesterday", "2024-03-01T14:30:15.1234567",
]  # fmt: skip
OUT_OF_RANGE = {"1850-01-01": "old_taken_at", "2150-01-01": "future_taken_at", "1899-12-31 23:59": "old_taken_at"}


def _labs(values: list[str], column="taken_at", **extra) -> list[dict]:
    return [{**GOOD_LAB, column: v, "value": f"{10 + i / 100:.2f}", **extra} for i, v in enumerate(values)]


def _quarantine(con, table="labs"):
    return con.con.execute(
        "select source_row, check_id, reason from quarantine where table_name = ? order by source_row, check_id",
        [table],
    ).fetchall()


def _reconciled(recon, table: str, raw: int, staged: int) -> None:
    r = next(r for r in recon if r["table_name"] == table)
    assert (r["raw_rows"], r["staged_rows"], r["quarantined_rows"]) == (raw, staged, raw - staged)


def test_every_documented_date_form_is_read_as_documented(tmp_path):
    values = list(ACCEPTED)
    folder = write_input(tmp_path / "in", patients=[GOOD_PATIENT], labs=_labs(values))
    con, recon = load_and_validate(folder, tmp_path / "w.duckdb", today=TODAY)
    assert _quarantine(con) == []
    got = con.con.execute(
        "select r.taken_at, s.taken_at, s.taken_at_has_time from stg_labs s join raw_labs r using (row_id) "
        "order by r.source_row"
    ).fetchall()
    assert [(raw, (ts, has)) for raw, ts, has in got] == list(ACCEPTED.items())
    _reconciled(recon, "labs", len(values), len(values))


def test_undocumented_date_forms_are_quarantined_naming_the_value(tmp_path):
    folder = write_input(tmp_path / "in", patients=[GOOD_PATIENT], labs=_labs(REFUSED))
    con, recon = load_and_validate(folder, tmp_path / "w.duckdb", today=TODAY)
    q = _quarantine(con)
    assert [(row, check) for row, check, _ in q] == [(i, "bad_taken_at") for i in range(1, len(REFUSED) + 1)]
    for (_, _, reason), value in zip(q, REFUSED, strict=True):
        assert reason == f"'{value}' in taken_at is not a date; use YYYY-MM-DD or YYYY-MM-DD HH:MM"
    _reconciled(recon, "labs", len(REFUSED), 0)


def test_dates_in_1850_and_2150_are_quarantined(tmp_path):
    folder = write_input(tmp_path / "in", patients=[GOOD_PATIENT], labs=_labs(list(OUT_OF_RANGE)))
    con, recon = load_and_validate(folder, tmp_path / "w.duckdb", today=TODAY)
    assert [(row, check) for row, check, _ in _quarantine(con)] == [
        (i, check) for i, check in enumerate(OUT_OF_RANGE.values(), 1)
    ]
    _reconciled(recon, "labs", len(OUT_OF_RANGE), 0)


def test_the_same_forms_hold_in_every_table(tmp_path):
    """One parser for every date column: an offset is converted in prescriptions and patients
    too, and a slashed date is refused there."""
    rx = {**GOOD_RX, "start_at": "2024-03-01T16:30+02:00"}
    patients = [{**GOOD_PATIENT, "patient_id": "P2", "pregnancy_start": "01/02/2024"}, GOOD_PATIENT]
    folder = write_input(tmp_path / "in", patients=patients, prescriptions=[rx])
    con, _ = load_and_validate(folder, tmp_path / "w.duckdb", today=TODAY)
    assert con.con.execute("select start_at from stg_prescriptions").fetchall() == [(datetime(2024, 3, 1, 14, 30),)]
    assert [c for _, c, _ in _quarantine(con, "patients")] == ["bad_pregnancy_start"]


BAD_LIMITS = ["abc", "1,5", "inf", "-Infinity", "1e999", "15 ng/mL", "<5"]
GOOD_LIMITS = {"15": 15.0, "2.5": 2.5, ".5": 0.5, "1e1": 10.0, "NA": None, "": None, "NaN": None}


@pytest.mark.parametrize("column", ["ref_low", "ref_high"])
def test_a_reference_limit_that_is_not_a_finite_number_is_quarantined(tmp_path, column):
    values = BAD_LIMITS + list(GOOD_LIMITS)
    labs = [{**GOOD_LAB, "taken_at": f"2024-01-{i:02d}", column: v} for i, v in enumerate(values, 1)]
    folder = write_input(tmp_path / "in", patients=[GOOD_PATIENT], labs=labs)
    con, recon = load_and_validate(folder, tmp_path / "w.duckdb", today=TODAY)
    q = _quarantine(con)
    assert [(row, check) for row, check, _ in q] == [(i, f"bad_{column}") for i in range(1, len(BAD_LIMITS) + 1)]
    for (_, _, reason), value in zip(q, BAD_LIMITS, strict=True):
        assert reason == f"'{value}' in {column} is not a finite number (use a decimal point: 1.5)"
    # Hb is in g/dL (factor 10 to the canonical g/L): the limits are converted like the value
    staged = con.con.execute(f"select {column} from stg_labs order by taken_at").fetchall()
    assert [v for (v,) in staged] == [None if g is None else g * 10 for g in GOOD_LIMITS.values()]
    _reconciled(recon, "labs", len(values), len(GOOD_LIMITS))
