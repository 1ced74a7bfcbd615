"""Pandera model of `stg_diagnoses`: one row per valid coded diagnosis."""

import datetime
from typing import Optional

import pandera.ibis as pa
from pandera.engines.ibis_engine import DateTime

TIMESTAMP_US = {"scale": 6}  # DuckDB TIMESTAMP is microsecond precision


class StagedDiagnoses(pa.DataFrameModel):
    row_id: int = pa.Field(unique=True, nullable=False, description="row_id of the raw_diagnoses row")
    patient_id: str = pa.Field(nullable=False, description="pseudonymous patient id, present in stg_patients")
    code: str = pa.Field(nullable=False, description="code, upper case, without the dot")
    coding_system: str = pa.Field(isin=["ICD10", "ICD10CM", "ICD9CM", "SNOMED"], nullable=False, description="coding system")
    recorded_at: DateTime = pa.Field(dtype_kwargs=TIMESTAMP_US, nullable=False, description="when it was recorded")
    recorded_has_time: bool = pa.Field(nullable=False, description="false when the source gave a date only")
    condition_group: Optional[str] = pa.Field(nullable=True, description="group from data/codelists/conditions.csv; null when unmapped")

    class Config:
        strict = True
