"""Pandera model of `stg_labs`: one row per valid lab result, value in the canonical unit."""

import datetime
from typing import Optional

import pandera.ibis as pa
from pandera.engines.ibis_engine import DateTime

TIMESTAMP_US = {"scale": 6}  # DuckDB TIMESTAMP is microsecond precision


class StagedLabs(pa.DataFrameModel):
    row_id: int = pa.Field(unique=True, nullable=False, description="row_id of the raw_labs row")
    patient_id: str = pa.Field(nullable=False, description="pseudonymous patient id, present in stg_patients")
    taken_at: DateTime = pa.Field(dtype_kwargs=TIMESTAMP_US, nullable=False, description="when the sample was taken (midnight when date-only)")
    taken_at_has_time: bool = pa.Field(nullable=False, description="false when the source gave a date only")
    analyte: Optional[str] = pa.Field(nullable=True, description="analyte from data/codelists/lab_analytes.csv; null when unmapped")
    loinc: Optional[str] = pa.Field(nullable=True, description="LOINC code as given")
    test_name: Optional[str] = pa.Field(nullable=True, description="local test name as given")
    value_num: Optional[float] = pa.Field(nullable=True, description="numeric value in the canonical unit (null for unmapped tests)")
    comparator: Optional[str] = pa.Field(nullable=True, isin=["<", "<=", ">", ">="], description="comparator parsed from values like <5")
    unit: Optional[str] = pa.Field(nullable=True, description="canonical unit (data/reference/analytes.csv)")
    unit_raw: Optional[str] = pa.Field(nullable=True, description="unit as given")
    value_raw: Optional[str] = pa.Field(nullable=True, description="value as given")
    ref_low: Optional[float] = pa.Field(nullable=True, description="lower reference limit, canonical unit")
    ref_high: Optional[float] = pa.Field(nullable=True, description="upper reference limit, canonical unit")
    site: Optional[str] = pa.Field(nullable=True, description="site as given")

    class Config:
        strict = True
