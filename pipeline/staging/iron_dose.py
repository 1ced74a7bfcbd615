"""Elemental iron per day of a prescription, per salt form (data/reference/iron_salts.csv).

The salt form is the iron ingredient the drug mapping found (`staging.drugs`). The strength is
the first "<number> mg" in the product name, with or without a space ("322mg", "200 mg").
- A dose in tablets or capsules: the iron of that product strength when the table lists it
  (ferrous fumarate 322 mg = 106 mg); else strength x the salt's iron fraction; else, with no
  strength in the name, the salt's default tablet (ferrous sulfate: 65 mg).
- A dose in mg of salt: the iron fraction of the product strength named; with no strength in
  the name, of the listed strength the dose is 1 to 4 tablets of (200 mg or 400 mg of ferrous
  sulfate are dried-salt tablets, 65 mg iron per 200 mg, not heptahydrate; the smallest
  number of tablets wins); else the salt's default fraction (ferrous sulfate: heptahydrate).
Unknown salt, unit or amount: null (the dose rules read it as unknown, never guessed).
"""

from __future__ import annotations

import ibis

from pipeline.codes import load_iron_salts

_STRENGTH = r"(\d+(?:\.\d+)?)\s*mg\b"
_MAX_TABLETS = 4


def _salts() -> tuple[ibis.Table, ibis.Table]:
    s = load_iron_salts()
    defaults = s[s.salt_mg_per_unit.isna()][["salt_form", "elemental_iron_mg_per_unit", "elemental_iron_fraction"]]
    products = s[s.salt_mg_per_unit.notna()][["salt_form", "salt_mg_per_unit", "elemental_iron_mg_per_unit"]]
    d = ibis.memtable(defaults.set_axis(["_d_salt", "_d_iron", "_d_fraction"], axis=1))
    p = ibis.memtable(products.set_axis(["_p_salt", "_p_mg", "_p_iron"], axis=1))
    return d, p


def _dose_multiples(t: ibis.Table, products: ibis.Table) -> ibis.Table:
    """(salt, mg dose) -> iron fraction of the listed strength the dose is 1-4 units of."""
    doses = t.filter(t._dose_value == "mg").select(_m_salt=t.salt_form, _m_dose=t.dose_amount_c).distinct()
    j = doses.inner_join(products, doses._m_salt == products._p_salt)
    k = j._m_dose / j._p_mg
    j = j.filter(((k - k.round()).abs() < 1e-9) & (k.round() >= 1) & (k.round() <= _MAX_TABLETS))
    j = j.mutate(_k=k.round())
    return j.group_by(["_m_salt", "_m_dose"]).aggregate(_m_fraction=(j._p_iron / j._p_mg).argmin(j._k))


def with_iron_per_day(t: ibis.Table) -> ibis.Table:
    """Add iron_per_day_c (mg elemental iron a day) from salt_form, the name, dose and unit kind."""
    defaults, products = _salts()
    strength = t._drug_name_c.lower().re_extract(_STRENGTH, 1).nullif("").try_cast("float64")
    t = t.mutate(_strength=t.has_iron.ifelse(strength, ibis.null("float64")))
    multiples = _dose_multiples(t, products)
    t = t.left_join(defaults, t.salt_form == defaults._d_salt)
    t = t.left_join(products, (t.salt_form == products._p_salt) & (t._strength == products._p_mg))
    t = t.left_join(multiples, (t.salt_form == multiples._m_salt) & (t.dose_amount_c == multiples._m_dose))
    per_unit = ibis.coalesce(t._p_iron, t._strength * t._d_fraction, t._strength.isnull().ifelse(t._d_iron, None))
    from_multiple = t._strength.isnull().ifelse(t._m_fraction, ibis.null("float64"))
    fraction = ibis.coalesce(t._p_iron / t._p_mg, from_multiple, t._d_fraction)
    per_day = ibis.cases(
        (t._dose_value == "unit", t.dose_amount_c * per_unit * t.doses_per_day_c),
        (t._dose_value == "mg", t.dose_amount_c * fraction * t.doses_per_day_c),
        else_=ibis.null("float64"),
    )
    t = t.mutate(iron_per_day_c=t.has_iron.ifelse(per_day, ibis.null("float64")))
    return t.drop(
        "_d_salt", "_d_iron", "_d_fraction", "_p_salt", "_p_mg", "_p_iron", "_m_salt", "_m_dose", "_m_fraction"
    )
