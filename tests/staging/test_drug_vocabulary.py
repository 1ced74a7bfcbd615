"""Drug vocabulary (issue 10 items 5 and 6): literal prescriptions through load and validate,
one expected staged row each: agent flags, class and elemental iron per day.

Each class has rows just inside and just outside it, and one with the value missing:
treatment names (UK and US brands and generics, B12 and folic acid spellings), names that are
not treatment although they look like it, combination ATC codes, cause-evidence classes, and
the elemental iron of each salt form and product strength."""

from __future__ import annotations

import pytest

from tests.conftest import GOOD_RX

I, B, F = "I", "B", "F"  # noqa: E741  (iron, B12, folate flags)
# name, code, code system, dose, dose unit, doses per day -> flags, class, elemental iron mg/day
CASES = {
    # intravenous iron: brands and generics, UK and US
    "ferinject": (("Ferinject 500mg/10ml", "", "", "500", "mg", "1"), I, "iron_iv", None),
    "venofer": (("VENOFER", "", "", "200", "mg", "1"), I, "iron_iv", None),
    "monofer": (("Monofer 1000mg", "", "", "1000", "mg", "1"), I, "iron_iv", None),
    "infed": (("INFeD (iron dextran)", "", "", "100", "mg", "1"), I, "iron_iv", None),
    "feraheme": (("Feraheme 510 mg/17 mL", "", "", "510", "mg", "1"), I, "iron_iv", None),
    # oral iron brands and generics
    "galfer": (("Galfer 305mg capsules", "", "", "1", "capsule", "1"), I, "iron_oral", 100.0),
    "ferrograd_folic": (("Ferrograd Folic tablets", "", "", "1", "tablet", "1"), I + F, "iron_oral", 105.0),
    "polymaltose": (("Iron polymaltose 100 mg tablet", "", "", "1", "tablet", "1"), I, "iron_oral", 100.0),
    "polysaccharide": (("Polysaccharide-iron complex 150 mg", "", "", "1", "capsule", "1"), I, "iron_oral", 150.0),
    "succinylate": (("Iron protein succinylate oral solution", "", "", "15", "mL", "1"), I, "iron_oral", None),
    # vitamin B12 and folic acid spellings
    "mecobalamin": (("Mecobalamin 500 microgram", "", "", "1", "tablet", "1"), B, "b12", None),
    "vitamin_b_12": (("Vitamin B-12 1000 mcg/mL", "", "", "1", "mL", "1"), B, "b12", None),
    "b12_alone": (("B12 injection", "", "", "1", "mL", "1"), B, "b12", None),
    "folic": (("Folic Acid 5mg", "", "", "5", "mg", "1"), F, "folate", None),
    # the iron trap and an unknown name (missing mapping)
    "spironolactone": (("Spironolactone 25mg", "", "", "25", "mg", "1"), "", None, None),
    "unknown_brand": (("Fictifer 100", "", "", "1", "tablet", "1"), "", None, None),
    # not treatment although the name suggests it
    "oc_fe_pack": (
        ("Norethindrone acetate/ethinyl estradiol and ferrous fumarate (Loestrin Fe 1/20)", "", "", "1", "tablet", "1"),
        "",
        "hormonal_contraceptive",
        None,
    ),
    "ferric_citrate": (
        ("Ferric citrate 210 mg iron (Auryxia)", "", "", "2", "tablet", "3"),
        "",
        "phosphate_binder",
        None,
    ),
    "velphoro": (("Velphoro 500mg chewable", "", "", "1", "tablet", "3"), "", "phosphate_binder", None),
    "deferasirox": (("Deferasirox 360mg", "", "", "1", "tablet", "1"), "", "iron_chelator", None),
    "leucovorin": (("Leucovorin Calcium 15 mg", "", "", "15", "mg", "4"), "", "folinic_acid", None),
    "calcium_folinate": (("Calcium folinate", "", "", "15", "mg", "1"), "", "folinic_acid", None),
    "multivitamin": (("Multivitamin with iron and folic acid", "", "", "1", "tablet", "1"), "", "multivitamin", None),
    "nephrocaps": (("Nephrocaps", "", "", "1", "capsule", "1"), "", "multivitamin", None),
    "cyanokit": (("Cyanokit (hydroxocobalamin) 5 g", "", "", "5", "g", "1"), "", "antidote", None),
    # ATC combinations: a code takes its most specific entry
    "atc_b03ae03": (("Some brand", "B03AE03", "ATC", "1", "tablet", "1"), I, "iron_oral", None),
    "atc_b03ae04": (("Some brand", "B03AE04", "ATC", "1", "tablet", "1"), I, "iron_oral", None),
    "atc_b03ae01": (("Some brand", "B03AE01", "ATC", "1", "tablet", "1"), I + B + F, "iron_oral", None),
    "atc_b03ae10": (("Some brand", "B03AE10", "ATC", "1", "tablet", "1"), I, "iron_oral", None),
    # cause evidence: line flushes, locks and priming are not anticoagulation
    "heparin": (("Heparin", "", "", "5000", "UNIT", "3"), "", "anticoagulant", None),
    "heparin_flush": (("Heparin Flush (10 units/ml)", "", "", "2", "mL", "1"), "", "line_lock", None),
    "heparin_dwell": (("Heparin Dwell (1000 Units/mL)", "", "", "3", "mL", "1"), "", "line_lock", None),
    "heparin_priming": (("Heparin (CRRT Machine Priming)", "", "", "5000", "UNIT", "1"), "", "line_lock", None),
    # glucosamine (M01AX05) is filed under M01A but is not an NSAID; nabumetone (M01AX01) is
    "glucosamine_atc": (("Glucosamine sulfate", "M01AX05", "ATC", "1500", "mg", "1"), "", "joint_supplement", None),
    "glucosamine_name": (("Glucosamine 500mg", "", "", "1500", "mg", "1"), "", "joint_supplement", None),
    "nabumetone_atc": (("Nabumetone", "M01AX01", "ATC", "500", "mg", "2"), "", "nsaid", None),
    # elemental iron per salt form and strength
    "dried_200_alternate_days": (("Ferrous sulfate 200 mg tablets", "", "", "200", "mg", "0.5"), I, "iron_oral", 32.5),
    "dried_200_daily": (("Ferrous sulfate", "", "", "200", "mg", "1"), I, "iron_oral", 65.0),
    "two_tablets_not_guessed": (("Ferrous sulfate", "", "", "400", "mg", "1"), I, "iron_oral", 80.0),
    "liquid_200_is_heptahydrate": (("Ferrous Sulfate (Liquid)", "", "", "200", "mg", "1"), I, "iron_oral", 40.0),
    "liquid_300": (("Ferrous Sulfate (Liquid)", "", "", "300", "mg", "1"), I, "iron_oral", 60.0),
    "hepta_325": (("Ferrous Sulfate", "", "", "325", "mg", "1"), I, "iron_oral", 65.0),
    "hepta_300_default": (("Ferrous sulfate 300mg", "", "", "300", "mg", "1"), I, "iron_oral", 60.0),
    "fumarate_322_nospace": (("Ferrous fumarate 322mg", "", "", "1", "tablet", "1"), I, "iron_oral", 106.0),
    "fumarate_322_space": (("Ferrous fumarate 322 mg", "", "", "1", "tablet", "1"), I, "iron_oral", 106.0),
    "fumarate_210": (("Ferrous fumarate 210mg", "", "", "1", "tablet", "2"), I, "iron_oral", 138.0),
    "gluconate_300": (("Ferrous gluconate 300mg", "", "", "1", "tablet", "1"), I, "iron_oral", 35.0),
    "sulfate_tablet_no_strength": (("Ferrous sulfate", "", "", "1", "tablet", "1"), I, "iron_oral", 65.0),
    "sulfate_dose_missing": (("Ferrous sulfate 200 mg tablets", "", "", "", "", "1"), I, "iron_oral", None),
}


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    from tests.conftest import staged_prescriptions

    tmp = tmp_path_factory.mktemp("vocab")
    rows = [
        {**GOOD_RX, "drug_name": n, "drug_code": c, "code_system": s, "dose_amount": d, "dose_unit": u}
        | {"doses_per_day": per_day}
        for (n, c, s, d, u, per_day), *_ in CASES.values()
    ]
    return staged_prescriptions(tmp, rows, CASES)


@pytest.mark.parametrize("case", list(CASES))
def test_agent_flags_class_and_elemental_iron(staged, case):
    _, flags, drug_class, iron_per_day = CASES[case]
    r = staged[case]
    assert (bool(r.has_iron), bool(r.has_b12), bool(r.has_folate)) == (I in flags, B in flags, F in flags)
    assert (None if r.drug_class is None or r.drug_class != r.drug_class else r.drug_class) == drug_class
    if iron_per_day is None:
        assert r.elemental_iron_mg_per_day != r.elemental_iron_mg_per_day or r.elemental_iron_mg_per_day is None
    else:
        assert r.elemental_iron_mg_per_day == pytest.approx(iron_per_day)


def test_dried_ferrous_sulfate_on_alternate_days_is_not_below_the_dose_minimum(staged):
    """Issue 10 item 5: 200 mg dried ferrous sulfate on alternate days is 32.5 mg/day, above
    the configured minimum (30), not 20 mg/day read as heptahydrate."""
    from pipeline.config import load_config

    minimum = load_config().causes.min_elemental_iron_mg_per_day
    assert staged["dried_200_alternate_days"].elemental_iron_mg_per_day >= minimum > 200 * 0.2 * 0.5


def test_every_drug_list_row_has_a_source_a_version_and_a_known_role():
    from pipeline.codes import DRUG_ROLES, load_drug_codes

    d = load_drug_codes()
    assert d.source.notna().all() and d.version.notna().all()
    assert set(d.role) == set(DRUG_ROLES)
    key = d.code_norm.where(d.code_system != "NAME", d.code.str.lower())
    assert not d.assign(key=key).duplicated(["code_system", "key"]).any()
    treatment = d.role == "treatment"
    assert (d[treatment][["has_iron", "has_b12", "has_folate"]].any(axis=1)).all()
    assert not d[~treatment][["has_iron", "has_b12", "has_folate"]].any(axis=None)


def test_every_salt_form_row_has_a_source_and_agrees_with_its_fraction():
    from pipeline.codes import load_drug_codes, load_iron_salts

    s = load_iron_salts()
    assert s.source.notna().all()
    assert not s.duplicated(["salt_form", "salt_mg_per_unit"]).any()
    iron_salts = set(load_drug_codes().query("has_iron and code_system == 'NAME'").ingredient)
    assert set(s.salt_form) <= iron_salts
