"""Building blocks shared by the per-table staging modules: text cleaning, date parsing and
the generic checks (required value, unparseable or out-of-range date, unknown patient, exact
duplicate).

raw_* holds every value as it was in the file: only a truly empty field is null there, and
`NA`, `N/A`, `NULL`, `NaN`, `#N/A` ... arrive as text. Staging decides: `clean()` reads such a
missing-value marker as missing, and a required value that is one is quarantined with a reason
naming the marker (`patient_id is 'NA' (a missing-value marker); it is required`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from pipeline.text import strip

# A date with a time part: 2024-03-01 14:30, 2024-03-01T14:30:00
_HAS_TIME = r"\d[T ]\d{1,2}:\d{2}"
# The accepted date forms (docs/data-contract.md "Dates"): ISO 8601 date, optionally with a
# time (T or a space; hours, minutes, optional seconds and fraction) and, after a time, an
# offset from UTC (Z, +02:00, -0500, +02). Anything else is not a date.
_LOCAL = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?"
_OFFSET = r"(?:Z|[+-]\d{2}(?::?\d{2})?)"
_ISO_FORM = rf"^{_LOCAL}$|^\d{{4}}-\d{{2}}-\d{{2}}[T ]\d{{1,2}}:\d{{2}}(?::\d{{2}}(?:\.\d{{1,6}})?)?{_OFFSET}$"
_ISO_LOCAL = rf"^({_LOCAL})"
_ISO_OFFSET = rf"\d:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?({_OFFSET})$"
_NUMBER = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"
# Text that spreadsheets, R, pandas and SQL exports write for "no value" (pyarrow's and pandas'
# default null markers, plus None/nil), compared trimmed and in lower case.
MISSING_MARKERS = (
    "na", "n/a", "#n/a", "#n/a n/a", "#na", "null", "nan", "-nan", "none", "nil",
    "1.#ind", "1.#qnan", "-1.#ind", "-1.#qnan", "<na>",
)  # fmt: skip
# The exact-duplicate search: a hash of a row's cleaned values (`prepared`), and the lowest
# row_id with the same cleaned values (`first_row_ids`, `with_first_row_id`).
DUP_HASH = "_dup_hash"
FIRST_ROW = "_first_row_id"


@dataclass(frozen=True)
class Context:
    """What staging needs besides the raw table: config, code-list tables, staged patients."""

    config: object
    con: object
    today: date
    patients: ir.Table | None = None


@dataclass(frozen=True)
class Check:
    """One row-level check. `fails(t)` is true for a failing row; `reason(t)` says what to fix."""

    check_id: str
    description: str
    fails: Callable[[ir.Table], ir.BooleanValue]
    reason: Callable[[ir.Table], ir.StringValue]


def _is_marker(stripped: ir.StringValue) -> ir.BooleanValue:
    # An array lookup, not `isin`: DuckDB plans an IN list this long as a join per use, and
    # staging cleans every column several times (issue 11 profile).
    return ibis.literal(list(MISSING_MARKERS), type="array<string>").contains(stripped.lower()).fill_null(False)


def is_missing_marker(col: ir.StringValue) -> ir.BooleanValue:
    """The value is a missing-value marker such as `NA` or `#N/A` (false for null and empty)."""
    return _is_marker(strip(col))


def _prepared(col: ir.Value, prefix: str) -> ir.Value | None:
    """The column `<prefix><name>` that `prepared()` computed for the column `col` of the same
    table, or None: a check or a staged column then reads the value computed once per row
    instead of cleaning or parsing the raw text again (issue 11 profile: every check cleaned
    its columns anew, and the same timestamp was parsed by four expressions)."""
    op = col.op()
    if isinstance(op, ops.Field):
        name = f"{prefix}{op.name}"
        if name in op.rel.schema:
            return ops.Field(op.rel, name).to_expr()
    return None


def clean(col: ir.StringValue) -> ir.StringValue:
    """Trimmed text; empty strings and missing-value markers (`NA`, `NULL`, ...) become null."""
    done = _prepared(col, "_c_")
    if done is not None:
        return done
    s = strip(col)
    return ((s == "") | _is_marker(s)).ifelse(ibis.null("string"), s)


def quoted(col: ir.StringValue) -> ir.StringValue:
    return ibis.literal("'") + col.fill_null("") + ibis.literal("'")


def parse_timestamp(col: ir.StringValue) -> ir.TimestampValue:
    """A value in an accepted date form as a timestamp; one with an offset from UTC is
    converted to UTC (`2024-03-01T16:30+02:00` is 14:30), one without is taken as written.
    Any other form (`01/03/2024`, `2024-3-1`, `20240301`) and an impossible date are null,
    which the `bad_<column>` check quarantines."""
    done = _prepared(col, "_ts_")
    if done is not None:
        return done
    s = clean(col)
    local = s.re_extract(_ISO_LOCAL, 1).replace("T", " ").try_cast("timestamp")
    ok = s.re_search(_ISO_FORM) & local.notnull()
    return ok.ifelse(local - _offset_minutes(s).as_interval("m"), ibis.null("timestamp"))


def _offset_minutes(s: ir.StringValue) -> ir.IntegerValue:
    """Minutes east of UTC of a value's offset (0 without one, and for Z)."""
    off = s.re_extract(_ISO_OFFSET, 1).replace(":", "").fill_null("")
    hours = off.substr(1, 2).try_cast("int64").fill_null(0)
    minutes = (off.length() == 5).ifelse(off.substr(3, 2).try_cast("int64"), 0).fill_null(0)
    sign = (off.left(1) == "-").ifelse(-1, 1)
    return (hours * 60 + minutes) * sign


def has_time(col: ir.StringValue) -> ir.BooleanValue:
    return clean(col).re_search(_HAS_TIME).fill_null(False)


def parse_number(col: ir.StringValue) -> ir.FloatingValue:
    done = _prepared(col, "_n_")
    if done is not None:
        return done
    s = clean(col)
    return s.re_search(_NUMBER).ifelse(s.try_cast("float64"), ibis.null("float64"))


def is_bad_number(col: ir.StringValue) -> ir.BooleanValue:
    """Present but not a number."""
    return clean(col).notnull() & parse_number(col).isnull()


def number_check(col: str) -> Check:
    """An optional number that is present must be a finite decimal number (`1.5`, `2e3`):
    text, a comma decimal (`1,5`), `inf` or a number too large for a double is quarantined,
    never nulled or staged as infinite."""
    n = lambda t: parse_number(t[col])
    return Check(
        f"bad_{col}",
        f"{col} must be a finite number (decimal point)",
        lambda t: clean(t[col]).notnull() & (n(t).isnull() | n(t).isinf().fill_null(False)),
        lambda t: quoted(t[col]) + ibis.literal(f" in {col} is not a finite number (use a decimal point: 1.5)"),
    )


def missing_reason(col: ir.StringValue, label: str) -> ir.StringValue:
    """Why a required value is missing: the marker it holds (`value is 'NA' (a missing-value
    marker); it is required`), or that it is empty."""
    return is_missing_marker(col).ifelse(
        ibis.literal(f"{label} is ") + quoted(strip(col)) + ibis.literal(" (a missing-value marker); it is required"),
        ibis.literal(f"{label} is empty; it is required"),
    )


def required(col: str, label: str | None = None) -> Check:
    label = label or col
    return Check(f"missing_{col}", f"{label} is required", lambda t: clean(t[col]).isnull(),
                 lambda t: missing_reason(t[col], label))  # fmt: skip


def timestamp_checks(col: str, ctx: Context, required_value: bool = True) -> list[Check]:
    """Unparseable, in the future, or before the configured first year."""
    min_year = ctx.config.validation.min_year
    today = ibis.literal(ctx.today)
    checks = [
        Check(
            f"bad_{col}",
            f"{col} must be a date (YYYY-MM-DD) or timestamp",
            lambda t: clean(t[col]).notnull() & parse_timestamp(t[col]).isnull(),
            lambda t: quoted(t[col]) + ibis.literal(f" in {col} is not a date; use YYYY-MM-DD or YYYY-MM-DD HH:MM"),
        ),
        Check(
            f"future_{col}",
            f"{col} must not be in the future",
            lambda t: parse_timestamp(t[col]).date() > today,
            lambda t: quoted(t[col]) + ibis.literal(f" in {col} is in the future"),
        ),
        Check(
            f"old_{col}",
            f"{col} must not be before {min_year}",
            lambda t: parse_timestamp(t[col]).year() < min_year,
            lambda t: quoted(t[col]) + ibis.literal(f" in {col} is before {min_year}"),
        ),
    ]
    if required_value:
        checks.insert(0, required(col))
    return checks


def with_known_patient(t: ir.Table, patients: ir.Table) -> ir.Table:
    """`t` with `_patient_known`: its patient is in the staged patients. A join, not an IN
    subquery in the check: Spark refuses subqueries inside the array of check results."""
    ids = patients.select(_known_id=patients.patient_id).distinct()
    j = t.left_join(ids, clean(t.patient_id) == ids._known_id)
    return j.mutate(_patient_known=j._known_id.notnull()).drop("_known_id")


def unknown_patient(ctx: Context) -> Check:
    """Rows for a patient who is not in the (staged) patients file (`with_known_patient`)."""

    def fails(t):
        return clean(t.patient_id).notnull() & ~t._patient_known

    return Check(
        "unknown_patient",
        "patient_id must appear in the patients file",
        fails,
        lambda t: ibis.literal("patient_id is not in the patients file (or its patients row was quarantined)"),
    )


def exact_duplicate(columns: tuple[str, ...]) -> Check:
    """A row identical in every contract column to an earlier row (lowest row_id kept)."""

    def fails(t):
        return t[FIRST_ROW] != t.row_id

    return Check(
        "exact_duplicate",
        "exact duplicate of an earlier row",
        fails,
        lambda t: ibis.literal("exact duplicate of row_id ") + t[FIRST_ROW].cast("string"),
    )


def prepared(
    t: ir.Table, columns: tuple[str, ...], timestamps: tuple[str, ...] = (), numbers: tuple[str, ...] = ()
) -> ir.Table:
    """`t` with each contract column cleaned once (`_c_<col>`), the date and number columns
    parsed once (`_ts_<col>`, `_n_<col>`), and `_dup_hash`: a hash of the cleaned values, from
    which `first_row_ids` finds the exact duplicates (so an empty quoted field, an empty
    unquoted one and `NA` are the same value; surrounding spaces do not count). `clean`,
    `parse_timestamp` and `parse_number` of such a column then read these columns, so every
    check and the staged table share one evaluation."""
    keys = duplicate_keys(columns)
    t = t.mutate(**{k: clean(t[c]) for k, c in zip(keys, columns, strict=True)})
    return t.mutate(
        **{f"_ts_{c}": parse_timestamp(t[c]) for c in timestamps},
        **{f"_n_{c}": parse_number(t[c]) for c in numbers},
        **{DUP_HASH: ibis.struct({k: t[k] for k in keys}).hash()},
    )


def duplicate_keys(columns: tuple[str, ...]) -> list[str]:
    """The columns whose values together make a row an exact duplicate: the cleaned contract
    columns that `prepared()` adds."""
    return [f"_c_{c}" for c in columns]


def first_row_ids(t: ir.Table, columns: tuple[str, ...]) -> ir.Table:
    """(row_id, _first_row_id) of each row that exactly duplicates an earlier one:
    `_first_row_id` is the lowest row_id with the same cleaned values. `t` holds the
    columns of `prepared()`, materialised. Only the rows whose `_dup_hash` occurs more than
    once are compared value by value (about 1 %; a hash collision only adds rows to compare):
    a window over every row and every cleaned column was the slowest part of validation
    (issue 11, 1 M patients: the lab candidate took 6.8 s with it, 3.9 s + 0.7 s this way)."""
    keys = duplicate_keys(columns)
    repeated = t.group_by(DUP_HASH).aggregate(_n=t.count())
    repeated = repeated.filter(repeated._n > 1).select(DUP_HASH)
    rows = t.semi_join(repeated, DUP_HASH).select("row_id", *keys)
    rows = rows.mutate(**{FIRST_ROW: rows.row_id.min().over(ibis.window(group_by=keys))})
    return rows.filter(rows[FIRST_ROW] != rows.row_id).select("row_id", FIRST_ROW)


def with_first_row_id(t: ir.Table, duplicates: ir.Table) -> ir.Table:
    """`t` with `_first_row_id` (its own row_id unless `duplicates`, from `first_row_ids`,
    names an earlier identical row), which `exact_duplicate` reads."""
    d = duplicates.select(_dup_row=duplicates.row_id, _dup_first=duplicates[FIRST_ROW])
    j = t.left_join(d, t.row_id == d._dup_row)
    return j.mutate(**{FIRST_ROW: j._dup_first.fill_null(j.row_id)}).drop("_dup_row", "_dup_first")


def raw_values(t: ir.Table, columns: tuple[str, ...]) -> ir.StringValue:
    """The raw contract values as `col=value; ...` for the quarantine table."""
    parts = []
    for i, c in enumerate(columns):
        parts.append(ibis.literal(("; " if i else "") + f"{c}=") + t[c].fill_null(""))
    out = parts[0]
    for p in parts[1:]:
        out = out + p
    return out
