"""Staging of `dispensings` (optional table): date, drug flags and class, quantity and days supplied."""

from __future__ import annotations

import ibis

from pipeline.extract.base import COLUMNS
from pipeline.staging.common import (
    Check,
    Context,
    clean,
    exact_duplicate,
    has_time,
    is_bad_number,
    parse_number,
    parse_timestamp,
    prepared,
    quoted,
    required,
    timestamp_checks,
    unknown_patient,
)
from pipeline.staging.drugs import FLAGS, map_drugs

STAGED_COLUMNS = (
    "row_id",
    "patient_id",
    "dispensed_at",
    "dispensed_has_time",
    "drug_code",
    "code_system",
    "drug_name",
    *FLAGS,
    "drug_class",
    "quantity",
    "days_supply",
    "site",
)


def typed(raw: ibis.Table, ctx: Context) -> ibis.Table:
    t = map_drugs(prepared(raw, COLUMNS["dispensings"], timestamps=("dispensed_at",), numbers=("quantity",)))
    t = t.mutate(
        days_supply_c=clean(t.days_supply)
        .re_search(r"^\d+$")
        .ifelse(clean(t.days_supply).try_cast("int64"), ibis.null("int64"))
    )
    return t


def checks(ctx: Context) -> list[Check]:
    max_days = ctx.config.validation.max_duration_days
    return [
        required("patient_id"),
        unknown_patient(ctx),
        *timestamp_checks("dispensed_at", ctx),
        Check(
            "missing_drug",
            "drug_code or drug_name is required",
            lambda t: clean(t.drug_code).isnull() & clean(t.drug_name).isnull(),
            lambda t: ibis.literal("both drug_code and drug_name are empty"),
        ),
        Check(
            "bad_quantity",
            "quantity must be a non-negative number",
            lambda t: is_bad_number(t.quantity) | (parse_number(t.quantity) < 0),
            lambda t: quoted(t.quantity) + ibis.literal(" in quantity is not a non-negative number"),
        ),
        Check(
            "bad_days_supply",
            f"days_supply must be a whole number from 0 to {max_days}",
            lambda t: clean(t.days_supply).notnull() & (t.days_supply_c.isnull() | (t.days_supply_c > max_days)),
            lambda t: (
                quoted(t.days_supply) + ibis.literal(f" in days_supply is not a whole number from 0 to {max_days}")
            ),
        ),
        exact_duplicate(COLUMNS["dispensings"]),
    ]


def staged(t: ibis.Table) -> ibis.Table:
    return t.select(
        row_id=t.row_id,
        patient_id=clean(t.patient_id),
        dispensed_at=parse_timestamp(t.dispensed_at),
        dispensed_has_time=has_time(t.dispensed_at),
        drug_code=t._drug_code_c,
        code_system=t._code_system_c,
        drug_name=t._drug_name_c,
        **{f: t[f] for f in FLAGS},
        drug_class=t.drug_class_c,
        quantity=parse_number(t.quantity),
        days_supply=t.days_supply_c,
        site=clean(t.site),
    )
