"""RxNorm ingredient codes (issue 10 item 6): a prescription coded with the RxNorm code of an
agent maps by the code alone, whatever its name says; each code row of data/codelists/drugs.csv
agrees with the name entries of its ingredient and carries a source.

Literal prescriptions through load and validate: newer agents by code (rivaroxaban,
dabigatran, iron dextran, dried ferrous sulfate, leucovorin, folic acid, famotidine), clinical
drugs as Synthea and other real data carry them (the B12 injection, a ferrous gluconate
tablet, a leucovorin injection), the code once listed wrongly as cyanocobalamin (3002 is
cyclophosphamide), and a code drugs.csv does not list."""

from __future__ import annotations

import pytest

from tests.conftest import GOOD_RX

# name, RxNorm code, dose, dose unit -> (iron, B12, folate), class, elemental iron mg/day
CASES = {
    "rivaroxaban": (("Study drug A", "1114195", "20", "mg"), (False, False, False), "anticoagulant", None),
    "dabigatran": (("Study drug B", "1037042", "150", "mg"), (False, False, False), "anticoagulant", None),
    "iron_dextran": (("Local order 1", "5992", "100", "mg"), (True, False, False), "iron_iv", None),
    # the dried-salt code: 325 mg is the Ferrograd strength of the dried salt (105 mg iron),
    # not the US heptahydrate tablet (65 mg) the plain ferrous sulfate entry would give
    "ferrous_sulfate_dried": (("Local order 2", "259346", "325", "mg"), (True, False, False), "iron_oral", 105.0),
    "leucovorin": (("Local order 3", "6313", "15", "mg"), (False, False, False), "folinic_acid", None),
    "folic_acid": (("Local order 6", "4511", "5", "mg"), (False, False, True), "folate", None),
    "famotidine": (("Local order 7", "4278", "20", "mg"), (False, False, False), "h2_blocker", None),
    # clinical drugs: Synthea's B12 injection (SCD 2001499) is B12 treatment; the ferrous gluconate
    # 240 mg tablet (SCD 242590) is oral iron with its salt (240 mg x 11.6 % = 27.8 mg iron);
    # a leucovorin injection (SCD 1803932) is folinic acid, never folate treatment
    "b12_injection": (("Local order 8", "2001499", "1", "mL"), (False, True, False), "b12", None),
    "ferrous_gluconate_240": (("Local order 9", "242590", "240", "mg"), (True, False, False), "iron_oral", 27.84),
    "leucovorin_injection": (("Local order 10", "1803932", "100", "mg"), (False, False, False), "folinic_acid", None),
    # ingredients from OHDSI's DPD-to-RxNorm mapping: 24941 is ferrous fumarate (once listed here
    # as ferrous gluconate), 11248 is vitamin B12 (cyanocobalamin), 5514 hydroxocobalamin,
    # 24909 iron sucrose; 614373 deferasirox is a chelator, never iron treatment
    "ferrous_fumarate": (("Local order 11", "24941", "1", "tablet"), (True, False, False), "iron_oral", None),
    "vitamin_b12": (("Local order 12", "11248", "1", "mg"), (False, True, False), "b12", None),
    "hydroxocobalamin": (("Local order 13", "5514", "1", "mg"), (False, True, False), "b12", None),
    "iron_sucrose": (("Local order 14", "24909", "200", "mg"), (True, False, False), "iron_iv", None),
    "deferasirox": (("Local order 15", "614373", "500", "mg"), (False, False, False), "iron_chelator", None),
    # RxNorm 90176 is the ingredient Iron, to which OHDSI maps iron products that have no
    # ingredient of their own (reduced iron, iron glycerophosphate): oral iron
    "iron_ingredient": (("Local order 16", "90176", "1", "tablet"), (True, False, False), "iron_oral", None),
    # ingredients from RxNorm's own ingredient list (davidanderson3/rxnorm-ingredients, drugs.csv
    # source column): IV iron, newer oral iron, mecobalamin; sucroferric oxyhydroxide is a
    # phosphate binder, never iron treatment
    "ferric_carboxymaltose": (("Local order 17", "1433693", "500", "mg"), (True, False, False), "iron_iv", None),
    "ferric_derisomaltose": (("Local order 18", "2274394", "1000", "mg"), (True, False, False), "iron_iv", None),
    "sodium_ferric_gluconate": (("Local order 19", "261435", "125", "mg"), (True, False, False), "iron_iv", None),
    "ferric_maltol": (("Local order 20", "2539932", "1", "capsule"), (True, False, False), "iron_oral", None),
    "carbonyl_iron": (("Local order 21", "262150", "1", "tablet"), (True, False, False), "iron_oral", None),
    "ferrous_bisglycinate": (("Local order 22", "1102188", "1", "tablet"), (True, False, False), "iron_oral", None),
    "mecobalamin": (("Local order 23", "29421", "1", "mg"), (False, True, False), "b12", None),
    "sucroferric_oxyhydroxide": (
        ("Local order 24", "1484283", "500", "mg"),
        (False, False, False),
        "phosphate_binder",
        None,
    ),
    # just outside: 3002 is cyclophosphamide, never vitamin B12 treatment
    "code_3002": (("Local order 4", "3002", "500", "mg"), (False, False, False), "antineoplastic", None),
    # missing: a code drugs.csv does not list, with a name that says nothing, maps to nothing
    "unlisted_code": (("Local order 5", "313782", "1", "tablet"), (False, False, False), None, None),
}


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    from tests.conftest import staged_prescriptions

    tmp = tmp_path_factory.mktemp("rxnorm")
    rows = [
        {**GOOD_RX, "drug_name": n, "drug_code": c, "code_system": "RXNORM", "dose_amount": d, "dose_unit": u}
        for (n, c, d, u), *_ in CASES.values()
    ]
    return staged_prescriptions(tmp, rows, CASES)


@pytest.mark.parametrize("case", list(CASES))
def test_a_prescription_maps_by_its_rxnorm_code(staged, case):
    _, flags, drug_class, iron_per_day = CASES[case]
    r = staged[case]
    assert (bool(r.has_iron), bool(r.has_b12), bool(r.has_folate)) == flags
    assert (None if r.drug_class is None or r.drug_class != r.drug_class else r.drug_class) == drug_class
    if iron_per_day is not None:
        assert r.elemental_iron_mg_per_day == pytest.approx(iron_per_day)


def test_every_rxnorm_row_agrees_with_a_name_entry_of_its_ingredient_and_has_a_source():
    """An RxNorm code says the same as the names of its ingredient (agent flags, class, role),
    is a number, is listed once, and names where it was read (a repository file or a URL)."""
    from pipeline.codes import load_drug_codes

    d = load_drug_codes()
    rx, names = d[d.code_system == "RXNORM"], d[d.code_system == "NAME"]
    assert rx.code.str.fullmatch(r"[0-9]+").all() and not rx.code.duplicated().any()
    key = ["ingredient", "has_iron", "has_b12", "has_folate", "drug_class", "role"]
    known = set(map(tuple, names[key].itertuples(index=False)))
    assert [tuple(r) for r in rx[key].itertuples(index=False) if tuple(r) not in known] == []
    assert rx.source.str.contains(r"/|https?://").all()
