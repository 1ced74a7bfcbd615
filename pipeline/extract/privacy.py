"""Privacy guard: the pipeline is for de-identified data only.

Two screens, both driven by one committed data file, `data/reference/identifier_patterns.csv`
(one row per pattern: `target` column or value, the regular expression, an optional extra
`check`, what it finds, and its source or rationale):

- Column names. A column whose name looks like a direct identifier (name, initials, address,
  street, postcode, e-mail, phone, NHS / CHI / hospital number, MRN, SSN, NI number, passport,
  exact date of birth) is refused unless the user lists it in the config under
  `[privacy] allow_columns` (checked and harmless) or `drop_columns` (never read).
- Values. The free-text columns (`FREE_TEXT`: site, prescriber_specialty, test_name,
  drug_name, unit, dose_unit, route) of every adapter's tables (csv while the file is read,
  OMOP and MIMIC in `screen_tables`, which `extract.read_source` runs) are scanned before
  anything is loaded: an e-mail address, UK or North American phone number, NHS number with a valid
  modulus-11 check digit, US social security number or UK postcode stops the load with one
  line naming the file, the column and the line (never the value). Refusing at load is the
  simplest safe design: nothing identifying reaches raw_*, the warehouse, or any released
  CSV, HTML or XLSX, so no later step has to remember to mask it. The scan is vectorised on
  each Arrow record batch (RE2 regular expressions in `pyarrow.compute`; the NHS check digit
  in Arrow arithmetic), not per row in Python, each distinct value once. Codes, dates,
  numbers and patient_id are not scanned: an NDC drug code or a pseudonymous id can look like
  a phone or NHS number.
  There is no override: a legitimate value that matches must be changed in the source file.

    >>> looks_like_identifier("Surname"), looks_like_identifier("birth_year")
    (True, False)
    >>> looks_like_identifier("Hospital No"), looks_like_identifier("CHI")
    (True, True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.codes import read_reference
from pipeline.errors import UserError

PATTERNS_FILE = "identifier_patterns.csv"
FREE_TEXT = ("site", "prescriber_specialty", "test_name", "drug_name", "unit", "dose_unit", "route")
_CONTRACT_NAMES = {"drug_name", "test_name", "code_system", "coding_system", "site"}


@dataclass(frozen=True)
class ValuePattern:
    id: str
    regex: str
    check: str | None
    description: str


@cache
def _patterns() -> tuple[tuple[re.Pattern, ...], tuple[ValuePattern, ...]]:
    df = read_reference(PATTERNS_FILE).fillna("")
    columns = tuple(re.compile(p) for p in df.loc[df.target == "column", "pattern"])
    values = tuple(
        ValuePattern(r.id, r.pattern, r.check or None, r.description)
        for r in df[df.target == "value"].itertuples(index=False)
    )
    return columns, values


def _norm(column: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", column.strip().lower()).strip("_")


def looks_like_identifier(column: str) -> bool:
    name = _norm(column)
    if name in _CONTRACT_NAMES:
        return False
    return any(p.search(name) for p in _patterns()[0])


def screen_columns(file_label: str, columns: list[str], config) -> list[str]:
    """Return the columns to keep; raise UserError on an identifier-like column that the
    config neither allows nor drops."""
    allow = {_norm(c) for c in config.privacy.allow_columns}
    drop = {_norm(c) for c in config.privacy.drop_columns}
    keep = []
    for col in columns:
        n = _norm(col)
        if n in drop:
            continue
        if looks_like_identifier(col) and n not in allow:
            raise UserError(
                f"{file_label}: column '{col}' looks like a direct identifier; this pipeline takes "
                f'de-identified data only. Remove it, or set [privacy] drop_columns = ["{col}"] '
                f"(or allow_columns if it is harmless) in your config file"
            )
        keep.append(col)
    return keep


def _whole_match(regex: str) -> str:
    """`regex` as one named group with its own groups made non-capturing (pc.extract_regex
    refuses unnamed groups)."""
    return "(?P<m>" + re.sub(r"(?<!\\)\((?!\?)", "(?:", regex) + ")"


def _nhs_check_digit_valid(values: pa.Array, regex: str) -> pa.Array:
    """Per value: its first NHS-number-shaped match has a valid modulus-11 check digit
    (NHS Data Dictionary: weights 10..2 on the first nine digits, 11 - remainder, 11 -> 0,
    10 never valid)."""
    found = pc.extract_regex(values, _whole_match(regex))
    digits = pc.replace_substring_regex(pc.struct_field(found, [0]), r"[^0-9]", "")
    total = pa.scalar(0, pa.int64())
    for i, weight in enumerate(range(10, 1, -1)):
        d = pc.cast(pc.utf8_slice_codeunits(digits, i, i + 1), pa.int64())
        total = pc.add(total, pc.multiply(d, weight))
    check = pc.subtract(11, pc.subtract(total, pc.multiply(pc.divide(total, 11), 11)))
    check = pc.if_else(pc.equal(check, 11), 0, check)
    last = pc.cast(pc.utf8_slice_codeunits(digits, 9, 10), pa.int64())
    return pc.fill_null(pc.and_(pc.equal(check, last), pc.not_equal(check, 10)), False)


def _hits(values: pa.Array, pattern: ValuePattern) -> pa.Array:
    hit = pc.fill_null(pc.match_substring_regex(values, pattern.regex), False)
    if pattern.check == "nhs_mod11" and pc.any(hit).as_py():
        hit = pc.and_(hit, _nhs_check_digit_valid(pc.if_else(hit, values, None), pattern.regex))
    return hit


def first_identifier_value(batch: pa.RecordBatch) -> tuple[str, int, str] | None:
    """The first identifier-like value in the free-text columns of `batch` (which carries the
    contract names and `source_row`): (column, source_row, what it looks like), or None."""
    first = None
    for column in FREE_TEXT:
        if column not in batch.schema.names:
            continue
        values = batch.column(column)
        # A value's verdict depends on the value alone, and free text repeats (a few hundred test
        # names in millions of rows): each distinct value is screened once, and only a hit is
        # looked up among the rows. Loading 1,000,000 patients spent 5.2 of its 11.5 s here,
        # every pattern run on every row (issue 11).
        distinct = pc.unique(values)
        for pattern in _patterns()[1]:
            hit = _hits(distinct, pattern)
            if not pc.any(hit).as_py():
                continue
            at = pc.is_in(values, value_set=pc.filter(distinct, hit))
            row = pc.min(pc.filter(batch.column("source_row"), at)).as_py()
            if first is None or row < first[1]:
                first = (column, row, pattern.description)
    return first


def screen_tables(tables) -> None:
    """The value screen for every adapter's tables (`extract.read_source` calls it). A table
    held in memory (OMOP and MIMIC hand over Arrow tables, pandas frames work too) is scanned
    here, batch by batch, its rows named by `source_row`; a stream (the csv adapter's) was
    scanned while the adapter read the file, where it can name the physical line."""
    for st in tables:
        frame = st.frame
        if isinstance(frame, pd.DataFrame):
            frame = pa.Table.from_pandas(frame, preserve_index=False)
        if not isinstance(frame, pa.Table):
            continue
        strings = pa.table({c: frame.column(c).cast(pa.string()) if c != "source_row" else frame.column(c)
                            for c in frame.column_names if c in FREE_TEXT or c == "source_row"})  # fmt: skip
        if "source_row" not in strings.column_names:
            strings = strings.append_column("source_row", pa.array(range(1, frame.num_rows + 1), pa.int64()))
        for batch in strings.to_batches(max_chunksize=1 << 16):
            screen_values(st.source_file, batch)


def screen_values(file_label: str, batch: pa.RecordBatch, line_of=lambda row: f"row {row}") -> None:
    """Raise UserError when `batch` holds an identifier-like value; `line_of(source_row)` says
    where it is in the file. The message never contains the value."""
    found = first_identifier_value(batch)
    if found is not None:
        column, row, what = found
        raise UserError(
            f"{file_label}: column '{column}' holds what looks like {what} at {line_of(row)}; this pipeline "
            "takes de-identified data only: remove it from the file (patterns: data/reference/identifier_patterns.csv)"
        )
