"""The MIMIC-IV source: the `hosp` module as published on PhysioNet (csv.gz), mapped to the
canonical tables of docs/data-contract.md. Every decision is listed in docs/sources.md.

| MIMIC-IV file                 | canonical table | notes                                            |
|-------------------------------|-----------------|--------------------------------------------------|
| patients                      | patients        | birth_year = anchor_year - anchor_age            |
| labevents (+ d_labitems)      | labs            | test_name = item label; non-blood fluids prefixed|
| prescriptions                 | prescriptions   | NDC kept as drug_code; route via routes.csv      |
| emar                          | dispensings     | administrations only (mimic_emar_events.csv)     |
| diagnoses_icd (+ admissions)  | diagnoses       | recorded_at = admission time (no diagnosis time) |

Files are read with DuckDB, every value as text; `source_row` is the 1-based record number
in the source file (DuckDB keeps file order on insert). Dates are shifted back per patient
(config `mimic.shift_dates_to_anchor_year_group`, default on) because MIMIC stores them in
2100-2200. A required file (patients, labevents, d_labitems, prescriptions) that is missing,
or a required column missing from a file, raises UserError naming it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.codes import read_codelist
from pipeline.config import load_config
from pipeline.engine import files
from pipeline.errors import UserError
from pipeline.extract.base import COLUMNS, Extract, SourceTable, file_sha256

REQUIRED_FILES = ("patients", "labevents", "d_labitems", "prescriptions")
OPTIONAL_FILES = ("emar", "diagnoses_icd", "admissions")

# Columns each MIMIC-IV file must carry for the mapping (names as published in v2.x).
NEEDED_COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": ("subject_id", "gender", "anchor_age", "anchor_year"),
    "labevents": (
        "subject_id",
        "itemid",
        "charttime",
        "value",
        "valuenum",
        "valueuom",
        "ref_range_lower",
        "ref_range_upper",
    ),
    "d_labitems": ("itemid", "label", "fluid"),
    "prescriptions": (
        "subject_id",
        "starttime",
        "stoptime",
        "drug",
        "ndc",
        "route",
        "dose_val_rx",
        "dose_unit_rx",
        "doses_per_24_hrs",
    ),
    "emar": ("subject_id", "charttime", "medication", "event_txt"),
    "diagnoses_icd": ("subject_id", "hadm_id", "icd_code", "icd_version"),
    "admissions": ("hadm_id", "admittime"),
}
# Optional columns used when present (older or newer releases).
EXTRA_COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": ("anchor_year_group",),
    "d_labitems": ("loinc_code", "category"),
    "labevents": ("comments",),
}
# A result MIMIC reports only in `comments` ("GREATER THAN 2000.", "<0.01.  cTropnT > 0.10 ...",
# ">2000*."): a leading comparator, in words or as a sign, then a number. Anything else in the
# comment ("UNABLE TO REPORT.", "HOLD.  DISCARD GREATER THAN 8 HOURS OLD.") gives no value.
_COMMENT_RESULT = r"^\s*(GREATER THAN|LESS THAN|>=|<=|>|<)\s*([0-9]+(\.[0-9]+)?|\.[0-9]+)"

_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


def read(input_dir: Path, config) -> Extract:
    """The canonical tables found in a MIMIC-IV `hosp` folder (or its parent holding `hosp/`)."""
    paths = discover(Path(input_dir))
    con = files.scratch()
    for name, path in paths.items():
        _stage(con, name, path)
    _stage_shift(con, _shift_enabled(config))
    tables = [_patients(con, paths), _labs(con, paths), _prescriptions(con, paths)]
    if "emar" in paths:
        tables.append(_dispensings(con, paths))
    if "diagnoses_icd" in paths:
        tables.append(_diagnoses(con, paths))
    return Extract(tables)


def discover(input_dir: Path) -> dict[str, Path]:
    """MIMIC file name (without extension) -> path; `.csv.gz` preferred over `.csv`."""
    if not input_dir.is_dir():
        raise UserError(f"MIMIC-IV input folder not found: {input_dir}")
    folder = input_dir / "hosp" if (input_dir / "hosp").is_dir() else input_dir
    found: dict[str, Path] = {}
    for name in REQUIRED_FILES + OPTIONAL_FILES:
        for suffix in (".csv.gz", ".csv"):
            if (folder / f"{name}{suffix}").is_file():
                found[name] = folder / f"{name}{suffix}"
                break
        if name in REQUIRED_FILES and name not in found:
            raise UserError(f"MIMIC-IV: required file {name}.csv.gz not found in {folder}")
    return found


def _shift_enabled(config) -> bool:
    """Whether to move MIMIC's shifted dates back (config [mimic])."""
    return (config or load_config()).mimic.shift_dates_to_anchor_year_group


def _stage(con: object, name: str, path: Path) -> None:
    """Load the needed columns of one file into table `name`, all text, with `source_row`."""
    scan = f"read_csv('{files.sql_path(path)}', header = true, all_varchar = true, delim = ',', quote = '\"')"
    try:
        header = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()]
    except files.DatabaseError as exc:
        raise UserError(f"{path.name}: cannot be read as CSV ({str(exc).splitlines()[0]})") from None
    lowered = {h.lower(): h for h in header}
    missing = [c for c in NEEDED_COLUMNS[name] if c not in lowered]
    if missing:
        raise UserError(f"{path.name}: required column '{missing[0]}' is missing")
    wanted = NEEDED_COLUMNS[name] + tuple(c for c in EXTRA_COLUMNS.get(name, ()) if c in lowered)
    cols = ", ".join(f'"{lowered[c]}" AS {c}' for c in wanted)
    con.execute(f"CREATE TABLE src_{name} AS SELECT {cols} FROM {scan}")
    # rowid follows insertion order, which DuckDB keeps equal to file order.
    con.execute(f"CREATE VIEW {name} AS SELECT rowid + 1 AS source_row, * FROM src_{name}")


def _stage_shift(con: object, enabled: bool) -> None:
    """Table `shift(subject_id, shift_days, first_year)`: whole days to subtract per patient.

    MIMIC-IV stores each patient's dates shifted into 2100-2200; `anchor_year_group` gives
    the real three-year span in which `anchor_year` fell. Subtracting the days between
    1 January of anchor_year and 1 January of the span's first year keeps every interval
    within a patient. Missing or unparsable group: no shift for that patient.
    """
    has_group = "anchor_year_group" in files.column_names(con, "patients")
    first = "TRY_CAST(trim(split_part(anchor_year_group, '-', 1)) AS INTEGER)" if has_group else "NULL"
    days = (
        f"date_diff('day', make_date({first}, 1, 1), make_date(TRY_CAST(anchor_year AS INTEGER), 1, 1))"
        if enabled
        else "NULL"
    )
    con.execute(f"""
        CREATE TABLE shift AS
        SELECT subject_id, arg_min(coalesce({days}, 0), source_row) AS shift_days,
               arg_min(CASE WHEN {days} IS NULL THEN TRY_CAST(anchor_year AS INTEGER) ELSE {first} END,
                       source_row) AS ref_year
        FROM patients GROUP BY subject_id
    """)


def _shifted(expr: str, days: str = "s.shift_days") -> str:
    """SQL: the timestamp text `expr` moved back by `days`; unparsable text is kept as read."""
    ts = f"TRY_CAST({expr} AS TIMESTAMP)"
    return (
        f"CASE WHEN {ts} IS NULL OR {days} IS NULL OR {days} = 0 THEN {expr} "
        f"ELSE strftime({ts} - to_days(CAST({days} AS INTEGER)), '{_TIMESTAMP_FORMAT}') END"
    )


def _patients(con, paths) -> SourceTable:
    """patients: subject_id -> patient_id, gender -> sex, birth year from the anchor.

    birth_year = anchor year - anchor_age, where the anchor year is the first year of
    anchor_year_group when dates are shifted (so ages at events stay right). MIMIC caps
    anchor_age at 91 for the oldest patients; their birth year is then an upper bound.
    No site: MIMIC-IV is one hospital.
    """
    sql = """
        SELECT p.source_row, p.subject_id AS patient_id, nullif(trim(p.gender), '') AS sex,
               CAST(s.ref_year - TRY_CAST(p.anchor_age AS INTEGER) AS VARCHAR) AS birth_year
        FROM patients p LEFT JOIN shift s USING (subject_id)
    """
    return _source_table(con, "patients", paths["patients"], sql, [])


def _labs(con, paths) -> SourceTable:
    """labevents + d_labitems -> labs.

    test_name is the d_labitems label for blood items, and '<fluid>: <label>' for every
    other fluid, so that urine or ascites results never map to a blood analyte by name
    (the validate step maps NAME entries of lab_analytes.csv on the exact lower-cased name);
    items of category Blood Gas are named 'Blood Gas: <label>' (so the blood gas Hb, itemid
    50811, is told apart from the laboratory's, 51222: data/codelists/hb_methods.csv).
    loinc comes from d_labitems.loinc_code when the release has it (v1.0), else null.
    value is valuenum when present, else the value text (so '<1' or '>300' keep their
    comparator); text with a leading comparator wins over valuenum. When value and valuenum
    are both empty, a comparator and number leading the `comments` text become the value
    ('GREATER THAN 2000.' -> '>2000', '<0.01.  cTropnT ...' -> '<0.01'); other comments give no
    value (validation decides what an empty value means). unit = valueuom
    (blank -> null); ref_low/ref_high = ref_range_lower/upper. An itemid missing from
    d_labitems gets test_name 'MIMIC itemid <id>' (unmapped, listed by coverage).
    """
    has_loinc = "loinc_code" in files.column_names(con, "d_labitems")
    loinc = "nullif(trim(d.loinc_code), '')" if has_loinc else "NULL"
    from_comment = _comment_value("l.comments") if "comments" in files.column_names(con, "labevents") else "NULL"
    # a blood gas analyser's Hb is not the laboratory's (RULES.md 'Iron response'): name it apart
    has_category = "category" in files.column_names(con, "d_labitems")
    blood_gas = "lower(trim(d.category)) = 'blood gas'" if has_category else "false"
    sql = f"""
        SELECT l.source_row, l.subject_id AS patient_id, {_shifted("l.charttime")} AS taken_at,
               {loinc} AS loinc,
               CASE WHEN d.label IS NULL THEN 'MIMIC itemid ' || l.itemid
                    WHEN lower(trim(d.fluid)) = 'blood' AND {blood_gas} THEN 'Blood Gas: ' || trim(d.label)
                    WHEN lower(trim(d.fluid)) = 'blood' THEN trim(d.label)
                    ELSE coalesce(trim(d.fluid), 'unknown fluid') || ': ' || trim(d.label) END AS test_name,
               CASE WHEN regexp_matches(coalesce(l.value, ''), '^\\s*[<>]') THEN trim(l.value)
                    ELSE coalesce(nullif(trim(l.valuenum), ''), nullif(trim(l.value), ''), {from_comment}) END
                 AS value,
               nullif(trim(l.valueuom), '') AS unit,
               nullif(trim(l.ref_range_lower), '') AS ref_low, nullif(trim(l.ref_range_upper), '') AS ref_high
        FROM labevents l
        LEFT JOIN (SELECT itemid, arg_min(label, source_row) AS label, arg_min(fluid, source_row) AS fluid
                   {", arg_min(loinc_code, source_row) AS loinc_code" if has_loinc else ""}
                   {", arg_min(category, source_row) AS category" if has_category else ""}
                   FROM d_labitems GROUP BY itemid) d USING (itemid)
        LEFT JOIN shift s USING (subject_id)
    """
    notes = [
        f"{paths['labevents'].name}: item names from {paths['d_labitems'].name}; "
        "items of fluids other than Blood are named '<fluid>: <label>' so they do not map"
    ]
    return _source_table(con, "labs", paths["labevents"], sql, notes)


def _comment_value(col: str) -> str:
    """SQL: '<comparator><number>' from a comment that starts with one (see _COMMENT_RESULT), else NULL."""
    text = f"upper({col})"
    word = f"regexp_extract({text}, '{_COMMENT_RESULT}', 1)"
    number = f"regexp_extract({text}, '{_COMMENT_RESULT}', 2)"
    sign = f"CASE {word} WHEN 'GREATER THAN' THEN '>' WHEN 'LESS THAN' THEN '<' ELSE {word} END"
    return f"CASE WHEN regexp_matches({text}, '{_COMMENT_RESULT}') THEN {sign} || {number} END"


def _prescriptions(con, paths) -> SourceTable:
    """prescriptions -> prescriptions.

    start_at/end_at = starttime/stoptime; drug_name = drug (free text, matched whole-word
    by the validate step); drug_code = ndc with code_system NDC unless it is empty or all
    zeros (MIMIC writes '0' when there is no NDC). route: data/codelists/routes.csv on the
    lower-cased text, any other non-empty route -> 'other'. dose_amount/dose_unit =
    dose_val_rx/dose_unit_rx (amount of the salt, e.g. 325 mg ferrous sulfate);
    doses_per_day = doses_per_24_hrs. No quantity, duration, specialty or site in MIMIC.
    """
    _stage_routes(con)
    sql = f"""
        SELECT p.source_row, p.subject_id AS patient_id,
               {_shifted("p.starttime")} AS start_at, {_shifted("p.stoptime")} AS end_at,
               CASE WHEN NOT regexp_full_match(coalesce(trim(p.ndc), ''), '0*') THEN trim(p.ndc) END AS drug_code,
               CASE WHEN NOT regexp_full_match(coalesce(trim(p.ndc), ''), '0*') THEN 'NDC' END AS code_system,
               nullif(trim(p.drug), '') AS drug_name,
               CASE WHEN nullif(trim(p.route), '') IS NULL THEN NULL ELSE coalesce(r.route, 'other') END AS route,
               nullif(trim(p.dose_val_rx), '') AS dose_amount, nullif(trim(p.dose_unit_rx), '') AS dose_unit,
               nullif(trim(p.doses_per_24_hrs), '') AS doses_per_day
        FROM prescriptions p
        LEFT JOIN routes r ON r.route_text = lower(trim(p.route))
        LEFT JOIN shift s USING (subject_id)
    """
    return _source_table(con, "prescriptions", paths["prescriptions"], sql, [])


def _dispensings(con, paths) -> SourceTable:
    """emar administrations -> dispensings (evidence that a dose was given).

    Chosen over `pharmacy` because emar records each dose given at the bedside, while
    pharmacy rows are orders filled for the ward and say nothing about intake. Only events
    listed with counts_as_dose = true in data/codelists/mimic_emar_events.csv are loaded
    (e.g. 'Administered'; not 'Not Given' or 'Hold Dose'); the rest are reported in the
    notes. dispensed_at = charttime, drug_name = medication, quantity 1, days_supply 1
    (one administration covers its day). emar covers the hospital stay only.
    """
    events = _read_codelist("mimic_emar_events.csv")
    dose_events = events.loc[events["counts_as_dose"].str.lower() == "true", "event_txt"]
    con.register("dose_events", pd.DataFrame({"event_txt": dose_events.str.strip().str.lower()}))
    where = "lower(trim(e.event_txt)) IN (SELECT event_txt FROM dose_events)"
    sql = f"""
        SELECT e.source_row, e.subject_id AS patient_id, {_shifted("e.charttime")} AS dispensed_at,
               nullif(trim(e.medication), '') AS drug_name, '1' AS quantity, '1' AS days_supply
        FROM emar e LEFT JOIN shift s USING (subject_id)
        WHERE {where}
    """
    total, kept = con.execute(f"SELECT count(*), count(*) FILTER (WHERE {where}) FROM emar e").fetchone()
    notes = [
        f"{paths['emar'].name}: {kept} administration events loaded as dispensings; "
        f"{total - kept} other events (not given, held, flushed, ...) not loaded"
    ]
    return _source_table(con, "dispensings", paths["emar"], sql, notes)


def _diagnoses(con, paths) -> SourceTable:
    """diagnoses_icd -> diagnoses.

    code = icd_code (MIMIC writes it without the dot); coding_system ICD9CM for
    icd_version 9 and ICD10CM for 10 (anything else is passed on and quarantined).
    recorded_at = admittime of the admission (hadm_id): MIMIC has no diagnosis time, and
    the codes are assigned for billing at discharge. Without admissions.csv.gz, or for an
    hadm_id not in it, recorded_at is empty and validation quarantines the row.
    """
    has_adm = "admissions" in paths
    adm = (
        (
            "LEFT JOIN (SELECT hadm_id, arg_min(admittime, source_row) AS admittime FROM admissions "
            "GROUP BY hadm_id) a USING (hadm_id)"
        )
        if has_adm
        else ""
    )
    admit = _shifted("a.admittime") if has_adm else "NULL"
    sql = f"""
        SELECT d.source_row, d.subject_id AS patient_id, upper(trim(d.icd_code)) AS code,
               CASE trim(d.icd_version) WHEN '9' THEN 'ICD9CM' WHEN '10' THEN 'ICD10CM'
                    ELSE nullif(trim(d.icd_version), '') END AS coding_system,
               {admit} AS recorded_at
        FROM diagnoses_icd d {adm} LEFT JOIN shift s USING (subject_id)
    """
    notes = [
        f"{paths['diagnoses_icd'].name}: recorded_at is the admission time"
        + ("" if has_adm else "; admissions.csv.gz missing, so recorded_at is empty")
    ]
    return _source_table(con, "diagnoses", paths["diagnoses_icd"], sql, notes)


def _stage_routes(con) -> None:
    routes = _read_codelist("routes.csv")
    con.register(
        "routes",
        pd.DataFrame(
            {"route_text": routes["route_text"].str.strip().str.lower(), "route": routes["route"].str.strip()}
        ),
    )


def _source_table(con, table: str, path: Path, sql: str, notes: list[str]) -> SourceTable:
    return SourceTable(table, path.name, file_sha256(path), files.text_columns(con, sql, COLUMNS[table]), notes)


def _read_codelist(name: str) -> pd.DataFrame:
    return read_codelist(name).fillna("")
