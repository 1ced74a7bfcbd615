"""Dirty rows for the synthetic cohort: extra rows that validation must quarantine. They are
copies of clean rows with one defect each (or rows for an unknown patient), appended after
the clean rows so an exact duplicate is always the later copy; they never carry a label."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_LAB_DEFECTS = (
    "unconvertible_unit",
    "implausible_value",
    "exact_duplicate",
    "future_taken_at",
    "old_taken_at",
    "unknown_patient",
    "value_not_numeric",
)
_RX_DEFECTS = ("end_before_start", "impossible_units_per_dose", "exact_duplicate", "future_start_at", "unknown_patient")


def _set(t: pa.Table, col: str, value: str) -> pa.Table:
    i = t.schema.get_field_index(col)
    return t.set_column(i, col, pa.array([value] * t.num_rows, pa.string()))


def _lab_defect(rows: pa.Table, kind: str) -> pa.Table:
    if kind == "unconvertible_unit":
        return _set(rows, "unit", "mmol/mol")
    if kind == "implausible_value":
        return _set(_set(rows, "value", "900"), "unit", "g/L")
    if kind == "future_taken_at":
        return _set(rows, "taken_at", "2099-01-01")
    if kind == "old_taken_at":
        return _set(rows, "taken_at", "1890-06-01")
    if kind == "unknown_patient":
        return _set(rows, "patient_id", "X-UNKNOWN")
    if kind == "value_not_numeric":
        return _set(rows, "value", "see comment")
    return rows


def _rx_defect(rows: pa.Table, kind: str) -> pa.Table:
    if kind == "end_before_start":
        return _set(rows, "end_at", "2001-01-01")
    if kind == "impossible_units_per_dose":
        return _set(_set(_set(rows, "dose_amount", "50"), "dose_unit", "tablet"), "doses_per_day", "1")
    if kind == "future_start_at":
        return _set(rows, "start_at", "2099-01-01")
    if kind == "unknown_patient":
        return _set(rows, "patient_id", "X-UNKNOWN")
    return rows


def _sample(t: pa.Table, mask, n: int, rng) -> pa.Table:
    idx = np.flatnonzero(np.asarray(mask))
    if n == 0 or len(idx) == 0:
        return t.slice(0, 0)
    return t.take(pa.array(np.sort(rng.choice(idx, size=min(n, len(idx)), replace=False))))


def dirty_rows(tables: dict[str, pa.Table], rng, fraction: float) -> dict[str, int]:
    """Append dirty rows to tables['labs'] and tables['prescriptions'] in place; count them."""
    counts: dict[str, int] = {}
    labs = tables["labs"]
    hb = pc.or_(pc.equal(labs["loinc"], "718-7"), pc.equal(labs["test_name"], "Haemoglobin")).to_numpy(
        zero_copy_only=False
    )
    per_kind = round(fraction * labs.num_rows / len(_LAB_DEFECTS))
    extra = []
    for kind in _LAB_DEFECTS:
        bad = _lab_defect(_sample(labs, hb, per_kind, rng), kind)
        counts[f"labs.{kind}"] = bad.num_rows
        extra.append(bad)
    tables["labs"] = pa.concat_tables([labs, *extra])
    rx = tables["prescriptions"]
    mapped = pc.invert(pc.is_in(rx["route"], pa.array(["IV"]))).to_numpy(zero_copy_only=False)
    per_kind = round(fraction * rx.num_rows / len(_RX_DEFECTS))
    extra = []
    for kind in _RX_DEFECTS:
        bad = _rx_defect(_sample(rx, mapped, per_kind, rng), kind)
        counts[f"prescriptions.{kind}"] = bad.num_rows
        extra.append(bad)
    tables["prescriptions"] = pa.concat_tables([rx, *extra])
    return counts
