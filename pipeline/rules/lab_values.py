"""Comparisons of lab results with cut-offs that respect the reported comparator.

A result reported as `<5` is staged as value_num 5 with comparator `<`: it is below any
cut-off of 5 or more. A result `>2000` is above any cut-off of 2000 or less. A null value is
neither below nor above anything (callers turn that into `indeterminate` / not found).
"""

from __future__ import annotations

import ibis


def is_below(value: ibis.Value, comparator: ibis.Value, cutoff: float) -> ibis.Value:
    """value < cutoff, or reported as `<x` / `<=x` with x <= cutoff."""
    strict = value < cutoff
    reported_below = comparator.isin(["<", "<="]) & (value <= cutoff)
    return (strict | reported_below).fill_null(False)


def is_above(value: ibis.Value, comparator: ibis.Value, cutoff: float) -> ibis.Value:
    """value > cutoff, or reported as `>x` / `>=x` with x >= cutoff."""
    strict = value > cutoff
    reported_above = comparator.isin([">", ">="]) & (value >= cutoff)
    return (strict | reported_above).fill_null(False)
