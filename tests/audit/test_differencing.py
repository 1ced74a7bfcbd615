"""Disclosure across tables (pipeline/audit/differencing.py): the issue's attack, literally.
Every failure_causes row repeats the failed-episode count, which is also the iron_failed
numerator; when the per-table rules pick different partners for a small sex-U cell, all - F - M
gives the withheld count back. The joint pass must stop that."""

from datetime import date

import numpy as np
import pandas as pd

from pipeline.audit import disclosure
from pipeline.audit.differencing import DEN, NUM, Equations, attack, aud_equations, protect, q

T = 7
CATS = ("c1", "c2")


def _cell(measure, category, value, num, den):
    return {"measure_id": measure, "category": category, "period_type": "quarter", "period_start": date(2024, 1, 1),
            "group_by": "all" if value == "all" else "sex", "group_value": value, "numerator": num,
            "denominator": den}  # fmt: skip


def _tables():
    # failed / assessable per sex: F 20/50, M 22/45, U 3/5 (U is small)
    failed = pd.DataFrame([_cell("iron_failed", "all", g, n, d)
                           for g, n, d in (("all", 45, 100), ("F", 20, 50), ("M", 22, 45), ("U", 3, 5))])  # fmt: skip
    dens = (("all", 45), ("F", 20), ("M", 22), ("U", 3))  # failed episodes per sex, on every cause row
    nums = {"c1": (23, 10, 12, 1), "c2": (22, 9, 13, 0)}
    causes = pd.DataFrame([_cell("failure_causes", c, g, n, d) for c in CATS
                           for (g, d), n in zip(dens, nums[c], strict=True)])  # fmt: skip
    return [disclosure.apply(t, T, 0) for t in (failed, causes)]


def _exposed(cells: pd.DataFrame, withheld) -> list[tuple[str, str, str]]:
    eqs = aud_equations(cells, CATS)
    eqs.cells(len(cells))
    known, _ = attack(3 * len(cells), eqs, np.repeat(~np.asarray(withheld), 3))
    out = []
    for i, r in cells.reset_index(drop=True).iterrows():
        for part, v in ((NUM, r.numerator), (DEN, r.denominator)):
            if withheld[i] and 1 <= v <= T and known[q(i, part)]:
                out.append((r.measure_id, r.category, r.group_value))
    return out


def test_per_table_rules_alone_leave_the_sex_u_count_recoverable():
    cells = pd.concat(_tables(), ignore_index=True)
    # iron_failed hides U and M (den 45 < 50); failure_causes hides U and F (den 20 < 22)
    assert set(cells[cells.is_suppressed].group_value) == {"U", "M", "F"}
    assert ("iron_failed", "all", "U") in _exposed(cells, cells.is_suppressed.to_numpy())


def test_the_joint_pass_withholds_until_nothing_small_is_recoverable():
    cells = pd.concat(_tables(), ignore_index=True)
    primary = cells.suppression.eq("primary").to_numpy()
    eqs = aud_equations(cells, CATS)
    eqs.cells(len(cells))
    out = protect(cells.numerator, cells.denominator, cells.is_suppressed.to_numpy(), primary, eqs, T)
    assert _exposed(cells, out) == []
    assert out.sum() > cells.is_suppressed.sum()  # it had to withhold more
    assert not out[(cells.group_value == "all").to_numpy()].any()  # and not the totals


def test_an_equation_with_one_unknown_gives_it_away_and_two_do_not():
    eqs = Equations()
    eqs.add([q(0, NUM), q(1, NUM), q(2, NUM)])
    known, derived = attack(9, eqs, [True] * 3 + [False] * 3 + [True] * 3)
    assert known[q(1, NUM)] and derived[q(1, NUM)] == 0
    known, _ = attack(9, eqs, [True] * 3 + [False] * 6)
    assert not known[q(1, NUM)] and not known[q(2, NUM)]


def test_a_combination_of_two_equations_gives_away_what_neither_does_alone():
    # at one cell key: all episodes (tested_after_only den 20) = iron 14 + B12 2 + folate 4, and
    # just_in_case den = B12 + folate episodes. With iron and all episodes released and the
    # three others withheld, no equation has one unknown, but 20 - 14 gives just_in_case's 6.
    from pipeline.audit.differencing import COMP, determined

    cells = pd.DataFrame([_cell(m, "all", "all", n, d) for m, n, d in
                          (("tested_after_only", 5, 20), ("iron_untested", 4, 14), ("b12_untested", 1, 2),
                           ("folate_untested", 1, 4), ("just_in_case", 2, 6), ("iron_monitored", 10, 14))])  # fmt: skip
    eqs = aud_equations(cells, CATS)
    eqs.cells(len(cells))
    withheld = np.array([False, False, True, True, True, False])
    known, _ = attack(3 * len(cells), eqs, np.repeat(~withheld, 3))
    assert not known[q(4, DEN)]  # substitution alone does not find it
    found = determined(eqs, known, [q(4, DEN), q(2, DEN), q(3, DEN), q(4, COMP)])
    assert set(found) == {q(4, DEN)}  # the sum is known, not its parts
    primary = withheld.copy()
    out = protect(cells.numerator, cells.denominator, withheld, primary, eqs, T)
    assert out[[0, 1]].any()  # a released cell of the combination is withheld too
    known, _ = attack(3 * len(cells), eqs, np.repeat(~out, 3))
    small = [q(i, p) for i in np.flatnonzero(out) for p in (NUM, DEN, COMP)]
    assert not known[small].any() and determined(eqs, known, small) == {}


def test_a_difference_of_totals_pins_the_years_whose_months_are_all_one():
    # One measure, sex U, by month, quarter, year and the whole span (the funnel's fallback):
    # 2023 has 3 months with 1 episode each, 2024 has 4, 2025 has 9 episodes in one month.
    # Released: the span (16) and 2025 (9). Then 2023 + 2024 = 7, and with 3 + 4 months present
    # (each at least 1) every withheld month, quarter and year is exactly known. No equation
    # has one unknown and no combination fixes a single count: only the floors, carried up
    # from the months to the years, show it (found by the LP attack of the reliability suite).
    rows = []

    def cell(ptype, start, den, num=0):
        rows.append({"measure_id": "iron_failed", "category": "all", "period_type": ptype, "period_start": start,
                     "group_by": "sex", "group_value": "U", "numerator": num, "denominator": den})  # fmt: skip
        return len(rows) - 1

    months = {2023: (1, 4, 7), 2024: (1, 4, 7, 10), 2025: (5,)}
    for year, ms in months.items():
        for m in ms:
            cell("quarter", date(year, m, 1), 9 if year == 2025 else 1)
            cell("month", date(year, m, 1), 9 if year == 2025 else 1)
        cell("year", date(year, 1, 1), 9 if year == 2025 else len(ms))
    span = cell("period", date(2023, 1, 1), 16)
    cells = pd.DataFrame(rows)
    eqs = aud_equations(cells, CATS)
    eqs.cells(len(cells))
    small = ((cells.denominator >= 1) & (cells.denominator <= T)).to_numpy()
    withheld = small.copy()
    out = protect(cells.numerator, cells.denominator, withheld, small, eqs, T)
    y2025 = int(np.flatnonzero((cells.period_type == "year") & (cells.denominator == 9))[0])
    assert out[[span, y2025]].any()  # the difference of the two released totals is gone


def test_bounds_propagation_narrows_each_member_to_what_the_others_allow():
    # x0 = x1 + x2: the total is exactly 10, x1 lies in 3..7 (a rounded 5), x2 is at least 3
    from pipeline.audit.differencing import propagate_bounds

    eqs = Equations()
    eqs.add([0, 1, 2])
    eqs.add([2, 3, 4])  # x2 = x3 + x4, with x4 a released 0
    lo, hi = np.array([10, 3, 3, 0, 0.0]), np.array([10, 7, np.inf, np.inf, 0.0])
    lo2, hi2, _, _ = propagate_bounds(lo, hi, eqs)
    assert (lo2[:4].tolist(), hi2[:4].tolist()) == ([10, 3, 3, 3], [10, 7, 7, 7])
    hi[1] = lo[1] = 7  # x1 exactly 7: x2 = 3, and through x2 = x3 + 0, x3 = 3
    lo2, hi2, lo_by, hi_by = propagate_bounds(lo, hi, eqs)
    assert lo2[3] == hi2[3] == 3 and {lo_by[3], hi_by[3]} == {1}


def test_a_total_minus_rounded_parts_is_an_interval_not_a_count():
    # Three years and the whole span. Released: the span (21) and two years (10, 8); withheld:
    # the third year (3). With exact counts span - 10 - 8 = 3 gives it away, so one more cell must
    # be withheld; with rounding 5 the span stands for 18..22 and the years for 8..12 each, so the
    # third year is anywhere from 1 to 6: nothing more is withheld.
    years = [("year", date(y, 1, 1), d) for y, d in ((2023, 10), (2024, 8), (2025, 3))]
    rows = [{"measure_id": "m", "category": "all", "period_type": p, "period_start": s, "group_by": "all",
             "group_value": "all", "numerator": 0, "denominator": d}
            for p, s, d in [*years, ("period", date(2023, 1, 1), 21)]]  # fmt: skip
    cells = pd.DataFrame(rows)
    eqs = Equations()
    eqs.sums(3, [0, 1, 2])
    eqs.cells(len(cells))
    withheld = np.array([False, False, True, False])
    primary = withheld.copy()
    exact = protect(cells.numerator, cells.denominator, withheld, primary, eqs, T, rounding=0)
    rounded = protect(cells.numerator, cells.denominator, withheld, primary, eqs, T, rounding=5)
    assert exact.sum() == 2  # a partner withheld
    assert rounded.tolist() == withheld.tolist()
