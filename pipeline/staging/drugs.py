"""Drug mapping shared by prescriptions and dispensings (data/codelists/drugs.csv).

A drug is mapped by its code when the code list knows the code (ATC by prefix, RxNorm, NDC
and OMOP concept ids exactly), otherwise by its name. A code takes everything (agent flags,
class, ingredient) from its most specific entry: B03AE03 (iron and multivitamins) opens an
iron episode only, although the B03AE group also holds B12 and folic acid combinations.

Names are matched as whole words after `codes.normalise_drug_name` (case and punctuation
ignored), so spironolactone and buspirone never become iron and "Vitamin B-12" is vitamin
B12. A product name matching several treatment ingredients (ferrous fumarate + folic acid)
gets every agent flag; a `not_treatment` entry (ferric citrate, a contraceptive pack, a
heparin flush, a multivitamin, folinic acid) overrides every other match of the same name:
no agent flag, and its own class. The class and the iron salt form come from the most
specific match. Matching runs on the distinct codes and names only, then joins back, so it
costs little on large tables."""

from __future__ import annotations

import ibis

from pipeline.codes import load_drug_codes, normalise_drug_name_expr
from pipeline.staging.common import clean

FLAGS = ("has_iron", "has_b12", "has_folate")
CODE_SYSTEMS = ("ATC", "RXNORM", "NDC", "OMOP", "LOCAL")
_EXCLUDE_RANK = 10_000  # a not_treatment entry outranks any treatment or evidence entry


def _code_matches(t: ibis.Table) -> ibis.Table:
    codes = load_drug_codes()
    codes = ibis.memtable(codes[codes.code_system != "NAME"].drop(columns=["pattern", "source", "version"]))
    distinct = t.select(_sys=t._code_system_c, _code=t._drug_code_c).filter(lambda d: d._code.notnull()).distinct()
    is_atc = distinct._sys == "ATC"
    cond = (distinct._sys == codes.code_system) & (
        is_atc.ifelse(distinct._code.startswith(codes.code_norm), distinct._code == codes.code_norm)
    )
    m = distinct.inner_join(codes, cond)
    m = m.mutate(_code_key=m._sys + ibis.literal("|") + m._code)
    best = lambda col: m[col].argmax(m.specificity)
    return m.group_by("_code_key").aggregate(
        **{f: best(f) for f in FLAGS}, drug_class=best("drug_class"), salt_form=best("ingredient")
    )


def _name_matches(t: ibis.Table) -> ibis.Table:
    codes = load_drug_codes()
    names = ibis.memtable(codes[codes.code_system == "NAME"].drop(columns=["source", "version"]))
    # Normalised per distinct name, not per row: the regular expressions run a few thousand
    # times instead of once per prescription (issue 11 profile).
    distinct = t.select("_drug_name_c").filter(lambda d: d._drug_name_c.notnull()).distinct()
    distinct = distinct.mutate(_name_key=normalise_drug_name_expr(distinct._drug_name_c))
    m = distinct.inner_join(names, distinct._name_key.re_search(names.pattern))
    excluded = m.role == "not_treatment"
    m = m.mutate(_rank=m.specificity + excluded.ifelse(_EXCLUDE_RANK, 0), _treat=m.role == "treatment")
    iron = m.has_iron & m._treat
    out = m.group_by("_drug_name_c").aggregate(
        _excluded=excluded.any(),
        **{f: (m[f] & m._treat).any() for f in FLAGS},
        drug_class=m.drug_class.argmax(m._rank),
        salt_form=iron.ifelse(m.ingredient, ibis.null("string")).argmax(iron.ifelse(m.specificity, -1)),
    )
    return out.mutate(**{f: out[f] & ~out._excluded for f in FLAGS}).drop("_excluded")


def map_drugs(t: ibis.Table) -> ibis.Table:
    """Add has_iron/has_b12/has_folate, drug_class_c and salt_form (the iron ingredient,
    for the elemental iron of `staging.iron_dose`)."""
    t = t.mutate(
        _drug_code_c=clean(t.drug_code).upper().re_replace(r"[\s\-]", ""),
        _code_system_c=clean(t.code_system).upper().re_replace(r"[\s\-]", ""),
        _drug_name_c=clean(t.drug_name),
    )
    t = t.mutate(_code_key=t._code_system_c + ibis.literal("|") + t._drug_code_c)
    by_code = _code_matches(t).rename(lambda c: c if c == "_code_key" else f"c_{c}")
    by_name = _name_matches(t).rename(lambda c: c if c == "_drug_name_c" else f"n_{c}")
    t = t.left_join(by_code, "_code_key").drop("_code_key_right")
    t = t.left_join(by_name, "_drug_name_c").drop("_drug_name_c_right")
    use_code = t.c_has_iron.notnull()
    pick = lambda col: use_code.ifelse(t[f"c_{col}"], t[f"n_{col}"])
    iron = {f: pick(f).fill_null(False) for f in FLAGS}
    return t.mutate(
        **iron,
        drug_class_c=pick("drug_class"),
        salt_form=iron["has_iron"].ifelse(t.n_salt_form.coalesce(t.c_salt_form), ibis.null("string")),
    )
