"""Small-number disclosure control for the released measure tables.

Rules (`[disclosure]` in defaults.toml; docs/measures.md):

1. **Primary suppression.** A cell (measure x category x period x group) is withheld when
   its numerator, its denominator or its complement (denominator - numerator) is between 1
   and `threshold` (default 7). The complement matters because "5 of 6 were untested"
   discloses that one patient was tested. Zero is not disclosive and is released.
2. **Secondary suppression.** The released tables add up: the groups of one breakdown
   (site, specialty, sex, age band) sum to the 'all' row of the same period, the three
   months of a quarter sum to the quarter and the quarters of a year to the year. For every
   such equation (a total and its parts),
   a lone withheld cell could be recovered by subtraction, so while an equation has exactly
   one withheld member, the smallest released part (by denominator) is withheld too (the
   total when no part is left). When the total is released, the withheld parts together
   are also known, so they are widened until their summed numerator and complement are 0
   or above the threshold. Repeated until no equation changes.
3. **Rounding.** Released numerators and denominators are rounded to the nearest multiple
   of `rounding` (default 5; 0 = none), never down into 1..threshold. This blurs
   differences between overlapping tables (e.g. B12 + folate episodes = the
   just-in-case denominator) that the equations above do not cover.
4. A withheld cell releases no numerator, denominator, rate or confidence interval.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"numerator": [3, 40], "denominator": [50, 60]})
    >>> primary_suppression(t.numerator, t.denominator, threshold=7).tolist()
    [True, False]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

Constraint = tuple[int, list[int]]
CELL_KEYS = ("measure_id", "category", "period_type", "period_start", "group_by", "group_value")


def is_small(counts, threshold: int) -> np.ndarray:
    """Counts from 1 to `threshold` inclusive."""
    c = np.asarray(counts, dtype="int64")
    return (c >= 1) & (c <= threshold)


def primary_suppression(numerator, denominator, threshold: int) -> np.ndarray:
    """Rule 1: numerator, denominator or complement between 1 and the threshold."""
    num = np.asarray(numerator, dtype="int64")
    den = np.asarray(denominator, dtype="int64")
    return is_small(num, threshold) | is_small(den, threshold) | is_small(den - num, threshold)


def table_constraints(cells: pd.DataFrame) -> list[Constraint]:
    """The additive equations of a measure table (positional row indices): groups of one
    breakdown sum to the 'all' row of their period; months sum to their quarter, quarters
    to their year and years to the whole span (`period` rows, when present), for every
    group. `cells` has the CELL_KEYS columns (period_start as dates)."""
    t = cells.reset_index(drop=True)
    # Periods as month numbers, the columns as Python lists: the loop below runs once per
    # cell, and iterating pandas' datetime and Arrow string arrays cost more than the loop
    # (audit of 5,000 patients: 0.27 s per call, twice per run; issue 11)
    month = pd.to_datetime(t.period_start).to_numpy().astype("datetime64[M]").astype("int64")
    start, quarter, year = month.tolist(), (month - month % 3).tolist(), (month // 12).tolist()
    columns = [t[k].tolist() for k in ("measure_id", "category", "period_type", "group_by", "group_value")]
    measure_ids, categories, period_types, group_bys, group_values = columns
    totals: dict[tuple, int] = {}
    parts: dict[tuple, list[int]] = {}
    rows = zip(measure_ids, categories, period_types, start, quarter, year, group_bys, group_values, strict=True)
    for i, (measure, category, ptype, begin, q, y, group_by, value) in enumerate(rows):
        period = (measure, category, ptype, begin)
        if group_by == "all":
            totals[("group", period)] = i
        else:
            parts.setdefault(("group", period, group_by), []).append(i)
        in_quarter = ("time", measure, category, group_by, value, q)
        in_year = ("year", measure, category, group_by, value, y)
        in_span = ("span", measure, category, group_by, value)
        if ptype == "period":
            totals[in_span] = i
        elif ptype == "year":
            totals[in_year] = i
            parts.setdefault(in_span, []).append(i)
        elif ptype == "quarter":
            totals[in_quarter] = i
            parts.setdefault(in_year, []).append(i)
        elif ptype == "month":
            parts.setdefault(in_quarter, []).append(i)
    out: list[Constraint] = []
    for key, members in parts.items():
        total = totals.get(key[:2] if key[0] == "group" else key)  # a breakdown's parts share the 'all' total
        if total is not None:
            out.append((total, members))
    return out


def secondary_suppression(
    numerator, denominator, suppressed, constraints: Sequence[Constraint], threshold: int
) -> np.ndarray:
    """Rule 2 applied until stable; returns the new withheld mask (a superset)."""
    num = np.asarray(numerator, dtype="int64")
    comp = np.asarray(denominator, dtype="int64") - num
    den = num + comp
    out = np.array(suppressed, dtype=bool)
    changed = True
    while changed:
        changed = False
        for total, parts in constraints:
            pick = _next_to_withhold(total, parts, out, num, comp, den, threshold)
            if pick is not None:
                out[pick] = True
                changed = True
    return out


def _next_to_withhold(total: int, parts: list[int], out: np.ndarray, num, comp, den, threshold: int):
    hidden = [i for i in parts if out[i]]
    n_hidden = len(hidden) + bool(out[total])
    if n_hidden == 0:
        return None
    if n_hidden == 1 or (not out[total] and _sum_is_small(hidden, num, comp, threshold)):
        shown = sorted((i for i in parts if not out[i]), key=lambda i: (den[i], num[i], i))
        if shown:
            return shown[0]
        return None if out[total] else total
    return None


def _sum_is_small(hidden: list[int], num, comp, threshold: int) -> bool:
    return bool(is_small([num[hidden].sum()], threshold)[0] or is_small([comp[hidden].sum()], threshold)[0])


def round_counts(counts, base: int, threshold: int) -> np.ndarray:
    """Rule 3: nearest multiple of `base` (halves up); a non-zero count never lands in
    0..threshold (it goes to the first multiple above the threshold). base 0: unchanged."""
    c = np.asarray(counts, dtype="int64")
    if base <= 0:
        return c
    rounded = np.floor(c / base + 0.5).astype("int64") * base
    floor = first_multiple_above(threshold, base)
    return np.where((c > 0) & (rounded <= threshold), floor, rounded)


def first_multiple_above(threshold: int, base: int) -> int:
    """Where rule 3 puts a non-zero count that would round into 0..threshold."""
    return (threshold // base + 1) * base


def rounding_interval(released, base: int, threshold: int) -> tuple[np.ndarray, np.ndarray]:
    """The true counts a count released by `round_counts` can stand for, as (low, high),
    both inclusive: a released 0 is exact; the first multiple above the threshold stands for
    1 up to its own upper half; any other multiple m for m - base//2 .. m + base - 1 - base//2
    (halves up). base 0: exact."""
    v = np.asarray(released, dtype=np.float64)
    if base <= 0:
        return v.copy(), v.copy()
    half = base // 2
    lo = np.where(v == 0, 0.0, np.maximum(v - half, 0.0))
    lo = np.where((v > 0) & (v == first_multiple_above(threshold, base)), 1.0, lo)
    hi = np.where(v == 0, 0.0, v + (base - 1 - half))
    return lo, hi


def apply(cells: pd.DataFrame, threshold: int, rounding: int) -> pd.DataFrame:
    """The measure table with `is_suppressed`, `suppression` ('primary', 'secondary' or
    null) and the released counts (`released_numerator`, `released_denominator`: rounded,
    null when withheld). Row order is kept, and does not change the result: cells are
    considered in key order."""
    keys = [k for k in CELL_KEYS if k in cells.columns]
    t = cells.reset_index(drop=True).copy()
    order = t.sort_values(keys, kind="stable").index
    s = t.loc[order].reset_index(drop=True)
    primary = primary_suppression(s.numerator, s.denominator, threshold)
    withheld = secondary_suppression(s.numerator, s.denominator, primary, table_constraints(s), threshold)
    s["is_suppressed"] = withheld
    s["suppression"] = pd.Series(np.where(primary, "primary", np.where(withheld, "secondary", None)), dtype="object")
    for col in ("numerator", "denominator"):
        released = pd.Series(round_counts(s[col], rounding, threshold), dtype="Int64")
        s[f"released_{col}"] = released.mask(withheld)
    s.index = order
    return s.sort_index()
