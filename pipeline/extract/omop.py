"""The OMOP CDM v5.4 source, mapped to the canonical tables of docs/data-contract.md.
Every decision is listed in docs/sources.md.

Input: a folder of CDM tables as CSV (`person.csv` or `PERSON.csv`, also `.csv.gz`; tab-
separated Athena vocabulary files are recognised) or Parquet (`person.parquet`), or a DuckDB
database file holding them (any schema). Required: person, measurement, drug_exposure.
Used when present: condition_occurrence, concept, care_site, visit_occurrence, provider,
observation_period (reported only).

| OMOP table            | canonical table            |
|-----------------------|----------------------------|
| person (+ care_site)  | patients                   |
| measurement           | labs                       |
| drug_exposure         | prescriptions, dispensings (by drug_type_concept_id) |
| condition_occurrence  | diagnoses                  |

Concept ids the mapping relies on (gender, operators, dispensing types, routes) are in
data/codelists/omop_concepts.csv. Without the `concept` table the source values are used.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.codes import read_codelist
from pipeline.engine import files
from pipeline.errors import UserError
from pipeline.extract.base import COLUMNS, Extract, SourceTable, file_sha256

REQUIRED = ("person", "measurement", "drug_exposure")
OPTIONAL = ("condition_occurrence", "concept", "care_site", "visit_occurrence", "provider", "observation_period")

# Columns a table must have for the mapping; all others are optional (null when absent).
NEEDED_COLUMNS: dict[str, tuple[str, ...]] = {
    "person": ("person_id", "year_of_birth"),
    "measurement": ("person_id", "measurement_date"),
    "drug_exposure": ("person_id", "drug_exposure_start_date"),
    "condition_occurrence": ("person_id", "condition_start_date"),
    "concept": ("concept_id", "concept_name", "vocabulary_id", "concept_code"),
    "care_site": ("care_site_id",),
    "visit_occurrence": ("visit_occurrence_id",),
    "provider": ("provider_id",),
    "observation_period": ("person_id", "observation_period_start_date", "observation_period_end_date"),
}
# Empty stand-ins for absent optional lookup tables, so the SQL is the same either way.
_PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "concept": ("concept_id", "concept_name", "vocabulary_id", "concept_code"),
    "care_site": ("care_site_id", "care_site_name", "care_site_source_value"),
    "visit_occurrence": ("visit_occurrence_id", "care_site_id"),
    "provider": ("provider_id", "specialty_concept_id", "specialty_source_value"),
}
# OMOP vocabulary_id -> contract code_system for drugs (RxNorm Extension codes are
# OMOP-made, not RxNorm, so they are not passed as codes).
_DRUG_VOCABULARIES = {"RxNorm": "RXNORM", "NDC": "NDC", "ATC": "ATC"}
_CONDITION_VOCABULARIES = {"ICD10": "ICD10", "ICD10CM": "ICD10CM", "ICD9CM": "ICD9CM"}
# Shape of a bare source value when there is no concept to say which vocabulary it is:
# LOINC 'nnnnn-n'; ICD-9-CM three digits (+ up to two decimals); SNOMED 6-18 digits;
# a letter + two characters is taken as ICD-10 (ICD-9 V/E codes are ambiguous here).
_LOINC_SHAPE = r"[0-9]{1,7}-[0-9]"
_ICD9_SHAPE = r"[0-9]{3}(\.?[0-9]{1,2})?"
_SNOMED_SHAPE = r"[0-9]{6,18}"
_ICD10_SHAPE = r"[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?"


@dataclass
class _Source:
    name: str  # OMOP table name, lower case
    source_file: str  # file name (or 'db.duckdb:table')
    content_hash: str
    scan: str  # SQL reading the table (CSV), or producing it with a 1-based __row column
    path: Path
    is_csv: bool = False


def read(input_path: Path, config) -> Extract:
    """The canonical tables found in an OMOP CDM folder or DuckDB file."""
    input_path = Path(input_path)
    con = files.scratch()
    sources = _discover(con, input_path)
    for src in sources.values():
        _stage(con, src)
    for name, cols in _PLACEHOLDERS.items():
        if name not in sources:
            con.execute(
                f"CREATE TABLE {name} AS SELECT "
                + ", ".join(f"CAST(NULL AS VARCHAR) AS {c}" for c in cols)
                + " LIMIT 0"
            )
    _stage_codelists(con)
    _stage_sites(con)
    tables = [_patients(con, sources), _labs(con, sources), *_drugs(con, sources)]
    if "condition_occurrence" in sources:
        tables.append(_diagnoses(con, sources))
    return Extract(tables)


# ---------------------------------------------------------------- discovery and staging


def _discover(con, input_path: Path) -> dict[str, _Source]:
    if input_path.is_file():
        found = _discover_database(con, input_path)
    elif input_path.is_dir():
        found = _discover_folder(input_path)
    else:
        raise UserError(f"OMOP input not found: {input_path}")
    for name in REQUIRED:
        if name not in found:
            raise UserError(
                f"OMOP: required table '{name}' ({name}.csv, {name.upper()}.csv or "
                f"{name}.parquet) not found in {input_path}"
            )
    return found


def _discover_folder(folder: Path) -> dict[str, _Source]:
    found: dict[str, _Source] = {}
    for path in sorted(folder.iterdir()):
        name, kind = _table_of(path.name)
        if name not in REQUIRED + OPTIONAL:
            continue
        if name in found:
            raise UserError(f"{folder}: two files for OMOP table '{name}': {found[name].source_file} and {path.name}")
        scan = _parquet_scan(path) if kind == "parquet" else _csv_scan(path)
        found[name] = _Source(name, path.name, file_sha256(path), scan, path, is_csv=kind == "csv")
    return found


def _table_of(file_name: str) -> tuple[str | None, str | None]:
    lower = file_name.lower()
    for suffix, kind in ((".csv.gz", "csv"), (".csv", "csv"), (".parquet", "parquet")):
        if lower.endswith(suffix):
            return lower[: -len(suffix)], kind
    return None, None


def _csv_scan(path: Path) -> str:
    """read_csv on the file, all text; Athena vocabulary files are tab-separated and unquoted."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            first = fh.readline()
    except OSError as exc:
        raise UserError(f"{path.name}: cannot be read ({exc})") from None
    if not first.strip():
        raise UserError(f"{path.name}: file is empty (no header row)")
    dialect = "delim = '\t', quote = ''" if "\t" in first and "," not in first else "delim = ','"
    return f"SELECT * FROM read_csv('{files.sql_path(path)}', header = true, all_varchar = true, {dialect})"


def _parquet_scan(path: Path) -> str:
    return (
        f"SELECT file_row_number + 1 AS __row, COLUMNS(c -> c <> 'file_row_number')::VARCHAR "
        f"FROM read_parquet('{files.sql_path(path)}', file_row_number = true)"
    )


def _discover_database(con, path: Path) -> dict[str, _Source]:
    try:
        con.execute(f"ATTACH '{files.sql_path(path)}' AS omop_src (READ_ONLY)")
    except files.DatabaseError as exc:
        raise UserError(
            f"{path.name}: not a folder and not a readable DuckDB database ({str(exc).splitlines()[0]})"
        ) from None
    rows = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_catalog = 'omop_src' ORDER BY table_schema = 'main' DESC, "
        "table_schema = 'cdm' DESC, table_schema, table_name"
    ).fetchall()
    digest = file_sha256(path)
    found: dict[str, _Source] = {}
    for schema, table in rows:
        name = table.lower()
        if name in REQUIRED + OPTIONAL and name not in found:
            scan = f'SELECT rowid + 1 AS __row, COLUMNS(*)::VARCHAR FROM omop_src."{schema}"."{table}"'
            found[name] = _Source(name, f"{path.name}:{table}", digest, scan, path)
    return found


def _stage(con, src: _Source) -> None:
    """Table `src.name`: every column as text with lower-case names, plus `source_row`."""
    try:
        if src.is_csv:
            # rowid follows insertion order, which DuckDB keeps equal to file order.
            con.execute(f"CREATE TABLE raw_{src.name} AS {src.scan}")
            body = f"SELECT rowid + 1 AS __row, * FROM raw_{src.name}"
        else:
            body = src.scan
        cols = [r[0] for r in con.execute(f"DESCRIBE {body}").fetchall() if r[0] != "__row"]
    except files.DatabaseError as exc:
        raise UserError(f"{src.source_file}: cannot be read ({str(exc).splitlines()[0]})") from None
    lowered = [c.lower() for c in cols]
    missing = [c for c in NEEDED_COLUMNS[src.name] if c not in lowered]
    if missing:
        raise UserError(f"{src.source_file}: required column '{missing[0]}' is missing")
    select = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c.lower()}"' for c in cols)
    con.execute(f"CREATE TABLE {src.name} AS SELECT __row AS source_row, {select} FROM ({body})")


def _stage_codelists(con) -> None:
    """`omop_concepts` (data/codelists/omop_concepts.csv) and `routes` (routes.csv)."""
    concepts = read_codelist("omop_concepts.csv").fillna("")
    concepts["concept_id"] = concepts["concept_id"].astype("int64")
    con.register("omop_concepts", concepts[["domain", "concept_id", "maps_to"]])
    routes = read_codelist("routes.csv").fillna("")
    con.register(
        "routes",
        pd.DataFrame(
            {"route_text": routes["route_text"].str.strip().str.lower(), "route": routes["route"].str.strip()}
        ),
    )


def _stage_sites(con) -> None:
    """`site_of_care_site`, `site_of_visit`, `site_of_person`: a readable site for each.

    Site = care_site_name, else care_site_source_value, else the care_site_id itself.
    """
    cs = files.column_names(con, "care_site")
    name = "nullif(trim(care_site_name), '')" if "care_site_name" in cs else "NULL"
    source = "nullif(trim(care_site_source_value), '')" if "care_site_source_value" in cs else "NULL"
    con.execute(f"""CREATE VIEW site_of_care_site AS
        SELECT TRY_CAST(care_site_id AS BIGINT) AS care_site_id,
               arg_min(coalesce({name}, {source}, care_site_id), care_site_id) AS site
        FROM care_site GROUP BY 1""")
    visit_cs = (
        "TRY_CAST(v.care_site_id AS BIGINT)"
        if "care_site_id" in files.column_names(con, "visit_occurrence")
        else "NULL"
    )
    con.execute(f"""CREATE VIEW site_of_visit AS
        SELECT TRY_CAST(v.visit_occurrence_id AS BIGINT) AS visit_occurrence_id, any_value(s.site) AS site
        FROM visit_occurrence v JOIN site_of_care_site s ON s.care_site_id = {visit_cs} GROUP BY 1""")
    person_cs = "TRY_CAST(p.care_site_id AS BIGINT)" if "care_site_id" in files.column_names(con, "person") else "NULL"
    con.execute(f"""CREATE VIEW site_of_person AS
        SELECT TRY_CAST(p.person_id AS BIGINT) AS person_id, any_value(s.site) AS site
        FROM person p JOIN site_of_care_site s ON s.care_site_id = {person_cs} GROUP BY 1""")


# ---------------------------------------------------------------- canonical tables


def _patients(con, sources) -> SourceTable:
    """person -> patients.

    sex: gender_concept_id 8507 -> M, 8532 -> F (omop_concepts.csv); otherwise
    gender_source_value as written (the validate step accepts F/M/U/female/male); 'U' when
    both are empty. birth_year = year_of_birth. site = the person's care site (name when
    the care_site table is present, else the care_site_id). observation_period is only
    reported in the notes.
    """
    c = _col_getter(con, "person", "p")
    sql = f"""
        SELECT p.source_row, p.person_id AS patient_id,
               coalesce(g.maps_to, nullif(trim({c("gender_source_value")}), ''), 'U') AS sex,
               nullif(trim(p.year_of_birth), '') AS birth_year,
               coalesce(s.site, nullif(trim({c("care_site_id")}), '')) AS site
        FROM person p
        LEFT JOIN omop_concepts g ON g.domain = 'gender' AND g.concept_id = TRY_CAST({c("gender_concept_id")} AS BIGINT)
        LEFT JOIN site_of_care_site s ON s.care_site_id = TRY_CAST({c("care_site_id")} AS BIGINT)
    """
    notes = _observation_period_notes(con, sources)
    return _source_table(con, "patients", sources["person"], sql, notes)


def _observation_period_notes(con, sources) -> list[str]:
    if "observation_period" not in sources:
        return ["observation_period: not supplied"]
    n, persons, first, last = con.execute("""
        SELECT count(*), count(DISTINCT person_id), min(observation_period_start_date),
               max(observation_period_end_date) FROM observation_period""").fetchone()
    return [
        f"{sources['observation_period'].source_file}: {n} observation periods for {persons} persons, "
        f"{first} to {last} (reported only; the audit does not restrict to them)"
    ]


def _labs(con, sources) -> SourceTable:
    """measurement -> labs.

    taken_at = measurement_datetime, else measurement_date (also when the datetime is
    midnight of that date: date-only, see `_when`). loinc = concept_code of
    measurement_concept_id when its vocabulary is LOINC, else of measurement_source_concept_id,
    else measurement_source_value when it has the shape of a LOINC code. test_name =
    measurement_source_value, unless that is empty or a LOINC code, then the concept name.
    value = value_as_number prefixed with the comparator of operator_concept_id ('<', '<=',
    '>', '>='; '=' adds nothing; an unknown operator adds nothing and is counted in the
    notes), else value_source_value. unit = unit_source_value, else the UCUM code of
    unit_concept_id. ref_low/ref_high = range_low/range_high. site = the visit's care site,
    else the person's.
    """
    c = _col_getter(con, "measurement", "m")
    source_value = f"nullif(trim({c('measurement_source_value')}), '')"
    is_loinc_shape = f"regexp_full_match(coalesce({source_value}, ''), '{_LOINC_SHAPE}')"
    number = f"nullif(trim({c('value_as_number')}), '')"
    operator = f"TRY_CAST({c('operator_concept_id')} AS BIGINT)"
    sql = f"""
        SELECT m.source_row, m.person_id AS patient_id,
               {_when(c("measurement_datetime"), "m.measurement_date")} AS taken_at,
               coalesce(CASE WHEN mc.vocabulary_id = 'LOINC' THEN mc.concept_code END,
                        CASE WHEN sc.vocabulary_id = 'LOINC' THEN sc.concept_code END,
                        CASE WHEN {is_loinc_shape} THEN {source_value} END) AS loinc,
               CASE WHEN {source_value} IS NULL OR {is_loinc_shape}
                    THEN coalesce(mc.concept_name, {source_value}) ELSE {source_value} END AS test_name,
               CASE WHEN {number} IS NOT NULL THEN coalesce(op.maps_to, '') || {number}
                    ELSE nullif(trim({c("value_source_value")}), '') END AS value,
               coalesce(nullif(trim({c("unit_source_value")}), ''),
                        CASE WHEN uc.vocabulary_id = 'UCUM' THEN uc.concept_code END) AS unit,
               nullif(trim({c("range_low")}), '') AS ref_low, nullif(trim({c("range_high")}), '') AS ref_high,
               {_site_expr(c)} AS site
        FROM measurement m
        {_concept_join("mc", c("measurement_concept_id"))}
        {_concept_join("sc", c("measurement_source_concept_id"))}
        {_concept_join("uc", c("unit_concept_id"))}
        LEFT JOIN omop_concepts op ON op.domain = 'meas_operator' AND op.concept_id = {operator}
        {_site_joins(c)}
    """
    unknown = con.execute(f"""SELECT count(*) FROM measurement m WHERE coalesce({operator}, 0) <> 0
        AND {operator} NOT IN (SELECT concept_id FROM omop_concepts WHERE domain = 'meas_operator')""").fetchone()[0]
    notes = (
        [
            f"measurement: {unknown} rows with an operator_concept_id not in omop_concepts.csv, "
            "value loaded without a comparator"
        ]
        if unknown
        else []
    )
    return _source_table(con, "labs", sources["measurement"], sql, notes)


def _drugs(con, sources) -> list[SourceTable]:
    """drug_exposure -> prescriptions, and -> dispensings when drug_type_concept_id is a
    dispensing type (omop_concepts.csv domain drug_type_dispensing).

    drug_code/code_system: concept_code of drug_concept_id when its vocabulary is RxNorm,
    else of drug_source_concept_id when RxNorm, NDC or ATC; when drug_concept_id is not in the
    concept table (or there is none), the id itself as code_system `OMOP` (drugs.csv lists the
    OMOP concept ids of the RxNorm ingredients, so ingredient-level ids map without a
    concept table).
    drug_name = concept name of drug_concept_id, else drug_source_value. start_at/end_at =
    drug_exposure_start/end datetime, else date (a datetime at midnight of its date is
    date-only); duration_days = days_supply, where 0 means unknown (CDM: days_supply 0 is
    not a supply of no days) and is passed as empty; quantity.
    route: route_concept_id via omop_concepts.csv, else route_source_value via routes.csv,
    else 'other' when either is given. dose_amount/doses_per_day stay empty (OMOP has
    only free-text sig, which is not parsed). prescriber_specialty = provider specialty.
    dispensings: dispensed_at = start, quantity, days_supply. Dispensings are returned only
    when at least one row is a dispensing.
    """
    c = _col_getter(con, "drug_exposure", "d")
    dtype = f"TRY_CAST({c('drug_type_concept_id')} AS BIGINT)"
    is_disp = f"{dtype} IN (SELECT concept_id FROM omop_concepts WHERE domain = 'drug_type_dispensing')"
    base = _drug_base_sql(con, c, is_disp)
    presc = f"""SELECT source_row, patient_id, start_at, end_at, days_supply AS duration_days, drug_code,
                       code_system, drug_name, route, quantity, prescriber_specialty, site
                FROM ({base}) WHERE NOT is_dispensing"""
    disp = f"""SELECT source_row, patient_id, start_at AS dispensed_at, drug_code, code_system, drug_name,
                      quantity, days_supply, site
               FROM ({base}) WHERE is_dispensing"""
    n_disp = con.execute(f"SELECT count(*) FROM ({base}) WHERE is_dispensing").fetchone()[0]
    src = sources["drug_exposure"]
    out = [
        _source_table(
            con,
            "prescriptions",
            src,
            presc,
            [f"{src.source_file}: {n_disp} dispensing rows (drug_type_concept_id) loaded as dispensings"],
        )
    ]
    if n_disp:
        out.append(_source_table(con, "dispensings", src, disp, []))
    return out


def _drug_base_sql(con, c, is_disp: str) -> str:
    code_case = " ".join(f"WHEN sc.vocabulary_id = '{v}' THEN sc.concept_code" for v in _DRUG_VOCABULARIES)
    system_case = " ".join(f"WHEN sc.vocabulary_id = '{v}' THEN '{s}'" for v, s in _DRUG_VOCABULARIES.items())
    drug_id = f"TRY_CAST({c('drug_concept_id')} AS BIGINT)"
    route_src = f"nullif(trim({c('route_source_value')}), '')"
    route_id = f"TRY_CAST({c('route_concept_id')} AS BIGINT)"
    pr = files.column_names(con, "provider")
    specialty_src = "nullif(trim(pr.specialty_source_value), '')" if "specialty_source_value" in pr else "NULL"
    specialty_id = "pr.specialty_concept_id" if "specialty_concept_id" in pr else "NULL"
    return f"""
        SELECT d.source_row, d.person_id AS patient_id, {is_disp} AS is_dispensing,
               {_when(c("drug_exposure_start_datetime"), "d.drug_exposure_start_date")} AS start_at,
               {_when(c("drug_exposure_end_datetime"), c("drug_exposure_end_date"))} AS end_at,
               CASE WHEN TRY_CAST(trim({c("days_supply")}) AS DOUBLE) = 0 THEN NULL
                    ELSE nullif(trim({c("days_supply")}), '') END AS days_supply,
               CASE WHEN dc.vocabulary_id = 'RxNorm' THEN dc.concept_code {code_case}
                    WHEN dc.concept_id IS NULL AND {drug_id} <> 0 THEN CAST({drug_id} AS VARCHAR) END AS drug_code,
               CASE WHEN dc.vocabulary_id = 'RxNorm' THEN 'RXNORM' {system_case}
                    WHEN dc.concept_id IS NULL AND {drug_id} <> 0 THEN 'OMOP' END AS code_system,
               coalesce(dc.concept_name, nullif(trim({c("drug_source_value")}), '')) AS drug_name,
               coalesce(rc.maps_to, r.route,
                        CASE WHEN {route_src} IS NOT NULL OR coalesce({route_id}, 0) <> 0 THEN 'other' END) AS route,
               nullif(trim({c("quantity")}), '') AS quantity,
               coalesce(spc.concept_name, {specialty_src}) AS prescriber_specialty,
               {_site_expr(c)} AS site
        FROM drug_exposure d
        {_concept_join("dc", c("drug_concept_id"))}
        {_concept_join("sc", c("drug_source_concept_id"))}
        LEFT JOIN omop_concepts rc ON rc.domain = 'route' AND rc.concept_id = {route_id}
        LEFT JOIN routes r ON r.route_text = lower({route_src})
        LEFT JOIN (SELECT * FROM provider QUALIFY row_number() OVER (PARTITION BY provider_id) = 1) pr
               ON pr.provider_id = {c("provider_id")}
        {_concept_join("spc", specialty_id)}
        {_site_joins(c)}
    """


def _diagnoses(con, sources) -> SourceTable:
    """condition_occurrence -> diagnoses.

    code/coding_system, first that applies: condition_source_concept_id in ICD10, ICD10CM
    or ICD9CM (its concept_code and vocabulary); condition_concept_id in SNOMED; else
    condition_source_value with a coding system guessed from its shape (see _*_SHAPE:
    ICD-9-CM digits, SNOMED long digits, ICD-10 letter codes; no guess -> empty, and
    validation quarantines the row). recorded_at = condition_start_datetime, else date (a
    datetime at midnight of its date is date-only).
    """
    c = _col_getter(con, "condition_occurrence", "co")
    value = f"upper(nullif(trim({c('condition_source_value')}), ''))"
    icd_code = " ".join(f"WHEN sc.vocabulary_id = '{v}' THEN sc.concept_code" for v in _CONDITION_VOCABULARIES)
    icd_system = " ".join(f"WHEN sc.vocabulary_id = '{v}' THEN '{s}'" for v, s in _CONDITION_VOCABULARIES.items())
    sql = f"""
        SELECT co.source_row, co.person_id AS patient_id,
               CASE {icd_code} WHEN cc.vocabulary_id = 'SNOMED' THEN cc.concept_code ELSE {value} END AS code,
               CASE {icd_system} WHEN cc.vocabulary_id = 'SNOMED' THEN 'SNOMED'
                    WHEN regexp_full_match({value}, '{_ICD9_SHAPE}') THEN 'ICD9CM'
                    WHEN regexp_full_match({value}, '{_SNOMED_SHAPE}') THEN 'SNOMED'
                    WHEN regexp_full_match({value}, '{_ICD10_SHAPE}') THEN 'ICD10' END AS coding_system,
               {_when(c("condition_start_datetime"), "co.condition_start_date")} AS recorded_at
        FROM condition_occurrence co
        {_concept_join("sc", c("condition_source_concept_id"))}
        {_concept_join("cc", c("condition_concept_id"))}
    """
    return _source_table(con, "diagnoses", sources["condition_occurrence"], sql, [])


# ---------------------------------------------------------------- SQL helpers


def _when(datetime_col: str, date_col: str) -> str:
    """The *_datetime, unless it is empty or midnight of its own *_date: then the *_date, so
    the row reads as date-only (CDM conventions: a datetime without a known time is stored as
    midnight, and ETLs such as ETL-Synthea fill it that way)."""
    dt, d = f"nullif(trim({datetime_col}), '')", f"nullif(trim({date_col}), '')"
    return (
        f"CASE WHEN {dt} IS NULL THEN {d} "
        f"WHEN TRY_CAST({dt} AS TIMESTAMP) = CAST(TRY_CAST({d} AS DATE) AS TIMESTAMP) THEN {d} "
        f"ELSE {dt} END"
    )


def _concept_join(alias: str, id_expr: str) -> str:
    """Left join to `concept`; concept_id 0 ('No matching concept') never matches."""
    return (
        f"LEFT JOIN (SELECT TRY_CAST(concept_id AS BIGINT) AS concept_id, concept_name, vocabulary_id, "
        f"concept_code FROM concept) {alias} ON {alias}.concept_id = TRY_CAST({id_expr} AS BIGINT) "
        f"AND {alias}.concept_id <> 0"
    )


def _site_joins(c) -> str:
    return (
        f"LEFT JOIN site_of_visit sv ON sv.visit_occurrence_id = TRY_CAST({c('visit_occurrence_id')} AS BIGINT) "
        f"LEFT JOIN site_of_person ps ON ps.person_id = TRY_CAST({c('person_id')} AS BIGINT)"
    )


def _site_expr(c) -> str:
    """The visit's care site, else the person's."""
    return "coalesce(sv.site, ps.site)"


def _col_getter(con, table: str, alias: str):
    """c('col') -> 'alias.col' when the table has it, else a text NULL (optional CDM columns)."""
    present = files.column_names(con, table)
    return lambda col: f"{alias}.{col}" if col in present else "CAST(NULL AS VARCHAR)"


def _source_table(con, table: str, src: _Source, sql: str, notes: list[str]) -> SourceTable:
    frame = files.text_columns(con, sql, COLUMNS[table])
    return SourceTable(table, src.source_file, src.content_hash, frame, notes)
