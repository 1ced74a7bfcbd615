"""OMOP drug codes that are RxNorm codes (issue 10 item 6): when drug_concept_id or
drug_source_concept_id is an RxNorm concept, the adapter passes its concept_code as an
`RXNORM` drug code, and the RxNorm ingredient codes of data/codelists/drugs.csv map it, even
when the source name says nothing (a local order name).

Literal rows appended to the hand-written fixture (tests/fixtures/omop): concepts of newer
agents (rivaroxaban, dabigatran etexilate, dried ferrous sulfate) with their RxNorm codes as
the OHDSI vocabulary states them, and one RxNorm code that drugs.csv does not list."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.extract import omop

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "omop"
_HEADER = (FIXTURE / "drug_exposure.csv").read_text().splitlines()[0].split(",")

# concept_id, name, vocabulary, class, concept_code (OMOP ids and codes of the RxNorm
# ingredients as in OHDSI/PhenotypeLibrary; 259346 is the RxNorm PIN of dried ferrous sulfate;
# 313782, acetaminophen 325 MG Oral Tablet, is a clinical drug that drugs.csv does not list)
CONCEPTS = [
    ("40241331", "rivaroxaban", "RxNorm", "Ingredient", "1114195"),
    ("40228152", "dabigatran etexilate", "RxNorm", "Ingredient", "1037042"),
    ("40099", "ferrous sulfate,dried", "RxNorm", "Precise Ingredient", "259346"),
    ("40313", "acetaminophen 325 MG Oral Tablet", "RxNorm", "Clinical Drug", "313782"),
]


def _drug_row(row_id, concept, source_concept, source_value, dose_unit="tablet"):
    values = dict.fromkeys(_HEADER, "")
    values.update(
        drug_exposure_id=str(row_id), person_id="1", drug_concept_id=concept, drug_source_concept_id=source_concept,
        drug_exposure_start_date="2024-04-01", drug_type_concept_id="32838", quantity="28", days_supply="28",
        drug_source_value=source_value, dose_unit_source_value=dose_unit,
    )  # fmt: skip
    return ",".join(values[c] for c in _HEADER)


ROWS = [
    # drug_concept_id an RxNorm ingredient concept: its code and its name
    _drug_row(41, "40241331", "0", "riva 20"),
    # no standard concept, the source concept is RxNorm: only the code can say what it is
    _drug_row(42, "0", "40228152", "DABI-LOCAL-150"),
    _drug_row(43, "0", "40099", "ORDER 7731"),
    # an RxNorm code drugs.csv does not list and a name that says nothing: not mapped
    _drug_row(44, "0", "40313", "ORDER 7732"),
    # the Synthea iron tablet's RxNorm code (listed) and a name that says nothing: oral iron
    _drug_row(45, "0", "40001", "ORDER 7733"),
    # OMOP ingredient ids with no concept row to read: the id alone must say what it is
    _drug_row(46, "46221255", "0", "ORDER 7734"),  # ferric pyrophosphate citrate (IV iron)
    _drug_row(47, "19009025", "0", "ORDER 7735"),  # mecobalamin (B12)
    _drug_row(48, "1360067", "0", "ORDER 7736"),  # Iron, where OHDSI puts ferric maltol
    _drug_row(49, "40163731", "0", "ORDER 7737"),  # ferumoxytol (IV iron)
    _drug_row(50, "19009026", "0", "ORDER 7738"),  # just beside mecobalamin: not listed
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("omop_rxnorm")
    for f in FIXTURE.glob("*.csv"):
        shutil.copy(f, tmp / f.name)
    with open(tmp / "CONCEPT.csv", "a") as fh:
        for cid, name, vocab, cls, code in CONCEPTS:
            fh.write("\t".join([cid, name, "Drug", vocab, cls, "S", code, "19700101", "20991231", ""]) + "\n")
    with open(tmp / "drug_exposure.csv", "a") as fh:
        fh.write("\n".join(ROWS) + "\n")
    return tmp


def test_rxnorm_concepts_are_passed_as_rxnorm_codes(folder):
    tables = {t.table: t for t in omop.read(folder, None).tables}
    rx = {r["source_row"]: r for r in tables["prescriptions"].frame.to_pylist()}
    got = [(rx[n]["drug_code"], rx[n]["code_system"], rx[n]["drug_name"]) for n in (7, 8, 9, 10)]
    assert got == [
        ("1114195", "RXNORM", "rivaroxaban"),
        ("1037042", "RXNORM", "DABI-LOCAL-150"),
        ("259346", "RXNORM", "ORDER 7731"),
        ("313782", "RXNORM", "ORDER 7732"),
    ]


@pytest.fixture(scope="module")
def staged(folder, tmp_path_factory):
    """stg_prescriptions of the fixture with its appended rows, loaded and validated once."""
    from pipeline import steps
    from pipeline.config import load_config
    from pipeline.engine import connect

    cfg = load_config()
    db = tmp_path_factory.mktemp("omop_rxnorm_w") / "w.duckdb"
    steps.load("omop", folder, db, cfg)
    steps.validate(db, cfg)
    con = connect(db, read_only=True)
    stg = con.table("stg_prescriptions").execute()
    con.disconnect()
    return stg


def test_rxnorm_ingredient_codes_of_newer_agents_map_when_staged(staged):
    """Staged: rivaroxaban and dabigatran are anticoagulants (cause evidence), dabigatran by
    its RxNorm code alone; dried ferrous sulfate by its RxNorm code alone is oral iron; a
    clinical-drug code drugs.csv does not list, with a name that says nothing, is not mapped
    (never guessed)."""
    stg = staged.set_index("drug_code")
    assert stg.loc["1114195", "drug_class"] == "anticoagulant"
    assert stg.loc["1037042", "drug_class"] == "anticoagulant"
    assert not stg.loc["1037042", ["has_iron", "has_b12", "has_folate"]].any()
    dried = stg.loc["259346"]
    assert bool(dried.has_iron) and dried.drug_class == "iron_oral"
    row = lambda code, name: stg[(stg.index == code) & (stg.drug_name == name)].iloc[0]
    tablet = row("310325", "ORDER 7733")
    assert bool(tablet.has_iron) and tablet.drug_class == "iron_oral"
    unmapped = row("313782", "ORDER 7732")
    assert not unmapped[["has_iron", "has_b12", "has_folate"]].any()
    assert unmapped.drug_class is None or unmapped.drug_class != unmapped.drug_class


@pytest.mark.parametrize(
    "name, flags, drug_class",
    [
        ("ORDER 7734", (True, False, False), "iron_iv"),
        ("ORDER 7735", (False, True, False), "b12"),
        ("ORDER 7736", (True, False, False), "iron_oral"),
        ("ORDER 7737", (True, False, False), "iron_iv"),
        ("ORDER 7738", (False, False, False), None),
    ],
)
def test_omop_ingredient_ids_map_without_a_concept_table(staged, name, flags, drug_class):
    """An OMOP drug_concept_id of an iron or B12 ingredient that the site's concept table does not
    hold maps by data/codelists/drugs.csv alone (ids as OHDSI's own mappings give them); an id
    that drugs.csv does not list maps to nothing."""
    r = staged[staged.drug_name == name].iloc[0]
    assert (bool(r.has_iron), bool(r.has_b12), bool(r.has_folate)) == flags
    assert (None if r.drug_class != r.drug_class else r.drug_class) == drug_class
