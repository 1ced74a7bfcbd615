"""Pandera model of `stg_prescriptions`: one row per valid prescription."""

import datetime
from typing import Optional

import pandera.ibis as pa
from pandera.engines.ibis_engine import DateTime

TIMESTAMP_US = {"scale": 6}  # DuckDB TIMESTAMP is microsecond precision


class StagedPrescriptions(pa.DataFrameModel):
    row_id: int = pa.Field(unique=True, nullable=False, description="row_id of the raw_prescriptions row")
    patient_id: str = pa.Field(nullable=False, description="pseudonymous patient id, present in stg_patients")
    start_at: DateTime = pa.Field(dtype_kwargs=TIMESTAMP_US, nullable=False, description="start of the prescription")
    start_has_time: bool = pa.Field(nullable=False, description="false when the source gave a date only")
    end_at: Optional[DateTime] = pa.Field(dtype_kwargs=TIMESTAMP_US, nullable=True, description="planned end (inclusive): end_at, else start + duration_days - 1, else from quantity and dose")
    days_supply: Optional[int] = pa.Field(nullable=True, ge=1, description="days from start to planned end, inclusive")
    drug_code: Optional[str] = pa.Field(nullable=True, description="drug code, upper case")
    code_system: Optional[str] = pa.Field(nullable=True, description="ATC, RXNORM, NDC or LOCAL")
    drug_name: Optional[str] = pa.Field(nullable=True, description="drug name as given")
    has_iron: bool = pa.Field(nullable=False, description="contains iron (code or whole-word ingredient name)")
    has_b12: bool = pa.Field(nullable=False, description="contains vitamin B12")
    has_folate: bool = pa.Field(nullable=False, description="contains folic acid")
    drug_class: Optional[str] = pa.Field(nullable=True, description="class from data/codelists/drugs.csv; null when unmapped")
    route: Optional[str] = pa.Field(nullable=True, isin=["oral", "iv", "im", "sc", "other"], description="normalised route")
    dose_amount: Optional[float] = pa.Field(nullable=True, ge=0, description="amount per administration")
    dose_unit: Optional[str] = pa.Field(nullable=True, description="unit of dose_amount as given")
    doses_per_day: Optional[float] = pa.Field(nullable=True, ge=0, description="administrations per day (0.5 = alternate days)")
    quantity: Optional[float] = pa.Field(nullable=True, ge=0, description="units supplied")
    elemental_iron_mg_per_day: Optional[float] = pa.Field(nullable=True, ge=0, description="elemental iron per day, mg")
    prescriber_specialty: Optional[str] = pa.Field(nullable=True, description="prescriber specialty as given")
    site: Optional[str] = pa.Field(nullable=True, description="site as given")

    class Config:
        strict = True
