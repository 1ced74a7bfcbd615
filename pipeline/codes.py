"""Committed code lists (data/codelists/): LOINC / local lab codes -> analyte, drug codes and
whole-word ingredient names -> agent flags and class, diagnosis codes -> condition group.

Drug names are matched as whole words, case-insensitively, so the iron trap
(spIRONolactone, busPIRONe) cannot map to iron:

    >>> import re
    >>> drugs = load_drug_codes()
    >>> names = drugs[drugs.code_system == "NAME"]
    >>> any(re.search(p, "spironolactone") for p in names.pattern)
    False
"""

from __future__ import annotations

import re
from functools import lru_cache

import pandas as pd

from pipeline.paths import CODELISTS_DIR, REFERENCE_DIR

_BOOL_COLUMNS = ("has_iron", "has_b12", "has_folate")


def read_table(path) -> pd.DataFrame:
    """A committed CSV (code list or reference table) as text; only an empty cell is missing
    (so a code such as `NA` or `None` stays a code). Every reader of data/ goes through here."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def read_codelist(name: str) -> pd.DataFrame:
    return read_table(CODELISTS_DIR / name)


def read_reference(name: str) -> pd.DataFrame:
    return read_table(REFERENCE_DIR / name)


@lru_cache(maxsize=1)
def load_lab_codes() -> pd.DataFrame:
    """lab_analytes.csv; NAME entries are matched on the trimmed, lower-cased test name."""
    df = read_codelist("lab_analytes.csv")
    df["match_key"] = df["code"].str.strip().str.lower()
    return df


@lru_cache(maxsize=1)
def load_hb_methods() -> pd.DataFrame:
    """hb_methods.csv: which kind of analyser measured an Hb (laboratory, point_of_care,
    blood_gas), by LOINC or by the trimmed, lower-cased test name (`match_key`)."""
    df = read_codelist("hb_methods.csv")
    df["match_key"] = df["code"].str.strip().str.lower()
    return df


@lru_cache(maxsize=1)
def load_drug_codes() -> pd.DataFrame:
    """drugs.csv with a whole-word regex `pattern` for NAME entries and a `specificity`
    (longer code or name = more specific) used to pick class and iron content."""
    df = read_codelist("drugs.csv")
    for col in _BOOL_COLUMNS:
        df[col] = df[col].str.lower().eq("true")
    for col in ("elemental_iron_mg_per_unit", "elemental_iron_fraction"):
        df[col] = pd.to_numeric(df[col])
    df["code_norm"] = df["code"].str.strip().str.upper().str.replace(r"[\s\-]", "", regex=True)
    df["pattern"] = [
        r"\b" + r"\s+".join(re.escape(w) for w in code.lower().split()) + r"\b" if system == "NAME" else None
        for system, code in zip(df["code_system"], df["code"], strict=False)
    ]
    df["specificity"] = df["code"].str.len()
    return df


@lru_cache(maxsize=1)
def load_condition_codes() -> pd.DataFrame:
    """conditions.csv; codes are prefixes without the dot, matched longest-first."""
    df = read_codelist("conditions.csv")
    df["code_prefix"] = df["code_prefix"].str.upper().str.replace(".", "", regex=False)
    return df


@lru_cache(maxsize=1)
def load_analytes() -> pd.DataFrame:
    """data/reference/analytes.csv: canonical unit and plausible range per analyte."""
    df = read_reference("analytes.csv")
    for col in ("plausible_min", "plausible_max"):
        df[col] = pd.to_numeric(df[col])
    return df
