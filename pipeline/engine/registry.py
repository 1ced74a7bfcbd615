"""The table registry: every warehouse table declared once, with its grain and its columns.

DDL (`engine.tables.create_empty`), the shape of every table a step writes
(`engine.tables.write`), the Pandera models of the staged tables (`schemas/`), the test
builders and the column reference `docs/tables.md` (`python -m pipeline.engine.registry`)
all come from here; tests fail when the docs drift from it.

The canonical input contract (the columns a source file may carry, docs/data-contract.md)
is declared here too, because `raw_<table>` is that contract as text.

    >>> spec("stg_labs").grain
    'valid lab result (same row_id as raw_labs), value in the canonical unit'
    >>> spec("aud_iron_failed").name
    'aud_*'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ibis.expr.datatypes as dt

# ---------------------------------------------------------------- the input contract
REQUIRED_TABLES = ("patients", "labs", "prescriptions")
OPTIONAL_TABLES = ("dispensings", "diagnoses")
TABLES = REQUIRED_TABLES + OPTIONAL_TABLES

# Contract columns per canonical table, in order (docs/data-contract.md).
COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": ("patient_id", "sex", "birth_year", "age_band", "site", "pregnancy_start", "pregnancy_end"),
    "labs": ("patient_id", "taken_at", "loinc", "test_name", "value", "unit", "ref_low", "ref_high", "site"),
    "prescriptions": (
        "patient_id", "start_at", "end_at", "duration_days", "drug_code", "code_system", "drug_name", "route",
        "dose_amount", "dose_unit", "doses_per_day", "quantity", "prescriber_specialty", "site",
    ),
    "dispensings": (
        "patient_id", "dispensed_at", "drug_code", "code_system", "drug_name", "quantity", "days_supply", "site",
    ),
    "diagnoses": ("patient_id", "code", "coding_system", "recorded_at"),
}  # fmt: skip

# Columns that must be present in the file (alternatives: at least one of the tuple).
REQUIRED_COLUMNS: dict[str, tuple[tuple[str, ...], ...]] = {
    "patients": (("patient_id",), ("sex",), ("birth_year", "age_band")),
    "labs": (("patient_id",), ("taken_at",), ("loinc", "test_name"), ("value",)),
    "prescriptions": (("patient_id",), ("start_at",), ("drug_code", "drug_name")),
    "dispensings": (("patient_id",), ("dispensed_at",), ("drug_code", "drug_name")),
    "diagnoses": (("patient_id",), ("code",), ("coding_system",), ("recorded_at",)),
}


# ---------------------------------------------------------------- declarations
@dataclass(frozen=True)
class Column:
    """One column: name, Ibis type, what it means (with its unit), and the constraints the
    Pandera model checks. `ge_config` names a config key (`section.key`) whose value is the
    lower bound, so a policy number lives in the config only."""

    name: str
    dtype: str
    description: str
    nullable: bool = True
    unique: bool = False
    isin: tuple[str, ...] | None = None
    ge: float | None = None
    ge_config: str | None = None

    @property
    def ibis_type(self) -> dt.DataType:
        import ibis.expr.datatypes as dt  # here, not at the top: the input contract above needs no Ibis

        return dt.dtype(self.dtype)


@dataclass(frozen=True)
class Table:
    name: str
    grain: str  # "one row per ..."
    written_by: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def C(name: str, dtype: str, description: str, **kw) -> Column:
    return Column(name, dtype, description, **kw)


TS = "timestamp(6)"  # microsecond precision, as DuckDB's TIMESTAMP and Spark's
DRUG_ROUTES = ("oral", "iv", "im", "sc", "other")

_PROVENANCE = (
    C("row_id", "int64", "unique row id in the warehouse (stable across validate runs)", nullable=False, unique=True),
    C("load_id", "string", "the load that added the row"),
    C("source_file", "string", "file name the row came from (no folders)"),
    C("source_row", "int64", "1-based data row number in that file"),
)


def _raw(table: str) -> Table:
    return Table(
        f"raw_{table}",
        f"source record of `{table}`, every contract column as text exactly as read",
        "load",
        _PROVENANCE + tuple(C(c, "string", f"`{c}` exactly as read (null when the file lacks the column)")
                            for c in COLUMNS[table]),
    )  # fmt: skip


def _row_id(table: str) -> Column:
    return C("row_id", "int64", f"row_id of the raw_{table} row", nullable=False, unique=True)


def _patient_id() -> Column:
    return C("patient_id", "string", "pseudonymous patient id, present in stg_patients", nullable=False)


def _drug_columns() -> tuple[Column, ...]:
    return (
        C("drug_code", "string", "drug code, upper case"),
        C("code_system", "string", "ATC, RXNORM, NDC, OMOP (an OMOP concept id) or LOCAL"),
        C("drug_name", "string", "drug name as given"),
        C("has_iron", "boolean", "contains iron (code or whole-word ingredient name)", nullable=False),
        C("has_b12", "boolean", "contains vitamin B12", nullable=False),
        C("has_folate", "boolean", "contains folic acid", nullable=False),
        C("drug_class", "string", "class from data/codelists/drugs.csv; null when unmapped"),
    )


STAGED: dict[str, Table] = {
    "patients": Table("stg_patients", "patient (one valid row per patient_id)", "validate", (
        _row_id("patients"),
        C("patient_id", "string", "pseudonymous patient id", nullable=False, unique=True),
        C("sex", "string", "F, M or U (unknown)", nullable=False, isin=("F", "M", "U")),
        C("birth_year", "int64", "year of birth; null when only an age band was given",
          ge_config="validation.min_year"),
        C("age_band", "string", "age band as given, e.g. 60-69 or 85+"),
        C("site", "string", "hospital, practice or ward code"),
        C("pregnancy_start", "date", "start of a known pregnancy"),
        C("pregnancy_end", "date", "end of that pregnancy"),
    )),
    "labs": Table("stg_labs", "valid lab result (same row_id as raw_labs), value in the canonical unit", "validate", (
        _row_id("labs"),
        _patient_id(),
        C("taken_at", TS, "when the sample was taken (midnight when date-only)", nullable=False),
        C("taken_at_has_time", "boolean", "false when the source gave a date only", nullable=False),
        C("analyte", "string", "analyte from data/codelists/lab_analytes.csv; null when unmapped"),
        C("loinc", "string", "LOINC code as given"),
        C("test_name", "string", "local test name as given"),
        C("value_num", "float64", "value in the canonical unit; null when unmapped or unreadable"),
        C("comparator", "string", "comparator parsed from values like <5", isin=("<", "<=", ">", ">=")),
        C("unit", "string", "canonical unit (data/reference/analytes.csv)"),
        C("unit_raw", "string", "unit as given"),
        C("value_raw", "string", "value as given"),
        C("ref_low", "float64", "lower reference limit, canonical unit"),
        C("ref_high", "float64", "upper reference limit, canonical unit"),
        C("site", "string", "site as given"),
    )),
    "prescriptions": Table("stg_prescriptions", "valid prescription (order)", "validate", (
        _row_id("prescriptions"),
        _patient_id(),
        C("start_at", TS, "start of the prescription", nullable=False),
        C("start_has_time", "boolean", "false when the source gave a date only", nullable=False),
        C("end_at", TS, "planned end (inclusive): end_at, else start + duration_days - 1, else from quantity and dose"),
        C("days_supply", "int64", "days from start to planned end, inclusive", ge=1),
        *_drug_columns(),
        C("route", "string", "normalised route", isin=DRUG_ROUTES),
        C("dose_amount", "float64", "amount per administration", ge=0),
        C("dose_unit", "string", "unit of dose_amount as given"),
        C("doses_per_day", "float64", "administrations per day (0.5 = alternate days)", ge=0),
        C("quantity", "float64", "units supplied", ge=0),
        C("elemental_iron_mg_per_day", "float64", "elemental iron per day, mg", ge=0),
        C("prescriber_specialty", "string", "prescriber specialty as given"),
        C("site", "string", "site as given"),
    )),
    "dispensings": Table("stg_dispensings", "valid dispensing", "validate", (
        _row_id("dispensings"),
        _patient_id(),
        C("dispensed_at", TS, "when it was dispensed", nullable=False),
        C("dispensed_has_time", "boolean", "false when the source gave a date only", nullable=False),
        *_drug_columns(),
        C("quantity", "float64", "units dispensed", ge=0),
        C("days_supply", "int64", "days the supply lasts", ge=0),
        C("site", "string", "site as given"),
    )),
    "diagnoses": Table("stg_diagnoses", "valid coded diagnosis", "validate", (
        _row_id("diagnoses"),
        _patient_id(),
        C("code", "string", "code, upper case, without the dot", nullable=False),
        C("coding_system", "string", "coding system", nullable=False, isin=("ICD10", "ICD10CM", "ICD9CM", "SNOMED")),
        C("recorded_at", TS, "when it was recorded", nullable=False),
        C("recorded_has_time", "boolean", "false when the source gave a date only", nullable=False),
        C("condition_group", "string", "group from data/codelists/conditions.csv; null when unmapped"),
    )),
}  # fmt: skip

_BOOKKEEPING = (
    Table("loaded_files", "source file loaded into one raw table (the load register)", "load", (
        C("load_id", "string", "the load (UTC time + random suffix)"),
        C("table_name", "string", "canonical table"),
        C("source_file", "string", "file name"),
        C("content_hash", "string", "SHA-256 of the file's bytes: the same content is never loaded twice"),
        C("source", "string", "adapter: csv, omop or mimic"),
        C("n_rows", "int64", "rows read from the file"),
        C("loaded_at", TS, "when it was loaded (UTC)"),
    )),
    Table("quarantine", "rejected raw row x failed check", "validate", (
        C("table_name", "string", "canonical table"),
        C("row_id", "int64", "row_id of the raw row"),
        C("source_file", "string", "file it came from"),
        C("source_row", "int64", "1-based data row number in that file"),
        C("check_id", "string", "the check it failed (the `checks` table)"),
        C("reason", "string", "what is wrong and what to fix, in words (may quote the bad value)"),
        C("raw_values", "string", "the raw contract values as `col=value; ...` (local use only)"),
    )),
    Table("checks", "row-level validation check of one table (checks as data)", "validate", (
        C("table_name", "string", "canonical table the check applies to"),
        C("check_id", "string", "identifier, as in quarantine.check_id"),
        C("description", "string", "what the check asks, in words"),
        C("position", "int64", "order in which the checks are listed"),
    )),
    Table("load_log", "source file x table x load after validation: the reconciliation", "validate", (
        C("load_id", "string", "the load that added the file (two loads of one file name are two rows)"),
        C("table_name", "string", "canonical table"),
        C("source_file", "string", "file name"),
        C("raw_rows", "int64", "rows in raw_<table> from the file"),
        C("staged_rows", "int64", "of those, rows in stg_<table>"),
        C("quarantined_rows", "int64", "of those, rows in quarantine (a row failing several checks counts once)"),
        C("loaded_at", TS, "when the file was loaded (UTC)"),
        C("validated_at", TS, "when validate ran (UTC)"),
    )),
)  # fmt: skip

_CLASSIFIED = (
    Table("episodes", "treatment episode (agent start after a wash-out) with its testing status", "classify", (
        C("episode_id", "string", "`{agent}-{first_row_id}`, e.g. `iron-1234`; deterministic"),
        C("patient_id", "string", "pseudonymous patient id"),
        C("agent", "string", "`iron`, `b12`, `folate`"),
        C("route", "string", "route of the opening row: oral, iv, im, other"),
        C("start_at", TS, "start of the opening row"),
        C("start_has_time", "boolean", "false when the start was given as a date only"),
        C("end_at", TS, "last day of the continuous supply from the start (may rest on the default course length)"),
        C("testing_status", "string", "`tested_before`, `tested_after_only`, `never_tested`"),
        C("prior_test_at", TS, "latest qualifying test before the start (null if none)"),
        C("prior_test_analyte", "string", "its test: an analyte or `iron_with_tibc_or_transferrin`"),
        C("prior_result_class", "string", "`deficient`, `not_deficient`, `indeterminate`, `unknown`"),
        C("is_just_in_case", "boolean", "B12/folate started beside iron without a test showing deficiency"),
        C("excluded_reason", "string", "null, or why the episode is not an audited start"),
        C("site", "string", "site of the opening row, else the patient's site"),
        C("prescriber_specialty", "string", "of the opening row (null for a dispensing source)"),
        C("first_row_id", "int64", "row_id of the opening row (in `source_table`)"),
        C("source_table", "string", "`stg_prescriptions`, or `stg_dispensings` for a dispensing-only patient"),
        C("n_rows", "int64", "prescription (or dispensing) rows in the episode"),
        C("prior_test_row_id", "int64", "`stg_labs` row of `prior_test_at`"),
        C("after_test_at", TS, "first qualifying test after the start within `after_days`"),
        C("after_test_row_id", "int64", "its `stg_labs` row"),
        C("course_end_known_at", TS, "end_at from stated ends / days_supply only"),
        C("elemental_iron_mg_per_day", "float64", "iron episodes: elemental iron per day of the opening order, mg"),
    )),
    Table("iron_outcomes", "iron episode with baseline and follow-up Hb and outcome", "classify", (
        C("episode_id", "string", "as in `episodes`"),
        C("patient_id", "string", "as in `episodes`"),
        C("baseline_hb_g_l", "float64", "baseline Hb (g/L), null if none"),
        C("baseline_at", TS, "its time"),
        C("followup_hb_g_l", "float64", "follow-up Hb (g/L), null if none"),
        C("followup_at", TS, "its time"),
        C("hb_change_g_l", "float64", "follow-up - baseline (g/L); null when either is missing"),
        C("outcome", "string", "`responded`, `failed`, `not_assessable`"),
        C("not_assessable_reason", "string", "`no_hb`, `no_baseline_hb`, `no_followup_hb`; null otherwise"),
        C("escalated_to_iv", "boolean", "IV iron or transfusion in the follow-up window of an oral episode"),
        C("primary_cause", "string", "failed episodes: the first of their causes in `[causes] precedence`"),
        C("hb_cutoff_g_l", "float64", "the anaemia cut-off applied to the follow-up Hb (g/L); null without a "
          "follow-up Hb, or under 6 months (WHO sets none)"),
        C("hb_cutoff_group", "string", "the WHO 2024 group of that cut-off: `pregnant_trimester_1..3`, a child "
          "age group (`age_6_23_months` ...), `adult_women/men/sex_unknown`, `adult_age_unknown_*` (age unknown: "
          "the adult cut-off assumed) or `under_6_months`; null without a follow-up Hb"),
        C("baseline_row_id", "int64", "`stg_labs` row of the baseline Hb"),
        C("followup_row_id", "int64", "`stg_labs` row of the follow-up Hb"),
        C("escalated_at", TS, "first escalation (null if none)"),
        C("escalation_table", "string", "table of the row that escalated"),
        C("escalation_row_id", "int64", "row_id of the row that escalated"),
        C("escalation_drug", "string", "drug name of the row that escalated"),
        C("assessed_at", TS, "follow-up Hb time, else the escalation time: when the causes are judged"),
    )),
    Table("failure_causes", "failed iron episode x plausible cause, with the evidence row", "classify", (
        C("episode_id", "string", "as in `episodes`"),
        C("patient_id", "string", "as in `episodes`"),
        C("cause", "string", "cause id (docs/rules.md 'Why iron failed')"),
        C("evidence_table", "string", "table of the evidence row (null when the cause rests on an absence)"),
        C("evidence_row_id", "int64", "row_id of the evidence row"),
        C("evidence", "string", "the evidence in words"),
    )),
)  # fmt: skip

CLASSIFIED = tuple(t.name for t in _CLASSIFIED)  # what classify writes and audit needs

AUDIT_MEASURE = Table("aud_*", "measure x category x period type x period x breakdown x group value", "audit", (
    C("measure_id", "string", "measure (docs/measures.md)"),
    C("category", "string", "`all`, or the failure cause for a categorised measure"),
    C("period_type", "string", "`month`, `quarter`, `year`, or `period`: the whole span of the data (first to last "
      "episode start)"),
    C("period_start", "date", "first day of the period"),
    C("period_end", "date", "last day of the period"),
    C("group_by", "string", "`all`, `site`, `specialty`, `sex`, `age_band`"),
    C("group_value", "string", "the group ('unknown' when the episode lacks it)"),
    C("numerator", "int64", "true count (local use only)"),
    C("denominator", "int64", "true count (local use only)"),
    C("rate", "float64", "numerator / denominator (local use only)"),
    C("ci_low", "float64", "Wilson interval, lower (local use only)"),
    C("ci_high", "float64", "Wilson interval, upper (local use only)"),
    C("suppression", "string", "`primary`, `secondary` or null"),
    C("is_suppressed", "boolean", "withheld by disclosure control"),
    C("released_numerator", "int64", "rounded count; null when withheld"),
    C("released_denominator", "int64", "rounded count; null when withheld"),
    C("released_rate", "float64", "rate from the released counts"),
    C("released_ci_low", "float64", "Wilson interval from the released counts, lower"),
    C("released_ci_high", "float64", "Wilson interval from the released counts, upper"),
))  # fmt: skip

AUDIT_RUN = Table("audit_run", "audit run (one row: when and with which config the aud_* tables were built)", "audit", (
    C("run_at", TS, "when the audit ran (UTC)"),
    C("config_hash", "string", "SHA-256 of the effective config"),
    C("config_origin", "string", "`defaults` or the override file"),
    C("threshold", "int64", "disclosure threshold"),
    C("rounding", "int64", "rounding base of released counts"),
    C("confidence", "float64", "confidence level of the intervals"),
    C("measures", "string", "comma-separated measure ids"),
))  # fmt: skip

REGISTRY: dict[str, Table] = {
    t.name: t
    for t in (*(_raw(t) for t in TABLES), *STAGED.values(), *_BOOKKEEPING, *_CLASSIFIED, AUDIT_MEASURE, AUDIT_RUN)
}


def spec(name: str) -> Table:
    """The declaration of warehouse table `name` (`aud_<measure>` tables share `aud_*`)."""
    if name.startswith("aud_") and name not in REGISTRY:
        return AUDIT_MEASURE
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a registered warehouse table") from None


def ibis_schema(name: str):
    import ibis

    return ibis.schema({c.name: c.ibis_type for c in spec(name).columns})


# ---------------------------------------------------------------- docs
def render_markdown() -> str:
    """docs/tables.md: every warehouse table with its grain and columns."""
    out = [
        "# Warehouse tables",
        "",
        "Generated from `pipeline/engine/registry.py` by `python -m pipeline.engine.registry`;",
        "a test fails when this file and the registry differ. The input files' columns are in",
        "docs/data-contract.md.",
        "",
    ]
    for t in REGISTRY.values():
        out += [f"## `{t.name}`", "", f"One row per {t.grain}. Written by `{t.written_by}`.", ""]
        out += ["| column | type | nullable | meaning |", "|---|---|---|---|"]
        for c in t.columns:
            rules = []
            if c.unique:
                rules.append("unique")
            if c.isin:
                rules.append("one of " + ", ".join(f"`{v}`" for v in c.isin))
            if c.ge is not None:
                rules.append(f"≥ {c.ge:g}")
            if c.ge_config:
                rules.append(f"≥ `[{c.ge_config.replace('.', '] ')}`")
            meaning = c.description + (f" ({'; '.join(rules)})" if rules else "")
            out.append(f"| {c.name} | {c.dtype} | {'yes' if c.nullable else 'no'} | {meaning} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    from pathlib import Path

    target = Path(__file__).resolve().parents[2] / "docs" / "tables.md"
    target.write_text(render_markdown(), encoding="utf-8")
    print(f"wrote {target}")
