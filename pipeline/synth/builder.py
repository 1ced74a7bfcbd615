"""Columnar row builder for the synthetic cohort: scenarios emit whole columns for all the
patients of a scenario at once (numpy / pyarrow), so a million patients stream quickly."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.extract.base import COLUMNS

TRUTH_COLUMNS = (
    "patient_id",
    "agent",
    "start_date",
    "route",
    "testing_status",
    "is_just_in_case",
    "excluded_reason",
    "outcome",
    "not_assessable_reason",
    "primary_cause",
    "causes",
    "scenario",
)
TABLES = (*tuple(COLUMNS), "truth")


def _strings(values, n: int) -> pa.Array:
    """A string column of length n from a scalar, a numpy array or None."""
    if values is None:
        return pa.nulls(n, pa.string())
    if isinstance(values, (str, int, float, np.integer, np.floating)):
        return pa.array([str(values)] * n, pa.string())
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        return pc.cast(pa.array(np.round(arr, 2)), pa.string())
    return pc.cast(pa.array(arr), pa.string())


@dataclass
class Group:
    """The patients of one scenario in one chunk, with their per-patient draws."""

    rng: np.random.Generator
    pid: np.ndarray  # patient ids (str)
    t0: np.ndarray  # episode start, datetime64[m]
    sex: np.ndarray  # 'F' / 'M' / 'U'
    with_time: np.ndarray  # bool: this patient's source gives times
    si_units: np.ndarray  # bool: lab reports in SI units (g/L, ug/L, pmol/L, nmol/L)
    by_name: np.ndarray  # bool: labs identified by local name, not LOINC
    out: Chunk = None
    scenario: str = ""

    @property
    def n(self) -> int:
        return len(self.pid)

    def when(self, day, hour=9) -> pa.Array:
        """Date (or timestamp, for patients whose source has times) `day` days after t0."""
        day = np.broadcast_to(np.asarray(day), (self.n,))
        ts = self.t0.astype("datetime64[D]") + day.astype("timedelta64[D]")
        ts = ts.astype("datetime64[m]") + np.timedelta64(int(hour * 60), "m")
        arr = pa.array(ts.astype("datetime64[s]"))
        timed = pc.strftime(arr, format="%Y-%m-%d %H:%M")
        dated = pc.strftime(arr, format="%Y-%m-%d")
        return pc.if_else(pa.array(self.with_time), timed, dated)

    def jitter(self, low, high) -> np.ndarray:
        return self.rng.uniform(low, high, self.n)

    def days(self, low, high) -> np.ndarray:
        return self.rng.integers(low, high + 1, self.n)

    def emit(self, table: str, mask=None, **cols) -> None:
        self.out.add(table, self.n, mask, cols)


@dataclass
class Chunk:
    """Accumulates columns per table; `tables()` returns pyarrow Tables in contract order."""

    cols: dict = field(default_factory=lambda: {t: [] for t in TABLES})

    def add(self, table: str, n: int, mask, cols: dict) -> None:
        names = TRUTH_COLUMNS if table == "truth" else COLUMNS[table]
        unknown = set(cols) - set(names)
        if unknown:
            raise KeyError(f"{table}: unknown columns {unknown}")
        arrays = [_strings(cols.get(c), n) for c in names]
        batch = pa.table(arrays, names=list(names))
        if mask is not None:
            batch = batch.filter(pa.array(np.asarray(mask, dtype=bool)))
        if batch.num_rows:
            self.cols[table].append(batch)

    def tables(self) -> dict[str, pa.Table]:
        out = {}
        for t in TABLES:
            names = TRUTH_COLUMNS if t == "truth" else COLUMNS[t]
            parts = self.cols[t]
            out[t] = pa.concat_tables(parts) if parts else pa.table({c: pa.array([], pa.string()) for c in names})
        return out
