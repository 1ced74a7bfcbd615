"""Brand strengths (issue 10 item 6): a prescription naming an oral iron brand with one
labelled strength, without the strength in its text, gets the brand's elemental iron per unit
from data/reference/brand_strengths.csv (SmPC / BNF figures with a source per row).

Literal prescriptions through load and validate, each just inside or just outside the rule:
the brand without a strength (inside), with its own strength (inside), with another strength
(outside: the stated strength wins), the same salt without the brand (outside: the salt table),
a brand of drugs.csv that is not in the table because it comes in several strengths, a liquid
naming a brand, and a name unknown to the vocabulary."""

from __future__ import annotations

import pytest

from tests.conftest import GOOD_RX

# name, dose, dose unit, doses per day -> elemental iron mg/day (None: unknown or not iron)
CASES = {
    # inside: the brand named without its strength takes the brand's labelled iron
    "ferrograd_folic_no_strength": (("Ferrograd Folic tablets", "1", "tablet", "1"), 105.0),
    "pregaday_no_strength": (("Pregaday tablets", "1", "tablet", "1"), 100.0),
    "galfer_no_strength": (("Galfer capsules", "1", "capsule", "2"), 200.0),
    "fefol_no_strength": (("Fefol Spansule", "1", "capsule", "1"), 47.0),
    "ferrograd_no_strength": (("FERROGRAD", "1", "tablet", "1"), 105.0),
    # inside: the brand named with its own strength is still the brand (Pregaday 322 mg is
    # labelled 100 mg iron, where the salt table's 322 mg US tablet is 106 mg)
    "pregaday_own_strength": (("Pregaday 322mg/0.35mg film-coated tablets", "1", "tablet", "1"), 100.0),
    "fersaday_own_strength": (("Fersaday 322mg Tablets", "1", "tablet", "1"), 100.0),
    "ferrograd_folic_own_strength": (("Ferrograd Folic 325mg/0.35mg tablets", "1", "tablet", "1"), 105.0),
    # inside: a dose in mg of a brand takes the brand's iron fraction (322 mg = 100 mg)
    "pregaday_mg_dose": (("Pregaday", "322", "mg", "1"), 100.0),
    # outside: the same salt without a brand goes by the salt table
    "fumarate_folic_no_brand": (("Ferrous fumarate 322 mg and folic acid 350 micrograms", "1", "tablet", "1"), 106.0),
    "dried_sulfate_no_brand": (("Ferrous sulfate dried", "1", "tablet", "1"), 65.0),
    # outside: a brand named with another strength goes by the stated strength
    "ferrograd_other_strength": (("Ferrograd 200mg", "1", "tablet", "1"), 65.0),
    # outside: a brand of drugs.csv with several strengths (Fersamal 210 and 322 mg) is not in
    # the table: the salt's default tablet without a strength, the stated strength with one
    "fersamal_no_strength": (("Fersamal tablets", "1", "tablet", "1"), 69.0),
    "fersamal_210": (("Fersamal 210mg tablets", "1", "tablet", "1"), 69.0),
    # outside: a liquid is never a brand's tablet: a mg dose takes the salt's default
    # fraction (322 x 0.33), a mL dose is unknown
    "pregaday_liquid_mg": (("Pregaday oral suspension", "322", "mg", "1"), 106.26),
    "galfer_syrup_ml": (("Galfer syrup", "10", "mL", "1"), None),
    # missing: a name unknown to the vocabulary is not iron at all
    "unknown_brand": (("Fictifer Folic tablets", "1", "tablet", "1"), None),
    # missing: the brand with no dose is unknown, never the brand's labelled iron alone
    "pregaday_no_dose": (("Pregaday tablets", "", "", "1"), None),
}


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    from tests.conftest import staged_prescriptions

    tmp = tmp_path_factory.mktemp("brands")
    rows = [
        {**GOOD_RX, "drug_name": n, "drug_code": "", "code_system": "", "dose_amount": d, "dose_unit": u}
        | {"doses_per_day": per_day}
        for (n, d, u, per_day), _ in CASES.values()
    ]
    return staged_prescriptions(tmp, rows, CASES)


@pytest.mark.parametrize("case", list(CASES))
def test_elemental_iron_per_day_of_a_brand(staged, case):
    _, iron_per_day = CASES[case]
    got = staged[case].elemental_iron_mg_per_day
    if iron_per_day is None:
        assert got is None or got != got
    else:
        assert got == pytest.approx(iron_per_day)


def test_brand_rows_keep_their_agent_flags(staged):
    """The brand table sets only the iron per unit: Pregaday and Ferrograd Folic stay iron +
    folate, Galfer iron only, and the unknown name no agent."""
    flags = lambda r: (bool(r.has_iron), bool(r.has_b12), bool(r.has_folate))
    assert flags(staged["pregaday_no_strength"]) == flags(staged["ferrograd_folic_no_strength"]) == (True, False, True)
    assert flags(staged["galfer_no_strength"]) == (True, False, False)
    assert flags(staged["unknown_brand"]) == (False, False, False)


def test_every_brand_row_has_a_source_and_agrees_with_the_vocabulary_and_its_salt():
    """Each brand is a NAME entry of drugs.csv for the same iron salt, has a source and a
    version, is listed once, and its labelled iron is within 10 % of its salt's default
    fraction (a typing error such as 1050 mg would fail)."""
    from pipeline.codes import load_brand_strengths, load_drug_codes, load_iron_salts, normalise_drug_name

    b = load_brand_strengths()
    assert b.source.notna().all() and b.version.notna().all()
    assert not b.brand.duplicated().any()
    assert (b.brand == b.brand.map(normalise_drug_name)).all()
    names = load_drug_codes().query("code_system == 'NAME' and has_iron and role == 'treatment'")
    ingredient = dict(zip(names.code, names.ingredient, strict=True))
    assert {br: ingredient.get(br) for br in b.brand} == dict(zip(b.brand, b.salt_form, strict=True))
    salts = load_iron_salts()
    fraction = salts[salts.salt_mg_per_unit.isna()].set_index("salt_form").elemental_iron_fraction
    ratio = b.elemental_iron_mg_per_unit / b.salt_mg_per_unit / b.salt_form.map(fraction)
    assert ratio.between(0.9, 1.1).all(), b.assign(ratio=ratio)
