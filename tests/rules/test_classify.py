"""Entry points: classify writes three tables and returns their counts; classify_with
evaluates overrides without touching the warehouse; explain_patient; user errors."""

import ibis
import pytest

from pipeline.config import load_config
from pipeline.errors import UserError
from pipeline.explain.patient import explain_patient
from pipeline.rules.classify import EPISODE_COLUMNS, OUTCOME_COLUMNS, classify, classify_with
from tests.rules.staged_builder import day


def _cohort(s):
    s.patient("A", sex="F")
    s.lab("A", day(-100), "ferritin", 10)
    s.lab("A", day(-1), "hb", 100)
    s.lab("A", day(28), "hb", 102)
    s.rx("A", day(0), "iron_folate", days_supply=56)
    s.disp("A", day(0), days_supply=56)
    s.dx("A", day(-5), "gi_bleeding", "K922")
    s.patient("B", sex="M")


@pytest.fixture(scope="module")
def classified(module_builder):
    """(builder, con, counts) of the small cohort, classified once for this module."""
    _cohort(module_builder)
    con = module_builder.write()
    return module_builder, con, classify(con, load_config())


def test_classify_writes_tables_and_returns_counts(classified):
    _, con, counts = classified
    assert counts == {"episodes": 2, "iron_outcomes": 1, "failure_causes": 1}
    assert tuple(con.table("episodes").columns) == EPISODE_COLUMNS
    assert tuple(con.table("iron_outcomes").columns) == OUTCOME_COLUMNS
    assert list(con.table("failure_causes").columns) == [
        "episode_id",
        "patient_id",
        "cause",
        "evidence_table",
        "evidence_row_id",
        "evidence",
    ]
    assert classify(con, load_config()) == counts  # re-running replaces, never appends


def test_output_types(classified):
    _, con, _ = classified
    ep = con.table("episodes").schema()
    assert ep["start_at"].is_timestamp() and ep["is_just_in_case"].is_boolean()
    assert ep["first_row_id"].is_integer() and ep["prior_test_at"].is_timestamp()
    assert con.table("failure_causes").schema()["evidence_row_id"].is_integer()
    assert con.table("iron_outcomes").schema()["escalated_to_iv"].is_boolean()


def test_classify_with_overrides_changes_results_without_writing(classified):
    _, con, _ = classified
    before = con.table("episodes").filter(ibis._.agent == "iron").testing_status.to_pandas().tolist()
    tables = classify_with({"testing": {"lookback_days": 120}}, con)
    changed = tables["episodes"].filter(ibis._.agent == "iron").testing_status.to_pandas().tolist()
    assert (before, changed) == (["never_tested"], ["tested_before"])
    assert con.table("episodes").filter(ibis._.agent == "iron").testing_status.to_pandas().tolist() == before
    assert set(tables) == {"episodes", "iron_outcomes", "failure_causes"}


def test_classify_with_overrides_response_threshold(classified):
    _, con, _ = classified
    out = classify_with({"response": {"min_rise_g_l": 2.0}}, con)["iron_outcomes"].to_pandas()
    assert out.outcome.tolist() == ["responded"]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"testing": {"lookback_dayz": 120}}, "unknown config key testing.lookback_dayz"),
        ({"tests": {"lookback_days": 120}}, "unknown config section [tests]"),
        ({"testing": {"lookback_days": "ninety"}}, "testing.lookback_days must be a whole number"),
    ],
)
def test_classify_with_refuses_unknown_or_invalid_keys(classified, overrides, message):
    _, con, _ = classified
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        classify_with(overrides, con)


def test_missing_required_staged_table_is_a_user_error(tmp_path):
    con = ibis.duckdb.connect(str(tmp_path / "empty.duckdb"))
    with pytest.raises(UserError, match="stg_labs"):
        classify(con, load_config())


def test_no_optional_tables(staged):
    _cohort(staged)
    con = staged.write(dispensings=False, diagnoses=False)
    assert "stg_dispensings" not in con.list_tables()
    classify(con, load_config())
    fc = con.table("failure_causes").to_pandas()
    assert fc.cause.tolist() == ["adherence_unknown"]


def test_no_prescriptions_gives_empty_tables_with_columns(staged):
    staged.patient("A")
    staged.lab("A", day(0), "hb", 100)
    con = staged.write()
    assert classify(con, load_config()) == {"episodes": 0, "iron_outcomes": 0, "failure_causes": 0}
    assert tuple(con.table("episodes").columns) == EPISODE_COLUMNS


def test_explain_patient_shows_timeline_and_rows_behind_each_episode(classified):
    staged, con, _ = classified
    text = explain_patient(con, "A", load_config())
    lines = text.splitlines()
    timeline = [ln for ln in lines if ln.startswith("  20")]
    assert [ln.split()[0] for ln in timeline] == sorted(ln.split()[0] for ln in timeline)
    assert len(timeline) == 6
    rx_row = staged.rows["prescriptions"][0]["row_id"]
    assert f"iron-{rx_row}: iron, oral" in text and f"folate-{rx_row}: folate" in text
    assert "testing: never_tested" in text and "outcome: failed" in text
    assert "blood_loss" in text and "stg_diagnoses #" in text


def test_explain_unknown_patient_is_a_user_error(classified):
    _, con, _ = classified
    with pytest.raises(UserError, match="not found"):
        explain_patient(con, "NOPE", load_config())


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            {"causes": {"blood_loss_conditions": ["gi_bleed"]}},
            "causes.blood_loss_conditions has unknown condition group 'gi_bleed'",
        ),
        ({"causes": {"marrow_drug_classes": ["chemo"]}}, "causes.marrow_drug_classes has unknown drug class 'chemo'"),
        ({"testing": {"iron_tests": ["ferritin", "ferritn"]}}, "testing.iron_tests has unknown test 'ferritn'"),
        ({"causes": {"precedence": ["low_dose", "unexplained"]}}, "causes.precedence must list every cause"),
        ({"response": {"followup_from_day": 60}}, "followup_from_day \\(60\\) must not be above"),
    ],
)
def test_rule_config_values_are_checked(classified, overrides, message):
    _, con, _ = classified
    with pytest.raises(UserError, match=message):
        classify_with(overrides, con)


def test_explain_hides_unmapped_rows_unless_asked(tmp_path):
    from pipeline.config import load_config
    from tests.conftest import GOOD_LAB, GOOD_PATIENT, GOOD_RX, load_and_validate, write_input

    labs = [GOOD_LAB, {**GOOD_LAB, "loinc": "", "test_name": "Sodium", "value": "140", "unit": "mmol/L"}]
    rx = [GOOD_RX, {**GOOD_RX, "drug_code": "", "code_system": "", "drug_name": "Spironolactone 25 mg tablets"}]
    con, _ = load_and_validate(
        write_input(tmp_path / "in", patients=[GOOD_PATIENT], labs=labs, prescriptions=rx), tmp_path / "w.duckdb"
    )
    from pipeline.rules.classify import classify

    classify(con, load_config())
    short = explain_patient(con, "P1", load_config())
    full = explain_patient(con, "P1", load_config(), everything=True)
    assert "Sodium" not in short and "Spironolactone" not in short and "Ferrous sulfate" in short
    assert "Sodium" in full and "Spironolactone" in full


def test_a_failing_step_leaves_no_intermediate_table_behind(warehouse, monkeypatch):
    """classify drops the tables it kept when a later rule step fails (as when DuckDB runs out
    of memory), while the connection is still open; left to Ibis' finalizers, cached tables
    were dropped at exit after the connection closed, each printing a traceback (issue 11,
    10M patients)."""
    import pytest

    from pipeline.config import load_config
    from pipeline.rules import adherence
    from pipeline.rules.classify import classify

    con, _ = warehouse()

    def cached():
        return {t for t in con.list_tables() if t.startswith(("ibis_cache", "_classify_step_"))}

    assert not cached()

    def fail(*args, **kwargs):
        raise MemoryError("planted: a rule step failed")

    monkeypatch.setattr(adherence, "adherence", fail)
    with pytest.raises(MemoryError) as failed:
        classify(con, load_config())
    # while the error (and the frames it holds) is alive, as it is when the CLI reports it
    assert failed.value.args and not cached()  # the steps before adherence were cached, then dropped
