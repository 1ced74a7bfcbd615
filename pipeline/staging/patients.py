"""Staging of `patients`: sex to F/M/U, birth year or age band, pregnancy dates."""

from __future__ import annotations

import ibis

from pipeline.extract.base import COLUMNS
from pipeline.staging.common import (
    FIRST_ROW,
    Check,
    Context,
    clean,
    exact_duplicate,
    parse_timestamp,
    prepared,
    quoted,
    required,
    timestamp_checks,
)

STAGED_COLUMNS = ("row_id", "patient_id", "sex", "birth_year", "age_band", "site", "pregnancy_start", "pregnancy_end")
_SEX = {
    "f": "F",
    "female": "F",
    "w": "F",
    "woman": "F",
    "m": "M",
    "male": "M",
    "man": "M",
    "u": "U",
    "unknown": "U",
    "not known": "U",
    "x": "U",
    "other": "U",
}
_AGE_BAND = r"^\d{1,3}\s*-\s*\d{1,3}$|^\d{1,3}\s*\+$"


def typed(raw: ibis.Table, ctx: Context) -> ibis.Table:
    raw = prepared(raw, COLUMNS["patients"], timestamps=("pregnancy_start", "pregnancy_end"))
    sex_text = clean(raw.sex).lower()
    t = raw.mutate(
        patient_id_c=clean(raw.patient_id),
        sex_c=sex_text.cases(*[(k, v) for k, v in _SEX.items()], else_=ibis.null("string")),
        birth_year_c=clean(raw.birth_year)
        .re_search(r"^\d{4}$")
        .ifelse(clean(raw.birth_year).try_cast("int64"), ibis.null("int64")),
        age_band_c=clean(raw.age_band).re_replace(r"\s+", ""),
        pregnancy_start_c=parse_timestamp(raw.pregnancy_start).date(),
        pregnancy_end_c=parse_timestamp(raw.pregnancy_end).date(),
    )
    w = ibis.window(group_by=t.patient_id_c)
    return t.mutate(_first_id_row=t.row_id.min().over(w))


def _year_checks(ctx: Context) -> list[Check]:
    min_year, this_year = ctx.config.validation.min_year, ctx.today.year
    return [
        Check(
            "bad_birth_year",
            "birth_year must be a four-digit year",
            lambda t: clean(t.birth_year).notnull() & t.birth_year_c.isnull(),
            lambda t: quoted(t.birth_year) + ibis.literal(" in birth_year is not a four-digit year"),
        ),
        Check(
            "birth_year_out_of_range",
            f"birth_year must be between {min_year} and this year",
            lambda t: (t.birth_year_c < min_year) | (t.birth_year_c > this_year),
            lambda t: quoted(t.birth_year) + ibis.literal(f" in birth_year is outside {min_year}-{this_year}"),
        ),
    ]


def checks(ctx: Context) -> list[Check]:
    return [
        required("patient_id"),
        Check(
            "bad_sex",
            "sex must be F, M or U",
            lambda t: t.sex_c.isnull(),
            lambda t: quoted(t.sex) + ibis.literal(" in sex is not F, M or U (female/male/unknown)"),
        ),
        Check(
            "missing_age",
            "birth_year or age_band is required",
            lambda t: clean(t.birth_year).isnull() & clean(t.age_band).isnull(),
            lambda t: ibis.literal("both birth_year and age_band are empty; give one"),
        ),
        *_year_checks(ctx),
        Check(
            "bad_age_band",
            "age_band must look like 60-69 or 85+",
            lambda t: t.age_band_c.notnull() & ~t.age_band_c.re_search(_AGE_BAND),
            lambda t: quoted(t.age_band) + ibis.literal(" in age_band is not like 60-69 or 85+"),
        ),
        *timestamp_checks("pregnancy_start", ctx, required_value=False),
        *timestamp_checks("pregnancy_end", ctx, required_value=False)[:1],
        Check(
            "pregnancy_end_before_start",
            "pregnancy_end must not be before pregnancy_start",
            lambda t: t.pregnancy_end_c < t.pregnancy_start_c,
            lambda t: ibis.literal("pregnancy_end is before pregnancy_start"),
        ),
        exact_duplicate(COLUMNS["patients"]),
        Check(
            "duplicate_patient_id",
            "patient_id must be unique",
            lambda t: (t._first_id_row != t.row_id) & (t[FIRST_ROW] == t.row_id),
            lambda t: (
                ibis.literal("patient_id already given in row_id ")
                + t._first_id_row.cast("string")
                + ibis.literal(" with different values; keep one row per patient")
            ),
        ),
    ]


def staged(t: ibis.Table) -> ibis.Table:
    return t.select(
        row_id=t.row_id,
        patient_id=t.patient_id_c,
        sex=t.sex_c,
        birth_year=t.birth_year_c,
        age_band=t.age_band_c,
        site=clean(t.site),
        pregnancy_start=t.pregnancy_start_c,
        pregnancy_end=t.pregnancy_end_c,
    )
