"""Staging of `prescriptions`: dates, planned end, route, drug agent flags and class, and the
elemental iron per day (tablets x iron per tablet, or mg of salt x iron fraction, per salt form
and product strength from data/reference/iron_salts.csv, see `staging.iron_dose`; null when
the dose is not given in those terms)."""

from __future__ import annotations

import ibis

from pipeline.codes import read_table
from pipeline.extract.base import COLUMNS
from pipeline.paths import CODELISTS_DIR, REFERENCE_DIR
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
from pipeline.staging.drugs import CODE_SYSTEMS, FLAGS, map_drugs
from pipeline.staging.iron_dose import with_iron_per_day

STAGED_COLUMNS = (
    "row_id",
    "patient_id",
    "start_at",
    "start_has_time",
    "end_at",
    "days_supply",
    "drug_code",
    "code_system",
    "drug_name",
    *FLAGS,
    "drug_class",
    "route",
    "dose_amount",
    "dose_unit",
    "doses_per_day",
    "quantity",
    "elemental_iron_mg_per_day",
    "prescriber_specialty",
    "site",
)


def _lookup(path, key: str, value: str, prefix: str) -> ibis.Table:
    df = read_table(path).fillna("")[[key, value]]
    return ibis.memtable(df.rename(columns={key: f"{prefix}_key", value: f"{prefix}_value"}))


def _route_and_dose_kind(t: ibis.Table) -> ibis.Table:
    routes = _lookup(CODELISTS_DIR / "routes.csv", "route_text", "route", "_route")
    kinds = _lookup(REFERENCE_DIR / "dose_units.csv", "dose_unit", "kind", "_dose")
    t = t.mutate(_route_key=clean(t.route).lower(), _dose_key=clean(t.dose_unit).lower())
    t = t.left_join(routes, "_route_key").drop("_route_key_right")
    t = t.left_join(kinds, "_dose_key").drop("_dose_key_right")
    return t.mutate(route_c=clean(t.route).isnull().ifelse(ibis.null("string"), t._route_value.coalesce("other")))


def _end(t: ibis.Table) -> ibis.Table:
    per_day_units = t.dose_amount_c * t.doses_per_day_c
    days_from_quantity = (t._dose_value == "unit").ifelse((t.quantity_c / per_day_units).ceil(), ibis.null("float64"))
    days = t.duration_c.cast("float64").coalesce(days_from_quantity)
    end_from_days = t.start_c + (days.cast("int64") - 1).as_interval("D")
    end = t.end_c.coalesce(end_from_days)
    return t.mutate(end_at_c=end, days_supply_c=(end.date().delta(t.start_c.date(), unit="day") + 1))


def typed(raw: ibis.Table, ctx: Context) -> ibis.Table:
    t = prepared(
        raw,
        COLUMNS["prescriptions"],
        timestamps=("start_at", "end_at"),
        numbers=("dose_amount", "doses_per_day", "quantity"),
    )
    t = map_drugs(t)
    t = _route_and_dose_kind(t)
    t = t.mutate(
        start_c=parse_timestamp(t.start_at),
        end_c=parse_timestamp(t.end_at),
        duration_c=clean(t.duration_days)
        .re_search(r"^\d+$")
        .ifelse(clean(t.duration_days).try_cast("int64"), ibis.null("int64")),
        dose_amount_c=parse_number(t.dose_amount),
        doses_per_day_c=parse_number(t.doses_per_day),
        quantity_c=parse_number(t.quantity),
    )
    t = with_iron_per_day(t)
    return _end(t)


# A dose range such as `325-650` (MIMIC) is a real prescription with an unknown dose: it is
# staged with dose_amount empty rather than quarantined, and the dose rules see "unknown".
_RANGE = r"^\d+(\.\d+)?\s*-\s*\d+(\.\d+)?$"


def _is_range(col):
    return clean(col).re_search(_RANGE).fill_null(False)


def _number_checks(ctx: Context) -> list[Check]:
    v = ctx.config.validation
    out = []
    for col in ("dose_amount", "doses_per_day", "quantity"):
        out.append(
            Check(
                f"bad_{col}",
                f"{col} must be a non-negative number (a range like 1-2 is read as unknown)",
                lambda t, c=col: (is_bad_number(t[c]) & ~_is_range(t[c])) | (parse_number(t[c]) < 0),
                lambda t, c=col: quoted(t[c]) + ibis.literal(f" in {c} is not a non-negative number"),
            )
        )
    out += [
        Check(
            "bad_duration_days",
            f"duration_days must be a whole number from 1 to {v.max_duration_days}",
            lambda t: (
                clean(t.duration_days).notnull()
                & (t.duration_c.isnull() | (t.duration_c < 1) | (t.duration_c > v.max_duration_days))
            ),
            lambda t: (
                quoted(t.duration_days)
                + ibis.literal(f" in duration_days is not a whole number from 1 to {v.max_duration_days}")
            ),
        ),
        Check(
            "impossible_doses_per_day",
            f"more than {v.max_doses_per_day:g} doses a day",
            lambda t: t.doses_per_day_c > v.max_doses_per_day,
            lambda t: quoted(t.doses_per_day) + ibis.literal(" doses a day is impossible"),
        ),
        Check(
            "impossible_units_per_dose",
            f"more than {v.max_units_per_dose:g} tablets/capsules per dose",
            lambda t: (t._dose_value == "unit") & (t.dose_amount_c > v.max_units_per_dose),
            lambda t: (
                quoted(t.dose_amount)
                + ibis.literal(" ")
                + t.dose_unit.fill_null("")
                + ibis.literal(" in one dose is impossible")
            ),
        ),
        Check(
            "impossible_iron_dose",
            f"more than {v.max_elemental_iron_mg_per_day:g} mg elemental iron a day",
            lambda t: t.iron_per_day_c > v.max_elemental_iron_mg_per_day,
            lambda t: (
                t.iron_per_day_c.round(0).cast("string")
                + ibis.literal(" mg elemental iron a day is an impossible oral dose")
            ),
        ),
    ]
    return out


def checks(ctx: Context) -> list[Check]:
    return [
        required("patient_id"),
        unknown_patient(ctx),
        *timestamp_checks("start_at", ctx),
        *timestamp_checks("end_at", ctx, required_value=False)[:1],
        Check(
            "end_before_start",
            "end_at must not be before start_at",
            lambda t: t.end_c.date() < t.start_c.date(),
            lambda t: (
                ibis.literal("end_at ") + quoted(t.end_at) + ibis.literal(" is before start_at ") + quoted(t.start_at)
            ),
        ),
        Check(
            "missing_drug",
            "drug_code or drug_name is required",
            lambda t: clean(t.drug_code).isnull() & clean(t.drug_name).isnull(),
            lambda t: ibis.literal("both drug_code and drug_name are empty"),
        ),
        Check(
            "bad_code_system",
            f"code_system must be one of {', '.join(CODE_SYSTEMS)}",
            lambda t: clean(t.drug_code).notnull() & ~t._code_system_c.isin(CODE_SYSTEMS),
            lambda t: quoted(t.code_system) + ibis.literal(f" in code_system is not one of {', '.join(CODE_SYSTEMS)}"),
        ),
        *_number_checks(ctx),
        exact_duplicate(COLUMNS["prescriptions"]),
    ]


def staged(t: ibis.Table) -> ibis.Table:
    return t.select(
        row_id=t.row_id,
        patient_id=clean(t.patient_id),
        start_at=t.start_c,
        start_has_time=has_time(t.start_at),
        end_at=t.end_at_c,
        days_supply=t.days_supply_c,
        drug_code=t._drug_code_c,
        code_system=t._code_system_c,
        drug_name=t._drug_name_c,
        **{f: t[f] for f in FLAGS},
        drug_class=t.drug_class_c,
        route=t.route_c,
        dose_amount=t.dose_amount_c,
        dose_unit=clean(t.dose_unit),
        doses_per_day=t.doses_per_day_c,
        quantity=t.quantity_c,
        elemental_iron_mg_per_day=t.iron_per_day_c,
        prescriber_specialty=clean(t.prescriber_specialty),
        site=clean(t.site),
    )
