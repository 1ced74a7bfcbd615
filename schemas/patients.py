"""Pandera model of `stg_patients`: one row per patient."""

import datetime
from typing import Optional

import pandera.ibis as pa


class StagedPatients(pa.DataFrameModel):
    row_id: int = pa.Field(unique=True, nullable=False, description="row_id of the raw_patients row")
    patient_id: str = pa.Field(unique=True, nullable=False, description="pseudonymous patient id")
    sex: str = pa.Field(isin=["F", "M", "U"], nullable=False, description="F, M or U (unknown)")
    birth_year: Optional[int] = pa.Field(nullable=True, ge=1900, description="year of birth; null when only an age band was given")
    age_band: Optional[str] = pa.Field(nullable=True, description="age band as given, e.g. 60-69 or 85+")
    site: Optional[str] = pa.Field(nullable=True, description="hospital, practice or ward code")
    pregnancy_start: Optional[datetime.date] = pa.Field(nullable=True, description="start of a known pregnancy")
    pregnancy_end: Optional[datetime.date] = pa.Field(nullable=True, description="end of that pregnancy")

    class Config:
        strict = True
