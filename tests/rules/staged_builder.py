"""Literal staged tables for the rule spec tests (fixtures in conftest.py).

`staged` builds stg_* tables with the exact staged types (docs/data-contract.md) in a real
DuckDB file under tmp_path. Dates given as "2024-03-01" are date-only (`*_has_time` false);
"2024-03-01 10:00" carries a time. Every add_* returns the row_id it assigned.

    def test_x(staged):   # the `staged` fixture of conftest.py
        staged.patient("P1", sex="F")
        staged.lab("P1", "2024-01-01", "ferritin", 12)
        staged.rx("P1", "2024-01-05", "iron_oral", days_supply=28)
        out = staged.classify()
        assert out["episodes"].testing_status.tolist() == ["tested_before"]
"""

from __future__ import annotations

import itertools
from datetime import date, datetime

import ibis
import pandas as pd
import pyarrow as pa

from pipeline.config import load_config
from pipeline.engine import registry
from pipeline.rules.classify import classify

# The staged types come from the table registry, so the literal tables are always what
# validate writes (a drift between builder and pipeline cannot happen).
SCHEMAS = {t: registry.ibis_schema(f"stg_{t}").to_pyarrow() for t in registry.TABLES}

# drug_class -> (has_iron, has_b12, has_folate, default route)
CLASSES = {
    "iron_oral": (True, False, False, "oral"),
    "iron_iv": (True, False, False, "iv"),
    "b12": (False, True, False, "im"),
    "folate": (False, False, True, "oral"),
    "iron_folate": (True, False, True, "oral"),
}
UNITS = {
    "hb": "g/L",
    "ferritin": "ug/L",
    "iron": "umol/L",
    "tibc": "umol/L",
    "tsat": "%",
    "b12": "pmol/L",
    "folate": "nmol/L",
    "crp": "mg/L",
    "mcv": "fL",
    "rbc": "10*12/L",
    "wbc": "10*9/L",
    "platelets": "10*9/L",
    "ldh": "U/L",
    "haptoglobin": "g/L",
    "bilirubin": "umol/L",
    "reticulocytes_pct": "%",
    "transferrin": "g/L",
}


def ts(value: str) -> tuple[datetime, bool]:
    """'2024-03-01' -> (midnight, False); '2024-03-01 10:00' -> (that time, True)."""
    has_time = len(value) > 10
    return datetime.fromisoformat(value), has_time


class StagedBuilder:
    def __init__(self, path):
        self.path = path
        self.rows = {t: [] for t in SCHEMAS}
        self._ids = itertools.count(1)
        self.con = None

    def _add(self, table, **values):
        rid = next(self._ids)
        self.rows[table].append({"row_id": rid, **values})
        return rid

    def patient(
        self, pid, sex="F", pregnancy_start=None, pregnancy_end=None, site="SITE-A", birth_year=1970, age_band="50-59"
    ):
        as_date = lambda v: date.fromisoformat(v) if v else None
        return self._add(
            "patients",
            patient_id=pid,
            sex=sex,
            birth_year=birth_year,
            age_band=age_band,
            site=site,
            pregnancy_start=as_date(pregnancy_start),
            pregnancy_end=as_date(pregnancy_end),
        )

    def lab(self, pid, at, analyte, value, comparator=None, loinc=None, test_name=None):
        t, has_time = ts(at)
        return self._add(
            "labs",
            patient_id=pid,
            taken_at=t,
            taken_at_has_time=has_time,
            analyte=analyte,
            loinc=loinc,
            test_name=test_name,
            value_num=None if value is None else float(value),
            comparator=comparator,
            unit=UNITS.get(analyte),
            value_raw=None if value is None else str(value),
        )

    def rx(
        self,
        pid,
        start,
        drug_class,
        end=None,
        days_supply=28,
        route="default",
        elemental=65.0,
        drug_name=None,
        specialty="general practice",
    ):
        t, has_time = ts(start)
        iron, b12, fol, default_route = CLASSES.get(drug_class, (False, False, False, "oral"))
        return self._add(
            "prescriptions",
            patient_id=pid,
            start_at=t,
            start_has_time=has_time,
            end_at=ts(end)[0] if end else None,
            days_supply=days_supply,
            drug_name=drug_name or drug_class,
            has_iron=iron,
            has_b12=b12,
            has_folate=fol,
            drug_class="iron_oral" if drug_class == "iron_folate" else drug_class,
            route=default_route if route == "default" else route,
            elemental_iron_mg_per_day=elemental if iron and drug_class != "iron_iv" else None,
            prescriber_specialty=specialty,
            site="SITE-A",
        )

    def disp(self, pid, at, drug_class="iron_oral", days_supply=28):
        t, has_time = ts(at)
        iron, b12, fol, _ = CLASSES.get(drug_class, (False, False, False, None))
        return self._add(
            "dispensings",
            patient_id=pid,
            dispensed_at=t,
            dispensed_has_time=has_time,
            drug_name=drug_class,
            has_iron=iron,
            has_b12=b12,
            has_folate=fol,
            drug_class="iron_oral" if drug_class == "iron_folate" else drug_class,
            days_supply=days_supply,
        )

    def dx(self, pid, at, group, code="X00"):
        t, has_time = ts(at)
        return self._add(
            "diagnoses",
            patient_id=pid,
            code=code,
            coding_system="ICD10",
            recorded_at=t,
            recorded_has_time=has_time,
            condition_group=group,
        )

    def write(self, dispensings=True, diagnoses=True):
        con = ibis.duckdb.connect(str(self.path))
        for table, schema in SCHEMAS.items():
            if (table == "dispensings" and not dispensings) or (table == "diagnoses" and not diagnoses):
                continue
            cols = {f.name: [r.get(f.name) for r in self.rows[table]] for f in schema}
            con.create_table(f"stg_{table}", pa.table(cols, schema=schema), overwrite=True)
        self.con = con
        return con

    def classify(self, overrides=None, dispensings=True, diagnoses=True) -> dict[str, pd.DataFrame]:
        con = self.write(dispensings=dispensings, diagnoses=diagnoses)
        cfg = load_config().with_overrides(overrides or {})
        classify(con, cfg)
        return {
            t: con.table(t).to_pandas().sort_values(list(con.table(t).columns[:1])).reset_index(drop=True)
            for t in ("episodes", "iron_outcomes", "failure_causes")
        }


def one(df: pd.DataFrame, **where) -> pd.Series:
    """The single row of df matching column == value for each keyword."""
    m = df
    for k, v in where.items():
        m = m[m[k] == v]
    assert len(m) == 1, f"expected one row for {where}, got {len(m)}:\n{df}"
    return m.iloc[0]


def causes_of(out, episode_id) -> list[str]:
    fc = out["failure_causes"]
    return sorted(fc[fc.episode_id == episode_id].cause)


START = date(2024, 3, 1)


def day(n: int, time: str | None = None) -> str:
    """The date n days after 2024-03-01 (the usual episode start), optionally with a time."""
    d = (pd.Timestamp(START) + pd.Timedelta(days=n)).strftime("%Y-%m-%d")
    return f"{d} {time}" if time else d


def episode(out, pid, agent="iron") -> pd.Series:
    return one(out["episodes"], patient_id=pid, agent=agent)


def outcome(out, pid) -> pd.Series:
    return one(out["iron_outcomes"], patient_id=pid)


def patient_causes(out, pid) -> list[str]:
    fc = out["failure_causes"]
    return sorted(fc[fc.patient_id == pid].cause)
