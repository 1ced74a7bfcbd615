"""Drug mapping shared by prescriptions and dispensings.

A drug is mapped by its code when the code list knows the code (ATC by prefix, so B03AA07
also matches B03AA; RxNorm and NDC exactly), otherwise by whole-word, case-insensitive
ingredient names (so spironolactone and buspirone never become iron). A product matching
several ingredients (ferrous fumarate + folic acid) gets every agent flag. The class and the
elemental iron per unit come from the most specific match. Matching runs on the distinct
codes and names only, then joins back, so it costs little on large tables."""

from __future__ import annotations

import ibis

from pipeline.codes import load_drug_codes
from pipeline.staging.common import clean

FLAGS = ("has_iron", "has_b12", "has_folate")
CODE_SYSTEMS = ("ATC", "RXNORM", "NDC", "LOCAL")


def _aggregate(matches: ibis.Table, key: str) -> ibis.Table:
    iron = matches.filter(matches.elemental_iron_mg_per_unit.notnull())
    iron_fraction = matches.filter(matches.elemental_iron_fraction.notnull())
    flags = matches.group_by(key).aggregate(
        **{f: matches[f].any() for f in FLAGS}, drug_class=matches.drug_class.argmax(matches.specificity)
    )
    per_unit = iron.group_by(key).aggregate(iron_mg_per_unit=iron.elemental_iron_mg_per_unit.argmax(iron.specificity))
    fraction = iron_fraction.group_by(key).aggregate(
        iron_fraction=iron_fraction.elemental_iron_fraction.argmax(iron_fraction.specificity)
    )
    out = flags.left_join(per_unit, key).drop(f"{key}_right")
    return out.left_join(fraction, key).drop(f"{key}_right")


def _code_matches(t: ibis.Table) -> ibis.Table:
    codes = load_drug_codes()
    codes = ibis.memtable(codes[codes.code_system != "NAME"].drop(columns=["pattern", "source", "version"]))
    distinct = t.select(_sys=t._code_system_c, _code=t._drug_code_c).filter(lambda d: d._code.notnull()).distinct()
    is_atc = distinct._sys == "ATC"
    cond = (distinct._sys == codes.code_system) & (
        is_atc.ifelse(distinct._code.startswith(codes.code_norm), distinct._code == codes.code_norm)
    )
    matches = distinct.inner_join(codes, cond)
    matches = matches.mutate(_code_key=matches._sys + ibis.literal("|") + matches._code)
    return _aggregate(matches, "_code_key")


def _name_matches(t: ibis.Table) -> ibis.Table:
    codes = load_drug_codes()
    names = ibis.memtable(codes[codes.code_system == "NAME"].drop(columns=["source", "version"]))
    distinct = t.select(_name_key=t._drug_name_c.lower()).filter(lambda d: d._name_key.notnull()).distinct()
    matches = distinct.inner_join(names, distinct._name_key.re_search(names.pattern))
    return _aggregate(matches, "_name_key")


def map_drugs(t: ibis.Table) -> ibis.Table:
    """Add has_iron/has_b12/has_folate, drug_class, iron_mg_per_unit, iron_fraction."""
    t = t.mutate(
        _drug_code_c=clean(t.drug_code).upper().re_replace(r"[\s\-]", ""),
        _code_system_c=clean(t.code_system).upper().re_replace(r"[\s\-]", ""),
        _drug_name_c=clean(t.drug_name),
    )
    t = t.mutate(_code_key=t._code_system_c + ibis.literal("|") + t._drug_code_c, _name_key=t._drug_name_c.lower())
    by_code = _code_matches(t).rename(lambda c: c if c == "_code_key" else f"c_{c}")
    by_name = _name_matches(t).rename(lambda c: c if c == "_name_key" else f"n_{c}")
    t = t.left_join(by_code, "_code_key").drop("_code_key_right")
    t = t.left_join(by_name, "_name_key").drop("_name_key_right")
    use_code = t.c_has_iron.notnull()
    pick = lambda col: use_code.ifelse(t[f"c_{col}"], t[f"n_{col}"])
    return t.mutate(
        **{f: pick(f).fill_null(False) for f in FLAGS},
        drug_class_c=pick("drug_class"),
        iron_mg_per_unit=t.c_iron_mg_per_unit.coalesce(t.n_iron_mg_per_unit),
        iron_fraction=t.c_iron_fraction.coalesce(t.n_iron_fraction),
    )
