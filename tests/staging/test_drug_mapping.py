"""Drug mapping: the spironolactone / buspirone trap, combinations, codes, elemental iron."""

import pytest

from tests.conftest import GOOD_RX

RX = [
    ("Spironolactone 25 mg tablets", "", "", "25", "mg"),
    ("BusPIRone", "", "", "10", "mg"),
    ("SPIRONOLACTONE", "", "", "25", "mg"),
    ("Ferrous Sulfate", "", "", "325", "mg"),
    ("Ferrous fumarate 210 mg and folic acid 350 microgram", "", "", "1", "tablet"),
    ("FoLIC Acid", "", "", "1", "mg"),
    ("Cyanocobalamin", "", "", "1000", "mcg"),
    ("", "B03AD03", "ATC", "1", "tablet"),
    ("Some brand", "B03BA03", "ATC", "1", "mL"),
    ("Ferrous Sulfate (Liquid)", "", "", "5", "mL"),
    ("Iron sucrose", "", "", "200", "mg"),
    ("Warfarin", "", "", "5", "mg"),
    ("Heparin", "", "", "5000", "UNIT"),
]


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    from tests.conftest import load_and_validate, write_input

    tmp = tmp_path_factory.mktemp("drugs")
    rows = [
        {
            **GOOD_RX,
            "drug_name": n,
            "drug_code": c,
            "code_system": s,
            "dose_amount": d,
            "dose_unit": u,
            "doses_per_day": "1",
        }
        for n, c, s, d, u in RX
    ]
    con, _ = load_and_validate(write_input(tmp / "in", prescriptions=rows), tmp / "w.duckdb")
    df = con.table("stg_prescriptions").execute().sort_values("row_id").reset_index(drop=True)
    assert len(df) == len(RX)
    return df


def _row(df, i):
    return df.iloc[i]


@pytest.mark.parametrize("i", [0, 1, 2])
def test_spironolactone_and_buspirone_are_never_iron(staged, i):
    r = _row(staged, i)
    assert not r.has_iron and not r.has_b12 and not r.has_folate
    assert r.drug_class is None or r.drug_class != r.drug_class or r.drug_class not in ("iron_oral", "iron_iv")


def test_ferrous_sulfate_by_name_in_mg_of_salt(staged):
    r = _row(staged, 3)
    assert r.has_iron and r.drug_class == "iron_oral"
    assert r.elemental_iron_mg_per_day == pytest.approx(65.0)  # 325 mg x 20 % elemental (US labelling)


def test_combination_by_name_opens_both_agents(staged):
    r = _row(staged, 4)
    assert r.has_iron and r.has_folate and not r.has_b12
    assert r.elemental_iron_mg_per_day == pytest.approx(69.0)  # 210 mg ferrous fumarate tablet


def test_folic_acid_and_b12_names(staged):
    assert _row(staged, 5).has_folate and _row(staged, 5).drug_class == "folate"
    assert _row(staged, 6).has_b12 and _row(staged, 6).drug_class == "b12"


def test_atc_codes_map_by_prefix(staged):
    combo = _row(staged, 7)
    assert combo.has_iron and combo.has_folate and combo.drug_class == "iron_oral"
    b12 = _row(staged, 8)
    assert b12.has_b12 and not b12.has_iron


def test_liquid_iron_dose_is_not_guessed(staged):
    r = _row(staged, 9)
    assert r.has_iron
    assert r.elemental_iron_mg_per_day != r.elemental_iron_mg_per_day  # NaN: mL of liquid is not converted


def test_iv_iron_and_other_classes(staged):
    assert _row(staged, 10).drug_class == "iron_iv"
    assert _row(staged, 11).drug_class == "anticoagulant"
    assert _row(staged, 12).drug_class == "anticoagulant"
