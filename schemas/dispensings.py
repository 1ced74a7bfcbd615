"""Pandera model of `stg_dispensings`: one row per valid dispensing."""

import datetime
from typing import Optional

import pandera.ibis as pa
from pandera.engines.ibis_engine import DateTime

TIMESTAMP_US = {"scale": 6}  # DuckDB TIMESTAMP is microsecond precision


class StagedDispensings(pa.DataFrameModel):
    row_id: int = pa.Field(unique=True, nullable=False, description="row_id of the raw_dispensings row")
    patient_id: str = pa.Field(nullable=False, description="pseudonymous patient id, present in stg_patients")
    dispensed_at: DateTime = pa.Field(dtype_kwargs=TIMESTAMP_US, nullable=False, description="when it was dispensed")
    dispensed_has_time: bool = pa.Field(nullable=False, description="false when the source gave a date only")
    drug_code: Optional[str] = pa.Field(nullable=True, description="drug code, upper case")
    code_system: Optional[str] = pa.Field(nullable=True, description="ATC, RXNORM, NDC or LOCAL")
    drug_name: Optional[str] = pa.Field(nullable=True, description="drug name as given")
    has_iron: bool = pa.Field(nullable=False, description="contains iron")
    has_b12: bool = pa.Field(nullable=False, description="contains vitamin B12")
    has_folate: bool = pa.Field(nullable=False, description="contains folic acid")
    drug_class: Optional[str] = pa.Field(nullable=True, description="class from data/codelists/drugs.csv")
    quantity: Optional[float] = pa.Field(nullable=True, ge=0, description="units dispensed")
    days_supply: Optional[int] = pa.Field(nullable=True, ge=0, description="days the supply lasts")
    site: Optional[str] = pa.Field(nullable=True, description="site as given")

    class Config:
        strict = True
