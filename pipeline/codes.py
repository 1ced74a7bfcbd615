"""Committed code lists (data/codelists/): LOINC / local lab codes -> analyte, drug codes and
whole-word ingredient names -> agent flags and class, diagnosis codes -> condition group.

Drug names are matched as whole words, case-insensitively and punctuation-insensitively
(every run of characters other than letters and digits reads as one space), so the iron
trap (spIRONolactone, busPIRONe) cannot map to iron and "Vitamin B-12" is "vitamin b 12":

    >>> import re
    >>> drugs = load_drug_codes()
    >>> names = drugs[drugs.code_system == "NAME"]
    >>> any(re.search(p, normalise_drug_name("spironolactone")) for p in names.pattern)
    False
    >>> normalise_drug_name("  Heparin Flush (10 units/mL) "), normalise_drug_name("INFeD®")
    ('heparin flush 10 units ml', 'infed')
"""

from __future__ import annotations

import re
from functools import lru_cache

import pandas as pd

from pipeline.paths import CODELISTS_DIR, REFERENCE_DIR
from pipeline.text import strip

_BOOL_COLUMNS = ("has_iron", "has_b12", "has_folate")
DRUG_ROLES = ("treatment", "not_treatment", "evidence")
_NOT_ALNUM = r"[^a-z0-9]+"


def normalise_drug_name(name: str) -> str:
    """Lower case; every run of characters other than a-z and 0-9 becomes one space."""
    return re.sub(_NOT_ALNUM, " ", name.lower()).strip()


def normalise_drug_name_expr(col):
    """`normalise_drug_name` as an Ibis expression."""
    return strip(col.lower().re_replace(_NOT_ALNUM, " "))


def whole_word_pattern(name: str) -> str:
    """Regex matching `name` as whole words in a `normalise_drug_name` string."""
    return r"\b" + r"\s+".join(re.escape(w) for w in normalise_drug_name(name).split()) + r"\b"


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
    """drugs.csv with a whole-word regex `pattern` for NAME entries (matched against
    `normalise_drug_name` of the source name) and a `specificity` (longer code or name = more
    specific) used to pick the class and the salt form. `role`: treatment (opens episodes of
    its agents), not_treatment (overrides every other name match: the name suggests treatment
    but it is not), evidence (a class for the cause and exclusion rules only)."""
    df = read_codelist("drugs.csv")
    for col in _BOOL_COLUMNS:
        df[col] = df[col].str.lower().eq("true")
    df["code_norm"] = df["code"].str.strip().str.upper().str.replace(r"[\s\-]", "", regex=True)
    df["pattern"] = [
        whole_word_pattern(code) if system == "NAME" else None
        for system, code in zip(df["code_system"], df["code"], strict=False)
    ]
    df["specificity"] = df["code"].str.len()
    return df


@lru_cache(maxsize=1)
def load_iron_salts() -> pd.DataFrame:
    """data/reference/iron_salts.csv: elemental iron per salt form. A row with a salt strength
    (mg of salt per unit) gives the iron of that product strength; the row without one is the
    salt's default (iron per unit of unstated strength, and the iron fraction of a mg dose)."""
    df = read_reference("iron_salts.csv")
    for col in ("salt_mg_per_unit", "elemental_iron_mg_per_unit", "elemental_iron_fraction"):
        df[col] = pd.to_numeric(df[col])
    return df


@lru_cache(maxsize=1)
def load_brand_strengths() -> pd.DataFrame:
    """data/reference/brand_strengths.csv: the labelled strength of an oral iron brand that has
    one strength (Ferrograd Folic: dried ferrous sulfate 325 mg = 105 mg iron), for a
    prescription naming the brand without its strength. `brand` is a NAME entry of drugs.csv,
    matched as whole words (`pattern`); the longest brand matched wins (`specificity`)."""
    df = read_reference("brand_strengths.csv")
    for col in ("salt_mg_per_unit", "elemental_iron_mg_per_unit", "folic_acid_micrograms_per_unit"):
        df[col] = pd.to_numeric(df[col])
    df["pattern"] = [whole_word_pattern(b) for b in df["brand"]]
    df["specificity"] = df["brand"].str.len()
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
