"""The synthetic cohort: deterministic, contract-shaped, every scenario, dirty rows, name traps."""

import hashlib
import itertools

import pandas as pd
import pytest

from pipeline.extract.base import COLUMNS
from pipeline.synth import generate
from pipeline.synth.builder import TRUTH_COLUMNS
from pipeline.synth.scenarios import SCENARIOS


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.csv"))}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "a"
    summary = generate(400, 5, out)
    return out, summary


def test_same_seed_gives_identical_files(cohort, tmp_path):
    out, _ = cohort
    generate(400, 5, tmp_path / "b")
    assert _digest(out) == _digest(tmp_path / "b")


def test_another_seed_differs(cohort, tmp_path):
    out, _ = cohort
    generate(400, 6, tmp_path / "c")
    assert _digest(out)["labs.csv"] != _digest(tmp_path / "c")["labs.csv"]


def test_files_are_the_contract_tables_with_their_headers(cohort):
    out, _ = cohort
    assert sorted(p.name for p in out.glob("*.csv")) == sorted([f"{t}.csv" for t in COLUMNS] + ["truth.csv"])
    for table, cols in COLUMNS.items():
        assert tuple(pd.read_csv(out / f"{table}.csv", nrows=0).columns) == cols
    assert tuple(pd.read_csv(out / "truth.csv", nrows=0).columns) == TRUTH_COLUMNS


def test_every_scenario_appears_in_truth(cohort):
    out, summary = cohort
    truth = pd.read_csv(out / "truth.csv", dtype=str)
    assert set(truth.scenario) == set(SCENARIOS)
    assert set(summary["episodes_per_scenario"]) == set(SCENARIOS)


def test_dirty_rows_are_present(cohort):
    _, summary = cohort
    assert summary["dirty_rows"]["labs.unconvertible_unit"] > 0
    assert summary["dirty_rows"]["prescriptions.impossible_units_per_dose"] > 0
    assert sum(summary["dirty_rows"].values()) > 10


def test_iron_name_traps_are_in_the_data(cohort):
    out, _ = cohort
    names = pd.read_csv(out / "prescriptions.csv", dtype=str).drug_name.str.lower()
    assert names.str.contains("spironolactone").any() and names.str.contains("buspirone").any()


def test_patient_ids_are_pseudonymous_and_unique(cohort):
    out, _ = cohort
    ids = pd.read_csv(out / "patients.csv", dtype=str).patient_id
    assert ids.is_unique and ids.str.fullmatch(r"P\d{7}").all()


CAUSE_TIERS = (  # RULES.md, "Why iron failed": common first, IRIDA very rare
    ("low_dose", "short_course", "non_adherence"),
    ("blood_loss", "malabsorption", "inflammation", "wrong_diagnosis"),
    ("marrow", "haemolysis"),
    ("irida_suspected",),
)


def test_cause_prevalence_follows_the_clinical_reference(tmp_path):
    """Among planted failed iron episodes, every common cause (dose, course, adherence) is
    more frequent than every less common one, those more than marrow and haemolysis, and
    IRIDA is rarest (under 1 %)."""
    generate(20_000, 11, tmp_path)
    truth = pd.read_csv(tmp_path / "truth.csv", dtype=str, keep_default_na=False)
    failed = truth[(truth.agent == "iron") & (truth.outcome == "failed")]
    causes = failed.causes.str.split("|").explode()
    share = causes.value_counts() / len(failed)
    tiers = [[share.get(c, 0.0) for c in tier] for tier in CAUSE_TIERS]
    for upper, lower in itertools.pairwise(tiers):
        assert min(upper) > max(lower), (share.round(3).to_dict(), upper, lower)
    assert 0 < share["irida_suspected"] < 0.01
    assert min(tiers[0]) > 0.15 and max(tiers[2]) < 0.03
