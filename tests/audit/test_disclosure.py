"""Disclosure control: primary suppression at the threshold, secondary suppression so no
withheld cell can be worked out from totals, rounding; and a Hypothesis property test on
random cohorts."""

from datetime import date

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.audit.disclosure import apply, primary_suppression, round_counts, rounding_interval

T = 7


@pytest.mark.parametrize(
    "num, den, withheld",
    [
        (0, 100, False),  # zero is not disclosive
        (1, 100, True),
        (7, 100, True),  # at the threshold
        (8, 100, False),  # just above
        (93, 100, True),  # complement 7
        (92, 100, False),  # complement 8
        (0, 7, True),  # small denominator
        (8, 8, False),  # complement 0, all counts above or zero
    ],
)
def test_primary_suppression_at_the_threshold(num, den, withheld):
    assert primary_suppression([num], [den], T).tolist() == [withheld]


@pytest.mark.parametrize("count, released", [(0, 0), (8, 10), (12, 10), (13, 15), (100, 100), (102, 100)])
def test_rounding_to_nearest_five(count, released):
    assert round_counts([count], 5, T).tolist() == [released]


def test_rounding_never_lands_in_the_small_range():
    assert round_counts([13], 10, 12).tolist() == [20]


@pytest.mark.parametrize("base, threshold", [(5, 7), (10, 12), (3, 7), (0, 7), (4, 10)])
def test_a_released_count_stands_for_exactly_the_counts_that_round_to_it(base, threshold):
    """rounding_interval is the inverse of round_counts: every count lies in the interval of
    what it was released as, and every count in that interval is released the same way."""
    counts = list(range(0, 120))
    released = round_counts(counts, base, threshold)
    lo, hi = rounding_interval(released, base, threshold)
    for c, r, a, b in zip(counts, released, lo, hi, strict=True):
        assert a <= c <= b
        within = [x for x in counts if a <= x <= b]
        assert all(v == r for v in round_counts(within, base, threshold)), (c, r, a, b)
        assert a == 0 or round_counts([int(a) - 1], base, threshold)[0] != r
        assert round_counts([int(b) + 1], base, threshold)[0] != r


def _cell(group_by, value, num, den, period_type="quarter", start=date(2024, 1, 1)):
    return {
        "measure_id": "m",
        "category": "all",
        "period_type": period_type,
        "period_start": start,
        "group_by": group_by,
        "group_value": value,
        "numerator": num,
        "denominator": den,
    }


def test_one_small_site_takes_the_next_smallest_with_it():
    t = pd.DataFrame(
        [
            _cell("all", "all", 63, 300),
            _cell("site", "A", 3, 50),
            _cell("site", "B", 20, 90),
            _cell("site", "C", 40, 160),
        ]
    )
    out = apply(t, T, 0)
    assert out.is_suppressed.tolist() == [False, True, True, False]
    assert out.suppression.tolist()[:3] == [None, "primary", "secondary"]
    assert out.released_numerator.isna().tolist() == [False, True, True, False]


def test_withheld_sites_must_not_add_up_to_a_small_number():
    # A (num 3) and B (num 0) withheld: total - C - D = 3, still small, so another goes
    t = pd.DataFrame(
        [
            _cell("all", "all", 63, 400),
            _cell("site", "A", 3, 50),
            _cell("site", "B", 0, 60),
            _cell("site", "C", 20, 90),
            _cell("site", "D", 40, 200),
        ]
    )
    out = apply(t, T, 0)
    assert out.is_suppressed.tolist() == [False, True, True, True, False]


def test_a_small_total_and_its_small_part_hide_each_other():
    # total = F + M: with both total and F withheld, neither can be worked out from M
    t = pd.DataFrame([_cell("all", "all", 5, 300), _cell("sex", "F", 5, 150), _cell("sex", "M", 0, 150)])
    out = apply(t, T, 0)
    assert out.is_suppressed.tolist() == [True, True, False]


def test_a_small_month_is_not_recoverable_from_its_quarter():
    t = pd.DataFrame(
        [
            _cell("all", "all", 50, 300),
            _cell("all", "all", 4, 60, "month", date(2024, 1, 1)),
            _cell("all", "all", 20, 110, "month", date(2024, 2, 1)),
            _cell("all", "all", 26, 130, "month", date(2024, 3, 1)),
        ]
    )
    out = apply(t, T, 0)
    assert out.is_suppressed.tolist() == [False, True, True, False]


def test_a_small_quarter_is_not_recoverable_from_its_year():
    year = [_cell("all", "all", 90, 500, "year", date(2024, 1, 1))]
    quarters = [_cell("all", "all", n, d, "quarter", date(2024, m, 1))
                for n, d, m in ((30, 150, 1), (5, 40, 4), (25, 150, 7), (30, 160, 10))]  # fmt: skip
    out = apply(pd.DataFrame(year + quarters), T, 0)
    # Q2 is small; with the year released, the next smallest quarter (Q2 aside: Q3) goes too
    assert out.is_suppressed.tolist() == [False, False, True, True, False]


def test_quarters_of_different_years_are_not_one_equation():
    rows = [_cell("all", "all", 90, 500, "year", date(2024, 1, 1)),
            _cell("all", "all", 5, 40, "quarter", date(2023, 10, 1)),
            _cell("all", "all", 30, 150, "quarter", date(2024, 1, 1))]  # fmt: skip
    out = apply(pd.DataFrame(rows), T, 0)
    assert out.is_suppressed.tolist() == [False, True, False]  # 2023 Q4 is in no 2024 equation


def test_released_counts_are_rounded_and_withheld_cells_are_empty():
    t = pd.DataFrame([_cell("all", "all", 63, 302), _cell("site", "A", 3, 50), _cell("site", "B", 60, 252)])
    out = apply(t, T, 5)
    assert out.released_numerator.tolist()[0] == 65 and out.released_denominator.tolist()[0] == 300
    assert out.released_numerator.isna().tolist() == [False, True, True]


# Property test --------------------------------------------------------------------------

episodes = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from("ABC"), st.sampled_from("FM"), st.booleans()), min_size=0, max_size=120
)


def _aggregate(rows) -> pd.DataFrame:
    """The measure table of one quarter (months 0-2, quarter 3) the way the audit counts it."""
    ep = pd.DataFrame(rows, columns=["month", "site", "sex", "hit"])
    ep = ep[ep.month < 3]
    cells = []
    for ptype, keys in (("month", ["month"]), ("quarter", [])):
        for group_by in ("all", "site", "sex"):
            g = ep.assign(all="all", q=0).groupby((keys or ["q"]) + [group_by])
            for key, part in g:
                start = date(2024, 1 + int(key[0]), 1) if ptype == "month" else date(2024, 1, 1)
                cells.append(_cell(group_by, key[-1], int(part.hit.sum()), len(part), ptype, start))
    return pd.DataFrame(cells)


def _equations(t: pd.DataFrame) -> list[tuple[int, list[int]]]:
    """Every 'total = sum of parts' the released table obeys, built independently of the code."""
    eqs = []
    for (_ptype, _start), rows in t.groupby(["period_type", "period_start"]):
        total = rows.index[rows.group_by == "all"][0]
        for _, parts in rows[rows.group_by != "all"].groupby("group_by"):
            eqs.append((total, list(parts.index)))
    for (_group_by, _value), rows in t.groupby(["group_by", "group_value"]):
        q = rows.index[rows.period_type == "quarter"]
        m = rows.index[rows.period_type == "month"]
        if len(q):
            eqs.append((q[0], list(m)))
    return eqs


def _recoverable(t: pd.DataFrame, out: pd.DataFrame) -> set[int]:
    """Cells an attacker can solve from the equations by repeated subtraction."""
    known = {i for i in out.index if not out.is_suppressed[i]}
    solved: set[int] = set()
    changed = True
    while changed:
        changed = False
        for total, parts in _equations(t):
            unknown = [i for i in [total, *parts] if i not in known]
            if len(unknown) == 1:
                known.add(unknown[0])
                solved.add(unknown[0])
                changed = True
    return solved


@settings(max_examples=100, deadline=None)
@given(episodes, st.sampled_from([0, 5]))
def test_no_small_released_cell_and_no_withheld_cell_recoverable(rows, rounding):
    t = _aggregate(rows)
    if t.empty:
        return
    out = apply(t, T, rounding)
    released = out[~out.is_suppressed]
    for col in ("released_numerator", "released_denominator"):
        assert not released[col].between(1, T).any(), col
    if rounding == 0:
        assert not (released.released_denominator - released.released_numerator).between(1, T).any()
    assert _recoverable(t, out) == set()
    for total, parts in _equations(t):
        if not out.is_suppressed[total]:
            hidden = [i for i in parts if out.is_suppressed[i]]
            num = t.loc[hidden, "numerator"].sum()
            comp = t.loc[hidden, "denominator"].sum() - num
            assert not (1 <= num <= T or 1 <= comp <= T), "withheld parts add up to a count the total gives away"


@settings(max_examples=50, deadline=None)
@given(episodes)
def test_row_order_changes_nothing(rows):
    t = _aggregate(rows)
    if t.empty:
        return
    a = apply(t, T, 5)
    shuffled = t.sample(frac=1, random_state=1)
    b = apply(shuffled, T, 5)
    key = ["period_type", "period_start", "group_by", "group_value"]
    merged = a.merge(b, on=key, suffixes=("_a", "_b"))
    assert (merged.is_suppressed_a == merged.is_suppressed_b).all()
