"""Episodes: wash-out, overlapping / adjacent prescriptions, combination products, sources.
RULES.md 'Treatment episodes'; [episodes] washout_days = 365, gap_days = 1, default_course_days = 28."""

import pandas as pd
import pytest

from tests.rules.staged_builder import day, episode


@pytest.fixture(scope="module")
def out(module_builder):
    s = module_builder
    ids = {}
    for pid in [
        "SINGLE",
        "WASH365",
        "WASH366",
        "LONG_ADJ",
        "LONG_GAP",
        "COMBO",
        "IVJOIN",
        "NOEND",
        "ROUTES",
        "TWOAGENTS",
        "OTHERDRUG",
        "DISPONLY",
        "RXANDDISP",
        "COURSE_ADJ",
        "COURSE_GAP2",
        "COURSE_OVERLAP",
        "COURSE_GAP_THEN_ADJ",
        "COURSE_NOEND_THEN_ADJ",
    ]:
        s.patient(pid)
    ids["SINGLE"] = s.rx("SINGLE", day(0), "iron_oral", days_supply=28)
    ids["WASH365"] = s.rx("WASH365", day(0), "iron_oral")
    s.rx("WASH365", day(365), "iron_oral")
    s.rx("WASH366", day(0), "iron_oral")
    ids["WASH366_2"] = s.rx("WASH366", day(366), "iron_oral")
    # a 400-day course: the next prescription the day after it ends continues it
    s.rx("LONG_ADJ", day(0), "b12", days_supply=400)
    s.rx("LONG_ADJ", day(400), "b12", days_supply=28)
    s.rx("LONG_GAP", day(0), "b12", days_supply=400)
    s.rx("LONG_GAP", day(401), "b12", days_supply=28)
    ids["COMBO"] = s.rx("COMBO", day(0), "iron_folate")
    s.rx("IVJOIN", day(0), "iron_oral", days_supply=28)
    s.rx("IVJOIN", day(40), "iron_iv", days_supply=1)
    s.rx("NOEND", day(0), "iron_oral", days_supply=None)
    s.rx("ROUTES", day(0), "iron_iv", route=None)
    s.rx("ROUTES", day(0), "b12", route="sc")
    s.rx("TWOAGENTS", day(0), "iron_oral")
    s.rx("TWOAGENTS", day(3), "b12")
    s.rx("OTHERDRUG", day(0), "anticoagulant")
    ids["DISPONLY"] = s.disp("DISPONLY", day(0), "iron_oral", days_supply=30)
    s.rx("RXANDDISP", day(0), "anticoagulant")
    s.disp("RXANDDISP", day(5), "iron_oral")
    # the course: continuous supply from the start ([episodes] gap_days = 1)
    s.rx("COURSE_ADJ", day(0), "iron_oral", days_supply=28)  # supply days 0-27
    s.rx("COURSE_ADJ", day(28), "iron_oral", days_supply=28)  # starts 1 day after: adjacent
    s.rx("COURSE_GAP2", day(0), "iron_oral", days_supply=28)
    s.rx("COURSE_GAP2", day(29), "iron_oral", days_supply=28)  # 2 days after: a gap
    s.rx("COURSE_OVERLAP", day(0), "iron_oral", days_supply=28)
    s.rx("COURSE_OVERLAP", day(10), "iron_oral", days_supply=28)
    s.rx("COURSE_GAP_THEN_ADJ", day(0), "iron_oral", days_supply=28)
    s.rx("COURSE_GAP_THEN_ADJ", day(40), "iron_oral", days_supply=28)
    s.rx("COURSE_GAP_THEN_ADJ", day(41), "iron_oral", days_supply=28)
    s.rx("COURSE_NOEND_THEN_ADJ", day(0), "iron_oral", days_supply=None)  # default 28 days
    s.rx("COURSE_NOEND_THEN_ADJ", day(28), "iron_oral", days_supply=28)
    return s.classify() | {"ids": ids}


def test_single_prescription_is_one_episode_with_deterministic_id(out):
    e = episode(out, "SINGLE")
    rid = out["ids"]["SINGLE"]
    assert (e.episode_id, e.first_row_id, e.route) == (f"iron-{rid}", rid, "oral")
    assert e.start_at == pd.Timestamp(day(0)) and e.end_at == pd.Timestamp(day(27))


def test_prescription_365_days_after_previous_is_within_washout(out):
    eps = out["episodes"][out["episodes"].patient_id == "WASH365"]
    assert len(eps) == 1 and eps.iloc[0].n_rows == 2


def test_prescription_366_days_after_previous_opens_new_episode(out):
    eps = out["episodes"][out["episodes"].patient_id == "WASH366"].sort_values("start_at")
    assert len(eps) == 2
    assert eps.iloc[1].first_row_id == out["ids"]["WASH366_2"]


def test_adjacent_prescription_extends_a_long_course(out):
    eps = out["episodes"][out["episodes"].patient_id == "LONG_ADJ"]
    assert len(eps) == 1 and eps.iloc[0].end_at == pd.Timestamp(day(427))


def test_gap_of_two_days_after_a_long_course_past_washout_opens_new_episode(out):
    assert len(out["episodes"][out["episodes"].patient_id == "LONG_GAP"]) == 2


def test_combination_product_opens_one_episode_per_agent(out):
    eps = out["episodes"][out["episodes"].patient_id == "COMBO"]
    rid = out["ids"]["COMBO"]
    assert sorted(eps.episode_id) == [f"folate-{rid}", f"iron-{rid}"]


def test_switch_to_iv_within_washout_joins_the_oral_episode(out):
    eps = out["episodes"][out["episodes"].patient_id == "IVJOIN"]
    assert len(eps) == 1
    e = eps.iloc[0]
    # the IV dose 13 days after the oral supply ended is in the episode but not its course
    assert (e.route, e.n_rows, e.end_at) == ("oral", 2, pd.Timestamp(day(27)))


def test_unknown_supply_assumes_default_course_but_keeps_known_end_null(out):
    e = episode(out, "NOEND")
    assert e.end_at == pd.Timestamp(day(27)) and pd.isna(e.course_end_known_at)


def test_null_route_taken_from_class_and_sc_is_other(out):
    assert episode(out, "ROUTES", "iron").route == "iv"
    assert episode(out, "ROUTES", "b12").route == "other"


def test_each_agent_has_its_own_episodes(out):
    assert episode(out, "TWOAGENTS", "iron").start_at == pd.Timestamp(day(0))
    assert episode(out, "TWOAGENTS", "b12").start_at == pd.Timestamp(day(3))


def test_drug_of_no_agent_opens_no_episode(out):
    assert "OTHERDRUG" not in set(out["episodes"].patient_id)


def test_dispensing_opens_episode_only_for_patient_without_prescriptions(out):
    e = episode(out, "DISPONLY")
    assert (e.source_table, e.first_row_id) == ("stg_dispensings", out["ids"]["DISPONLY"])
    assert "RXANDDISP" not in set(out["episodes"].patient_id)


@pytest.mark.parametrize(
    "pid, n_rows, end_day, known_end_day",
    [
        ("COURSE_ADJ", 2, 55, 55),
        ("COURSE_GAP2", 2, 27, 27),
        ("COURSE_OVERLAP", 2, 37, 37),
        ("COURSE_GAP_THEN_ADJ", 3, 27, 27),  # after a gap nothing extends the course
        ("COURSE_NOEND_THEN_ADJ", 2, 55, 55),  # unknown supply: default course for continuity
    ],
)
def test_end_at_is_the_continuous_supply_from_the_start(out, pid, n_rows, end_day, known_end_day):
    """RULES.md 'Treatment episodes': overlapping or adjacent (within gap_days) orders extend it."""
    e = episode(out, pid)
    assert (e.n_rows, e.end_at, e.course_end_known_at) == (
        n_rows,
        pd.Timestamp(day(end_day)),
        pd.Timestamp(day(known_end_day)),
    )
