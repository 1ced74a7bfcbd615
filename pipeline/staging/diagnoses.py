"""Staging of `diagnoses` (optional table): code without the dot, coding system, and the
condition group from data/codelists/conditions.csv (longest matching prefix; ICD-10-CM codes
use the ICD-10 list)."""

from __future__ import annotations

import ibis

from pipeline.codes import load_condition_codes
from pipeline.extract.base import COLUMNS
from pipeline.staging.common import (
    Check,
    Context,
    clean,
    exact_duplicate,
    has_time,
    parse_timestamp,
    prepared,
    quoted,
    required,
    timestamp_checks,
    unknown_patient,
)

STAGED_COLUMNS = (
    "row_id",
    "patient_id",
    "code",
    "coding_system",
    "recorded_at",
    "recorded_has_time",
    "condition_group",
)
_SYSTEMS = {
    "ICD10": "ICD10",
    "ICD-10": "ICD10",
    "ICD10CM": "ICD10CM",
    "ICD-10-CM": "ICD10CM",
    "ICD9CM": "ICD9CM",
    "ICD-9-CM": "ICD9CM",
    "ICD9": "ICD9CM",
    "SNOMED": "SNOMED",
    "SNOMEDCT": "SNOMED",
    "SNOMED CT": "SNOMED",
    "SNOMED-CT": "SNOMED",
    "SCT": "SNOMED",
}


def _condition_groups(t: ibis.Table) -> ibis.Table:
    codes = load_condition_codes()[["coding_system", "code_prefix", "condition_group"]]
    lists = ibis.memtable(codes.rename(columns={"coding_system": "_list_system"}))
    distinct = t.select(_sys=t.coding_system_c, _code=t.code_c).filter(lambda d: d._code.notnull()).distinct()
    list_system = (distinct._sys == "ICD10CM").ifelse("ICD10", distinct._sys)
    cond = (list_system == lists._list_system) & distinct._code.startswith(lists.code_prefix)
    m = distinct.inner_join(lists, cond)
    m = m.mutate(_len=m.code_prefix.length())
    best = m.group_by(["_sys", "_code"]).aggregate(condition_group_c=m.condition_group.argmax(m._len))
    return best


def typed(raw: ibis.Table, ctx: Context) -> ibis.Table:
    raw = prepared(raw, COLUMNS["diagnoses"], timestamps=("recorded_at",))
    system = clean(raw.coding_system).upper()
    t = raw.mutate(
        coding_system_c=system.cases(*_SYSTEMS.items(), else_=ibis.null("string")),
        code_c=clean(raw.code).upper().replace(".", ""),
    )
    groups = _condition_groups(t)
    t = t.left_join(groups, (t.coding_system_c == groups._sys) & (t.code_c == groups._code))
    return t


def checks(ctx: Context) -> list[Check]:
    return [
        required("patient_id"),
        unknown_patient(ctx),
        required("code"),
        Check(
            "bad_coding_system",
            "coding_system must be ICD10, ICD10CM, ICD9CM or SNOMED",
            lambda t: t.coding_system_c.isnull(),
            lambda t: (
                quoted(t.coding_system) + ibis.literal(" in coding_system is not ICD10, ICD10CM, ICD9CM or SNOMED")
            ),
        ),
        *timestamp_checks("recorded_at", ctx),
        exact_duplicate(COLUMNS["diagnoses"]),
    ]


def staged(t: ibis.Table) -> ibis.Table:
    return t.select(
        row_id=t.row_id,
        patient_id=clean(t.patient_id),
        code=t.code_c,
        coding_system=t.coding_system_c,
        recorded_at=parse_timestamp(t.recorded_at),
        recorded_has_time=has_time(t.recorded_at),
        condition_group=t.condition_group_c,
    )
