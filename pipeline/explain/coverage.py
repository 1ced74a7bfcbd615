"""Code-list coverage: every source lab and drug name that no code list maps, with its row
count, most frequent first.

A lab or drug the committed code lists do not map is silently outside the audit, and a name
need not look like iron to be iron: a brand such as "Galfer" mentions no keyword. So
`unmapped` lists every unmapped name, whatever it says, so an analyst can extend
data/codelists/ (or confirm the name is outside the audit). `keywords_only` narrows the list
to names mentioning a keyword of data/codelists/coverage_keywords.csv (ferritin, B12, folate,
haemoglobin, iron, transferrin; ferr-, folic, cobalamin, the word iron) for a quick look.

A raw row counts as mapped when (labs) its LOINC is in lab_analytes.csv or its lower-cased
test name is a NAME entry; (drugs) its code is in drugs.csv for its code system (ATC by
prefix) or its normalised name (`codes.normalise_drug_name`) contains a NAME entry as whole
words, including the not-treatment entries (a phosphate binder is mapped: to "not iron");
or, when the validate step has run, its staged row got an analyte / agent / drug class. Rows
with an empty name are not listed. The aggregation runs in the database (Ibis); only the
small result is returned.
"""

from __future__ import annotations

import ibis
import pandas as pd
from ibis import _

from pipeline.codes import load_drug_codes, load_lab_codes, normalise_drug_name_expr, read_codelist
from pipeline.text import strip

RESULT_COLUMNS = ("domain", "source_code", "source_name", "n_rows")


def unmapped(con, limit: int | None = None, keywords_only: bool = False) -> pd.DataFrame:
    """Every unmapped source code/name, most frequent first (`keywords_only`: only names that
    mention a coverage keyword).

    `con` is an Ibis connection to the warehouse; absent raw tables are skipped. Columns:
    domain ('labs', 'prescriptions', 'dispensings'), source_code (LOINC for labs;
    'SYSTEM:code' for drugs; null when the row has no code), source_name, n_rows.
    """
    tables = set(con.list_tables())
    parts = []
    if "raw_labs" in tables:
        parts.append(_unmapped_labs(con, tables, keywords_only))
    for table in ("prescriptions", "dispensings"):
        if f"raw_{table}" in tables:
            parts.append(_unmapped_drugs(con, table, tables, keywords_only))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "n_rows" else "object") for c in RESULT_COLUMNS})
    expr = ibis.union(*parts).order_by([ibis.desc("n_rows"), _.domain, _.source_name, _.source_code])
    if limit is not None:
        expr = expr.limit(limit)
    return expr.to_pandas()


def _keywords(domain: str) -> str:
    """One regular expression matching any coverage keyword of `domain` (lower-case text)."""
    df = read_codelist("coverage_keywords.csv").fillna("")
    return "(?:" + "|".join(df.loc[df["domain"] == domain, "pattern"]) + ")"


def _unmapped_labs(con, tables: set[str], keywords_only: bool):
    raw = con.table("raw_labs")
    codes = load_lab_codes()
    loincs = sorted(codes.loc[codes["code_system"] == "LOINC", "code"].str.strip().str.upper().unique())
    names = sorted(codes.loc[codes["code_system"] == "NAME", "match_key"].unique())
    name = strip(raw.test_name).lower()
    mapped = (strip(raw.loinc).upper().isin(loincs) | name.isin(names)).fill_null(False)
    in_domain = name.re_search(_keywords("labs")).fill_null(False) if keywords_only else name.notnull()
    rows = raw.filter(in_domain, ~mapped)
    if "stg_labs" in tables:
        rows = rows.anti_join(con.table("stg_labs").filter(_.analyte.notnull()).select("row_id"), "row_id")
    return rows.group_by(domain=ibis.literal("labs"), source_code=_.loinc, source_name=_.test_name).aggregate(
        n_rows=_.count()
    )


def _unmapped_drugs(con, table: str, tables: set[str], keywords_only: bool):
    raw = con.table(f"raw_{table}")
    drugs = load_drug_codes()
    coded = drugs[drugs["code_system"] != "NAME"]
    keys = sorted((coded["code_system"].str.upper() + ":" + coded["code_norm"]).unique())
    atc_prefixes = sorted(coded.loc[coded["code_system"].str.upper() == "ATC", "code_norm"].unique())
    names_regex = "(?:" + "|".join(drugs.loc[drugs["code_system"] == "NAME", "pattern"]) + ")"

    system = strip(raw.code_system).upper()
    code = strip(raw.drug_code).upper().re_replace(r"[\s\-]", "")
    name = strip(raw.drug_name).lower()
    words = normalise_drug_name_expr(raw.drug_name)
    by_code = (system + ":" + code).isin(keys) | ibis.or_(
        ibis.literal(False), *[(system == "ATC") & code.startswith(p) for p in atc_prefixes]
    )
    mapped = by_code.fill_null(False) | words.re_search(names_regex).fill_null(False)
    in_domain = name.re_search(_keywords("drugs")).fill_null(False) if keywords_only else name.notnull()
    rows = raw.filter(in_domain, ~mapped)
    stg = f"stg_{table}"
    if stg in tables:
        s = con.table(stg)
        hit = s.filter(s.has_iron | s.has_b12 | s.has_folate | s.drug_class.notnull()).select("row_id")
        rows = rows.anti_join(hit, "row_id")
    source_code = ibis.ifelse(rows.code_system.notnull(), rows.code_system + ":" + rows.drug_code, rows.drug_code)
    return rows.group_by(domain=ibis.literal(table), source_code=source_code, source_name=_.drug_name).aggregate(
        n_rows=_.count()
    )
