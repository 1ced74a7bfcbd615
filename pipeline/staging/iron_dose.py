"""Elemental iron per day of a prescription, per salt form (data/reference/iron_salts.csv).

The salt form is the iron ingredient the drug mapping found (`staging.drugs`). The strength is
the first "<number> mg" in the product name, with or without a space ("322mg", "200 mg").
- A dose in tablets or capsules: the iron of that product strength when the table lists it
  (ferrous fumarate 322 mg = 106 mg); else strength x the salt's iron fraction; else, with no
  strength in the name, the salt's default tablet (ferrous sulfate: 65 mg).
- A dose in mg of salt: the iron fraction of the product strength named; with no strength in
  the name, of the listed product strength the dose equals (one tablet: 200 mg of ferrous
  sulfate is the UK dried-salt tablet, 65 mg iron, not 40 mg as heptahydrate); else the
  salt's default fraction (ferrous sulfate: heptahydrate, 20 %). A liquid (the name says
  liquid, elixir, syrup, solution, drops or suspension) is never a dried-salt tablet: it
  takes the default fraction. Multiples (400 mg as two 200 mg tablets) are not guessed:
  400 mg would also be 2 x 200 mg of liquid.
A brand with one labelled strength (data/reference/brand_strengths.csv: Ferrograd Folic,
Pregaday, Galfer ...) named without a strength, or with its own strength, takes the brand's
iron per unit (Ferrograd Folic: 105 mg, not the 65 mg default tablet; Pregaday 322 mg: 100 mg
as labelled) and, for a mg dose, the brand's iron fraction. A name stating another strength
goes by that strength; a brand not in the table (Fersamal comes in 210 and 322 mg) by the
rules above. The longest brand named wins (Ferrograd Folic over Ferrograd), and only when its
salt is the salt form the drug mapping found; a liquid is never a brand's tablet.
Unknown salt, unit or amount: null (the dose rules read it as unknown, never guessed).
"""

from __future__ import annotations

import ibis

from pipeline.codes import load_brand_strengths, load_iron_salts, normalise_drug_name_expr

_STRENGTH = r"(\d+(?:\.\d+)?)\s*mg\b"
_LIQUID = r"\b(liquid|elixir|syrup|solution|soln|drops|suspension)\b"


def _salts() -> tuple[ibis.Table, ibis.Table]:
    s = load_iron_salts()
    defaults = s[s.salt_mg_per_unit.isna()][["salt_form", "elemental_iron_mg_per_unit", "elemental_iron_fraction"]]
    products = s[s.salt_mg_per_unit.notna()][["salt_form", "salt_mg_per_unit", "elemental_iron_mg_per_unit"]]
    d = ibis.memtable(defaults.set_axis(["_d_salt", "_d_iron", "_d_fraction"], axis=1))
    p = ibis.memtable(products.set_axis(["_p_salt", "_p_mg", "_p_iron"], axis=1))
    return d, p


def _names(t: ibis.Table) -> ibis.Table:
    """(iron product name) -> the strength it states, whether it is a liquid, and the salt,
    salt mg and iron per unit of the longest brand it names. Each distinct name is read once,
    not each prescription (issue 11 profile)."""
    b = load_brand_strengths()
    cols = ["pattern", "salt_form", "salt_mg_per_unit", "elemental_iron_mg_per_unit", "specificity"]
    brands = ibis.memtable(b[cols].set_axis(["_b_pattern", "_b_salt", "_b_mg", "_b_iron", "_b_len"], axis=1))
    names = t.filter(t.has_iron & t._drug_name_c.notnull()).select(_bm_name=t._drug_name_c).distinct()
    low = names._bm_name.lower()
    names = names.mutate(
        _bm_key=normalise_drug_name_expr(names._bm_name),
        _n_strength=low.re_extract(_STRENGTH, 1).nullif("").try_cast("float64"),
        _n_liquid=low.re_search(_LIQUID).fill_null(False),
    )
    m = names.inner_join(brands, names._bm_key.re_search(brands._b_pattern))
    best = lambda col: m[col].argmax(m._b_len)
    found = m.group_by("_bm_name").aggregate(_b_salt=best("_b_salt"), _b_mg=best("_b_mg"), _b_iron=best("_b_iron"))
    return names.left_join(found, "_bm_name").drop("_bm_name_right", "_bm_key")


def _one_unit(t: ibis.Table, products: ibis.Table) -> ibis.Table:
    """(salt, mg dose) -> iron fraction of the listed product strength the dose equals."""
    doses = t.filter(t._dose_value == "mg").select(_m_salt=t.salt_form, _m_dose=t.dose_amount_c).distinct()
    j = doses.inner_join(products, (doses._m_salt == products._p_salt) & (doses._m_dose == products._p_mg))
    return j.select("_m_salt", "_m_dose", _m_fraction=j._p_iron / j._p_mg)


def with_iron_per_day(t: ibis.Table) -> ibis.Table:
    """Add iron_per_day_c (mg elemental iron a day) from salt_form, the name, dose and unit kind."""
    defaults, products = _salts()
    one_unit = _one_unit(t, products)
    names = _names(t)
    t = t.left_join(names, t.has_iron & (t._drug_name_c == names._bm_name))
    t = t.mutate(_strength=t._n_strength)
    t = t.left_join(defaults, t.salt_form == defaults._d_salt)
    t = t.left_join(products, (t.salt_form == products._p_salt) & (t._strength == products._p_mg))
    t = t.left_join(one_unit, (t.salt_form == one_unit._m_salt) & (t.dose_amount_c == one_unit._m_dose))
    liquid = t._n_liquid.fill_null(False)
    brand = (
        t._b_iron.notnull() & (t._b_salt == t.salt_form) & (t._strength.isnull() | (t._strength == t._b_mg)) & ~liquid
    ).fill_null(False)
    brand_iron = brand.ifelse(t._b_iron, ibis.null("float64"))
    per_unit = ibis.coalesce(
        brand_iron, t._p_iron, t._strength * t._d_fraction, t._strength.isnull().ifelse(t._d_iron, None)
    )
    from_dose = (t._strength.isnull() & ~liquid).ifelse(t._m_fraction, ibis.null("float64"))
    fraction = ibis.coalesce(brand_iron / t._b_mg, t._p_iron / t._p_mg, from_dose, t._d_fraction)
    per_day = ibis.cases(
        (t._dose_value == "unit", t.dose_amount_c * per_unit * t.doses_per_day_c),
        (t._dose_value == "mg", t.dose_amount_c * fraction * t.doses_per_day_c),
        else_=ibis.null("float64"),
    )
    t = t.mutate(iron_per_day_c=t.has_iron.ifelse(per_day, ibis.null("float64")))
    return t.drop(
        "_d_salt", "_d_iron", "_d_fraction", "_p_salt", "_p_mg", "_p_iron", "_m_salt", "_m_dose", "_m_fraction",
        "_bm_name", "_n_strength", "_n_liquid", "_b_salt", "_b_mg", "_b_iron",
    )  # fmt: skip
