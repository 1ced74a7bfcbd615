"""Iron response: baseline (30 days up to the start), follow-up (day 14-56), rise >= 10 g/L or
no longer anaemic (WHO 2024 by sex), escalation to IV iron / transfusion, not assessable."""

import pandas as pd
import pytest

from tests.rules.staged_builder import day, outcome


def _oral(s, pid, sex="F", start=day(0), **patient):
    s.patient(pid, sex=sex, **patient)
    s.rx(pid, start, "iron_oral", days_supply=56)
    s.disp(pid, start, days_supply=56)


@pytest.fixture(scope="module")
def out(module_builder):
    s = module_builder
    ids = {}
    _oral(s, "BASE30")
    s.lab("BASE30", day(-30), "hb", 100)
    s.lab("BASE30", day(28), "hb", 112)
    _oral(s, "BASE31")
    s.lab("BASE31", day(-31), "hb", 100)
    s.lab("BASE31", day(28), "hb", 112)
    _oral(s, "BASE_TIMED_AFTER", start=day(0, "09:00"))
    s.lab("BASE_TIMED_AFTER", day(0, "10:00"), "hb", 100)
    s.lab("BASE_TIMED_AFTER", day(28), "hb", 112)
    _oral(s, "BASE_DATE_SAMEDAY", start=day(0, "09:00"))
    s.lab("BASE_DATE_SAMEDAY", day(0), "hb", 100)
    s.lab("BASE_DATE_SAMEDAY", day(28), "hb", 112)
    _oral(s, "BASE_LATEST")
    s.lab("BASE_LATEST", day(-20), "hb", 90)
    ids["BASE_LATEST"] = s.lab("BASE_LATEST", day(-2), "hb", 100)
    s.lab("BASE_LATEST", day(28), "hb", 105)
    for pid, d in [("FU13", 13), ("FU14", 14), ("FU56", 56), ("FU57", 57)]:
        _oral(s, pid)
        s.lab(pid, day(-1), "hb", 100)
        s.lab(pid, day(d), "hb", 112)
    _oral(s, "FU_FIRST")
    s.lab("FU_FIRST", day(-1), "hb", 100)
    ids["FU_FIRST"] = s.lab("FU_FIRST", day(20), "hb", 105)
    s.lab("FU_FIRST", day(40), "hb", 125)
    for pid, sex, base, fu in [
        ("RISE9", "F", 100, 109),
        ("RISE10", "F", 100, 110),
        ("CUT_F119", "F", 112, 119),
        ("CUT_F120", "F", 112, 120),
        ("CUT_M129", "M", 122, 129),
        ("CUT_M130", "M", 122, 130),
        ("CUT_U119", "U", 112, 119),
        ("CUT_U120", "U", 112, 120),
        ("NOISE", "F", 100, 109.99999999999999),
    ]:
        _oral(s, pid, sex=sex)
        s.lab(pid, day(-1), "hb", base)
        s.lab(pid, day(28), "hb", fu)
    for pid, fu in [("PREG110", 110), ("PREG109", 109)]:
        # follow-up on gestation day 38: first trimester, cut-off 110 (tests/rules/test_anaemia_cutoffs.py)
        _oral(s, pid, pregnancy_start=day(-10), pregnancy_end=day(250))
        s.lab(pid, day(-1), "hb", 102)
        s.lab(pid, day(28), "hb", fu)
    _oral(s, "NOHB")
    _oral(s, "NOBASE")
    s.lab("NOBASE", day(28), "hb", 100)
    _oral(s, "NOFU")
    s.lab("NOFU", day(-1), "hb", 100)
    _oral(s, "ESC")
    s.lab("ESC", day(-1), "hb", 100)
    s.lab("ESC", day(28), "hb", 115)
    ids["ESC"] = s.rx("ESC", day(20), "iron_iv", days_supply=1)
    _oral(s, "ESC13")
    s.lab("ESC13", day(-1), "hb", 100)
    s.lab("ESC13", day(28), "hb", 115)
    s.rx("ESC13", day(13), "iron_iv", days_supply=1)
    _oral(s, "ESC_NOHB")
    s.rx("ESC_NOHB", day(20), "iron_iv", days_supply=1)
    _oral(s, "TRANSF")
    s.lab("TRANSF", day(-1), "hb", 70)
    s.lab("TRANSF", day(28), "hb", 100)
    ids["TRANSF"] = s.rx("TRANSF", day(30), "transfusion", days_supply=1)
    s.patient("IV_EP")
    s.rx("IV_EP", day(0), "iron_iv", days_supply=1)
    s.rx("IV_EP", day(20), "iron_iv", days_supply=1)
    s.lab("IV_EP", day(-1), "hb", 90)
    s.lab("IV_EP", day(28), "hb", 105)
    s.patient("B12ONLY")
    s.rx("B12ONLY", day(0), "b12")
    return s.classify() | {"ids": ids}


@pytest.mark.parametrize(
    "pid, result, reason",
    [
        ("BASE30", "responded", None),
        ("BASE31", "not_assessable", "no_baseline_hb"),
        ("BASE_TIMED_AFTER", "not_assessable", "no_baseline_hb"),
        ("BASE_DATE_SAMEDAY", "responded", None),
        ("FU13", "not_assessable", "no_followup_hb"),
        ("FU14", "responded", None),
        ("FU56", "responded", None),
        ("FU57", "not_assessable", "no_followup_hb"),
        ("NOHB", "not_assessable", "no_hb"),
        ("NOBASE", "not_assessable", "no_baseline_hb"),
        ("NOFU", "not_assessable", "no_followup_hb"),
    ],
)
def test_baseline_and_followup_windows(out, pid, result, reason):
    o = outcome(out, pid)
    assert (o.outcome, None if pd.isna(o.not_assessable_reason) else o.not_assessable_reason) == (result, reason)


def test_latest_baseline_and_first_followup(out):
    o = outcome(out, "BASE_LATEST")
    assert (o.baseline_hb_g_l, o.baseline_row_id) == (100, out["ids"]["BASE_LATEST"])
    o = outcome(out, "FU_FIRST")
    assert (o.followup_hb_g_l, o.followup_row_id, o.hb_change_g_l) == (105, out["ids"]["FU_FIRST"], 5)
    assert o.outcome == "failed"


@pytest.mark.parametrize(
    "pid, result",
    [
        ("RISE9", "failed"),
        ("RISE10", "responded"),
        ("CUT_F119", "failed"),
        ("CUT_F120", "responded"),
        ("CUT_M129", "failed"),
        ("CUT_M130", "responded"),
        ("CUT_U119", "failed"),
        ("CUT_U120", "responded"),
        ("PREG109", "failed"),
        ("PREG110", "responded"),
        ("NOISE", "responded"),
    ],
)  # 109.99999999999999 - 100 counts as a rise of 10
def test_response_thresholds(out, pid, result):
    assert outcome(out, pid).outcome == result


def test_escalation_to_iv_in_window_marks_failure(out):
    o = outcome(out, "ESC")
    assert (o.outcome, bool(o.escalated_to_iv), o.escalation_row_id) == ("failed", True, out["ids"]["ESC"])


def test_iv_before_day_14_is_not_escalation(out):
    o = outcome(out, "ESC13")
    assert (o.outcome, bool(o.escalated_to_iv)) == ("responded", False)


def test_escalation_without_hb_is_failed_and_assessed_at_escalation(out):
    o = outcome(out, "ESC_NOHB")
    assert (o.outcome, pd.isna(o.not_assessable_reason)) == ("failed", True)
    assert o.assessed_at == pd.Timestamp(day(20))


def test_transfusion_counts_as_escalation(out):
    o = outcome(out, "TRANSF")
    assert (o.outcome, bool(o.escalated_to_iv), o.escalation_row_id) == ("failed", True, out["ids"]["TRANSF"])


def test_iv_episode_is_not_escalated_by_further_iv(out):
    o = outcome(out, "IV_EP")
    assert (o.outcome, bool(o.escalated_to_iv)) == ("responded", False)


def test_only_iron_episodes_have_outcomes(out):
    assert "B12ONLY" not in set(out["iron_outcomes"].patient_id)
    assert len(out["iron_outcomes"]) == (out["episodes"].agent == "iron").sum()


def test_primary_cause_only_when_failed(out):
    o = out["iron_outcomes"]
    assert o[o.outcome != "failed"].primary_cause.isna().all()
    assert o[o.outcome == "failed"].primary_cause.notna().all()
