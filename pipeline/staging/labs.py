"""Staging of `labs`: analyte from the code list (LOINC first, then the local test name),
value and comparator parsed from text like `<5`, and the value converted to the analyte's
canonical unit through data/reference/unit_conversions.csv. An unconvertible unit or an
implausible value (data/reference/analytes.csv) is quarantined, never guessed. Tests the
code lists do not map are staged with a null analyte (see `anemia-audit codes --unmapped`).

A qualifying deficiency test (an analyte named in `[testing] iron_tests / b12_tests /
folate_tests`, or the serum iron, TIBC and transferrin of the iron pair) whose value is empty
or not a number is staged with value_num null instead of quarantined: RULES.md says the
sample being taken shows that the clinician tested, whatever its value (the testing rule
counts it with result class `unknown`; rules that need the value ignore it). Its unit is then
not checked, since there is nothing to convert. Every other analyte still needs a value."""

from __future__ import annotations

import ibis

from pipeline.codes import load_analytes, load_lab_codes
from pipeline.extract.base import COLUMNS
from pipeline.staging.common import (
    Check,
    Context,
    clean,
    exact_duplicate,
    has_time,
    missing_reason,
    number_check,
    parse_number,
    parse_timestamp,
    prepared,
    quoted,
    required,
    timestamp_checks,
    unknown_patient,
)
from pipeline.units import load_conversions, normalise_unit_expr

STAGED_COLUMNS = (
    "row_id",
    "patient_id",
    "taken_at",
    "taken_at_has_time",
    "analyte",
    "loinc",
    "test_name",
    "value_num",
    "comparator",
    "unit",
    "unit_raw",
    "value_raw",
    "ref_low",
    "ref_high",
    "site",
)
_VALUE = r"^(<=|>=|<|>)?\s*([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)$"


def _code_maps():
    codes = load_lab_codes()
    loinc = codes[codes.code_system == "LOINC"][["match_key", "analyte"]]
    names = codes[codes.code_system == "NAME"][["match_key", "analyte"]]
    return (
        ibis.memtable(loinc.rename(columns={"match_key": "_loinc_key", "analyte": "_loinc_analyte"})),
        ibis.memtable(names.rename(columns={"match_key": "_name_key", "analyte": "_name_analyte"})),
    )


def _unit_map():
    conv = load_conversions()[["analyte", "from_unit_norm", "to_unit", "factor"]]
    conv = conv.rename(columns={"analyte": "_conv_analyte", "from_unit_norm": "_conv_unit"})
    ref = load_analytes()[["analyte", "canonical_unit", "plausible_min", "plausible_max"]]
    return ibis.memtable(conv), ibis.memtable(ref.rename(columns={"analyte": "_ref_analyte"}))


def typed(raw: ibis.Table, ctx: Context) -> ibis.Table:
    loinc_map, name_map = _code_maps()
    conv, ref = _unit_map()
    raw = prepared(raw, COLUMNS["labs"], timestamps=("taken_at",), numbers=("ref_low", "ref_high"))
    value = clean(raw.value)
    t = raw.mutate(
        _loinc_key=clean(raw.loinc).lower(),
        _name_key=clean(raw.test_name).lower(),
        _unit_norm=normalise_unit_expr(raw.unit),
        comparator_c=value.re_extract(_VALUE, 1).nullif(""),
        number_c=value.re_search(_VALUE).ifelse(value.re_extract(_VALUE, 2).try_cast("float64"), ibis.null("float64")),
    )
    t = t.left_join(loinc_map, "_loinc_key").drop("_loinc_key_right")
    t = t.left_join(name_map, "_name_key").drop("_name_key_right")
    t = t.mutate(analyte_c=t._loinc_analyte.coalesce(t._name_analyte))
    t = t.left_join(ref, t.analyte_c == ref._ref_analyte)
    t = t.left_join(conv, (t.analyte_c == conv._conv_analyte) & (t._unit_norm == conv._conv_unit))
    t = t.mutate(
        value_num_c=t.number_c * t.factor,
        ref_low_c=parse_number(t.ref_low) * t.factor,
        ref_high_c=parse_number(t.ref_high) * t.factor,
    )
    return t


# The analytes of the iron pair (RULES.md: serum iron with TIBC/transferrin).
_IRON_PAIR_ANALYTES = ("iron", "tibc", "transferrin")


def qualifying_analytes(cfg) -> list[str]:
    """Analytes that count as a deficiency test for some agent (config `[testing]`)."""
    t = cfg.testing
    names = set(t.iron_tests) | set(t.b12_tests) | set(t.folate_tests)
    if "iron_with_tibc_or_transferrin" in names:
        names = (names - {"iron_with_tibc_or_transferrin"}) | set(_IRON_PAIR_ANALYTES)
    return sorted(names)


def _value_checks(ctx: Context) -> list[Check]:
    mapped = lambda t: t.analyte_c.notnull()
    qualifying = qualifying_analytes(ctx.config)
    # A qualifying test without a usable value is still evidence of testing (module docstring).
    needs_value = lambda t: ~t.analyte_c.isin(qualifying).fill_null(False)
    has_number_or_needs_one = lambda t: t.number_c.notnull() | needs_value(t)
    return [
        Check(
            "missing_value",
            "value is required (except for a qualifying deficiency test, staged with the value unknown)",
            lambda t: clean(t.value).isnull() & needs_value(t),
            lambda t: missing_reason(t.value, "value"),
        ),
        Check(
            "value_not_numeric",
            "the value of a mapped analyte must be a number (optionally with < or >), except for a qualifying "
            "deficiency test",
            lambda t: mapped(t) & clean(t.value).notnull() & t.number_c.isnull() & needs_value(t),
            lambda t: quoted(t.value) + ibis.literal(" is not a number for ") + t.analyte_c,
        ),
        Check(
            "missing_unit",
            "a mapped analyte with a value needs a unit",
            lambda t: mapped(t) & clean(t.unit).isnull() & has_number_or_needs_one(t),
            lambda t: (
                ibis.literal("unit is empty for ")
                + t.analyte_c
                + ibis.literal("; the value cannot be converted to ")
                + t.canonical_unit
            ),
        ),
        Check(
            "unconvertible_unit",
            "the unit of a value must be convertible to the analyte's canonical unit",
            lambda t: mapped(t) & clean(t.unit).notnull() & t.factor.isnull() & has_number_or_needs_one(t),
            lambda t: (
                ibis.literal("unit ")
                + quoted(t.unit)
                + ibis.literal(" cannot be converted to ")
                + t.canonical_unit
                + ibis.literal(" for ")
                + t.analyte_c
                + ibis.literal(" (add it to data/reference/unit_conversions.csv if it is valid)")
            ),
        ),
        Check(
            "implausible_value",
            "value outside the plausible range for the analyte (after unit conversion)",
            lambda t: (t.value_num_c < t.plausible_min) | (t.value_num_c > t.plausible_max),
            lambda t: (
                t.analyte_c
                + ibis.literal(" ")
                + t.value_num_c.round(2).cast("string")
                + ibis.literal(" ")
                + t.canonical_unit
                + ibis.literal(" is outside the plausible range ")
                + t.plausible_min.cast("string")
                + ibis.literal("-")
                + t.plausible_max.cast("string")
            ),
        ),
    ]


def checks(ctx: Context) -> list[Check]:
    return [
        required("patient_id"),
        unknown_patient(ctx),
        *timestamp_checks("taken_at", ctx),
        Check(
            "missing_test",
            "loinc or test_name is required",
            lambda t: clean(t.loinc).isnull() & clean(t.test_name).isnull(),
            lambda t: ibis.literal("both loinc and test_name are empty"),
        ),
        *_value_checks(ctx),
        number_check("ref_low"),
        number_check("ref_high"),
        exact_duplicate(COLUMNS["labs"]),
    ]


def staged(t: ibis.Table) -> ibis.Table:
    return t.select(
        row_id=t.row_id,
        patient_id=clean(t.patient_id),
        taken_at=parse_timestamp(t.taken_at),
        taken_at_has_time=has_time(t.taken_at),
        analyte=t.analyte_c,
        loinc=clean(t.loinc),
        test_name=clean(t.test_name),
        value_num=t.value_num_c,
        comparator=t.comparator_c,
        unit=t.canonical_unit.cast("string"),
        unit_raw=clean(t.unit),
        value_raw=clean(t.value),
        ref_low=t.ref_low_c,
        ref_high=t.ref_high_c,
        site=clean(t.site),
    )
