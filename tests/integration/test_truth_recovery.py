"""Truth recovery: classifying the synthetic cohort reproduces every planted label (testing
status, just-in-case, exclusion, outcome, each cause, primary cause) exactly."""

import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.rules.classify import classify
from pipeline.synth import generate
from pipeline.synth.scenarios import SCENARIOS
from tests.conftest import load_and_validate
from tests.integration.truth_recovery import classified, compare

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("truth")
    generate(700, 11, tmp / "in")
    con, recon = load_and_validate(tmp / "in", tmp / "audit.duckdb")
    classify(con, load_config())
    truth = pd.read_csv(tmp / "in" / "truth.csv", dtype=str, keep_default_na=False)
    yield con, truth, recon
    con.disconnect()


def test_every_scenario_is_planted(cohort):
    _, truth, _ = cohort
    assert set(truth.scenario) == set(SCENARIOS)


def test_dirty_rows_were_quarantined(cohort):
    _, _, recon = cohort
    by_table = {r["table_name"]: r for r in recon}
    assert by_table["labs"]["quarantined_rows"] > 0 and by_table["prescriptions"]["quarantined_rows"] > 0


def test_every_planted_label_is_reproduced(cohort):
    con, truth, _ = cohort
    bad = compare(truth, classified(con))
    if len(bad):
        with pd.option_context("display.width", 250, "display.max_columns", 50):
            print(bad.head(20).T.to_string())
    assert len(bad) == 0, f"{len(bad)} episodes differ from the planted truth (printed above)"


@pytest.mark.parametrize(
    "label", ["testing_status", "outcome", "primary_cause", "causes", "is_just_in_case", "excluded_reason"]
)
def test_each_label_takes_several_values(cohort, label):
    _, truth, _ = cohort
    assert truth[label].nunique() >= 2
