"""The dense profile: the default cohort plus background lab panels, about 30 labs per patient,
every planted label still recovered."""

import hashlib

import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.rules.classify import classify
from pipeline.synth import generate
from tests.conftest import load_and_validate
from tests.integration.truth_recovery import classified, compare

PATIENTS = 400


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dense")
    generate(PATIENTS, 7, tmp / "default")
    generate(PATIENTS, 7, tmp / "dense", profile="dense")
    return tmp / "default", tmp / "dense"


def test_dense_changes_only_the_labs_file(cohorts):
    default, dense = cohorts
    for name in ("patients", "prescriptions", "dispensings", "diagnoses", "truth"):
        assert _digest(default / f"{name}.csv") == _digest(dense / f"{name}.csv"), name
    assert _digest(default / "labs.csv") != _digest(dense / "labs.csv")


def test_dense_labs_are_the_default_labs_plus_background_rows(cohorts):
    default, dense = cohorts
    base = pd.read_csv(default / "labs.csv", dtype=str, keep_default_na=False)
    more = pd.read_csv(dense / "labs.csv", dtype=str, keep_default_na=False)
    both = base.merge(more.drop_duplicates(), how="left", indicator=True)
    assert (both["_merge"] == "both").all()
    assert 25 <= len(more) / PATIENTS <= 35


def test_dense_background_covers_blood_counts_iron_renal_and_liver(cohorts):
    _, dense = cohorts
    loincs = set(pd.read_csv(dense / "labs.csv", dtype=str, keep_default_na=False).loinc)
    # MCH, red cells, serum iron, TIBC, creatinine, urea, ALT, albumin: none of them planted
    assert {"785-6", "789-8", "2498-4", "2500-7", "2160-0", "3094-0", "1742-6", "1751-7"} <= loincs


def test_unknown_profile_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown synthetic profile 'sparse'"):
        generate(10, 1, tmp_path, profile="sparse")


@pytest.mark.slow
def test_every_planted_label_is_recovered_on_a_dense_cohort(cohorts, tmp_path):
    _, dense = cohorts
    con, recon = load_and_validate(dense, tmp_path / "audit.duckdb")
    try:
        labs = next(r for r in recon if r["table_name"] == "labs")
        assert labs["staged_rows"] > 25 * PATIENTS
        classify(con, load_config())
        truth = pd.read_csv(dense / "truth.csv", dtype=str, keep_default_na=False)
        bad = compare(truth, classified(con))
    finally:
        con.disconnect()
    assert len(bad) == 0, f"{len(bad)} episodes differ from the planted truth:\n{bad.head(10).T}"
