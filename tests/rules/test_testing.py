"""Testing before treatment: look-back / after windows, the tie rule, qualifying tests, and the
class of the prior result. [testing] lookback_days = after_days = 90; [deficiency] cut-offs."""

import pytest

from tests.rules.staged_builder import day, episode


def _iron(s, pid, start=day(0), agent="iron_oral"):
    s.patient(pid)
    return s.rx(pid, start, agent)


@pytest.fixture(scope="module")
def out(module_builder):
    s = module_builder
    ids = {}
    # windows
    _iron(s, "LB90")
    s.lab("LB90", day(-90), "ferritin", 10)
    _iron(s, "LB91")
    s.lab("LB91", day(-91), "ferritin", 10)
    _iron(s, "AF90")
    s.lab("AF90", day(90), "ferritin", 10)
    _iron(s, "AF91")
    s.lab("AF91", day(91), "ferritin", 10)
    _iron(s, "NONE")
    # tie rule
    _iron(s, "TIE_DATE_TEST", start=day(0, "09:00"))
    s.lab("TIE_DATE_TEST", day(0), "ferritin", 10)
    _iron(s, "TIE_DATE_START")
    s.lab("TIE_DATE_START", day(0, "15:00"), "ferritin", 10)
    _iron(s, "TIE_TIMED_BEFORE", start=day(0, "09:00"))
    s.lab("TIE_TIMED_BEFORE", day(0, "08:59"), "ferritin", 10)
    _iron(s, "TIE_TIMED_EQUAL", start=day(0, "09:00"))
    s.lab("TIE_TIMED_EQUAL", day(0, "09:00"), "ferritin", 10)
    _iron(s, "TIE_TIMED_AFTER", start=day(0, "09:00"))
    s.lab("TIE_TIMED_AFTER", day(0, "09:01"), "ferritin", 10)
    # qualifying iron tests
    _iron(s, "PAIR")
    ids["PAIR"] = s.lab("PAIR", day(-5), "iron", 5)
    s.lab("PAIR", day(-5, "11:00"), "tibc", 70)
    _iron(s, "PAIR_NORMAL")
    s.lab("PAIR_NORMAL", day(-5), "iron", 20)
    s.lab("PAIR_NORMAL", day(-5), "tibc", 60)
    _iron(s, "PAIR_BOTH")
    s.lab("PAIR_BOTH", day(-5), "iron", 20)
    s.lab("PAIR_BOTH", day(-5), "tibc", 60)
    s.lab("PAIR_BOTH", day(-5), "transferrin", 2.4)
    _iron(s, "PAIR_DIFFDAY")
    s.lab("PAIR_DIFFDAY", day(-5), "iron", 5)
    s.lab("PAIR_DIFFDAY", day(-4), "tibc", 70)
    _iron(s, "IRON_ALONE")
    s.lab("IRON_ALONE", day(-5), "iron", 5)
    _iron(s, "IRON_TRF")
    s.lab("IRON_TRF", day(-5), "iron", 5)
    s.lab("IRON_TRF", day(-5), "transferrin", 3)
    _iron(s, "B12_FOR_IRON")
    s.lab("B12_FOR_IRON", day(-5), "b12", 100)
    # classes
    for pid, v in [("FER29", 29), ("FER30", 30), ("FER31", 31), ("FER_NULL", None)]:
        _iron(s, pid)
        s.lab(pid, day(-5), "ferritin", v)
    _iron(s, "FER_LT30")
    s.lab("FER_LT30", day(-5), "ferritin", 30, comparator="<")
    for pid, v in [("TSAT199", 19.9), ("TSAT20", 20)]:
        _iron(s, pid)
        s.lab(pid, day(-5), "tsat", v)
    for pid, fer, crp, crp_day in [
        ("INFL_99_6", 99, 6, -10),
        ("INFL_99_5", 99, 5, -10),
        ("INFL_100_6", 100, 6, -10),
        ("INFL_FAR", 99, 6, -36),
    ]:
        _iron(s, pid)
        s.lab(pid, day(-5), "ferritin", fer)
        s.lab(pid, day(crp_day), "crp", crp)
    for pid, v in [("B12_147", 147), ("B12_148", 148), ("B12_221", 221), ("B12_222", 222)]:
        _iron(s, pid, agent="b12")
        s.lab(pid, day(-5), "b12", v)
    for pid, v in [("FOL_69", 6.9), ("FOL_7", 7)]:
        _iron(s, pid, agent="folate")
        s.lab(pid, day(-5), "folate", v)
    # a test reported without a usable value (staged with value_num null) was still taken
    _iron(s, "B12_NULL", agent="b12")
    s.lab("B12_NULL", day(-1), "b12", None)
    _iron(s, "B12_GT2000", agent="b12")
    s.lab("B12_GT2000", day(-1), "b12", 1476, comparator=">")  # MIMIC 'GREATER THAN 2000' pg/mL
    _iron(s, "FOL_NULL_AND_7", agent="folate")
    s.lab("FOL_NULL_AND_7", day(-3), "folate", None)
    s.lab("FOL_NULL_AND_7", day(-2), "folate", 7)
    _iron(s, "PAIR_NULL")
    s.lab("PAIR_NULL", day(-5), "iron", None)
    s.lab("PAIR_NULL", day(-5), "tibc", 70)
    # ferritin decides iron status; TSAT alone only without a ferritin value (RULES.md)
    for pid, fer, tsat, crp in [
        ("FER1105_TSAT12_CRP146", 1105, 12, 146),  # MIMIC demo: anaemia of inflammation pattern
        ("FER99_TSAT15_CRP6", 99, 15, 6),
        ("FER100_TSAT15_CRP6", 100, 15, 6),
        ("FER29_TSAT30", 29, 30, None),
        ("FER30_TSAT19", 30, 19.9, None),
        ("FERNULL_TSAT19", None, 19.9, None),
        ("FERNULL_TSAT20", None, 20, None),
    ]:
        _iron(s, pid)
        s.lab(pid, day(-5), "ferritin", fer)
        s.lab(pid, day(-3), "tsat", tsat)
        if crp is not None:
            s.lab(pid, day(-4), "crp", crp)
    _iron(s, "FER150_PAIR7")
    s.lab("FER150_PAIR7", day(-5), "ferritin", 150)
    s.lab("FER150_PAIR7", day(-5), "iron", 5)
    s.lab("FER150_PAIR7", day(-5), "tibc", 70)
    _iron(s, "HOLOTC", agent="b12")
    s.lab("HOLOTC", day(-5), "holotc", 20)
    _iron(s, "LATEST")
    s.lab("LATEST", day(-60), "ferritin", 10)
    ids["LATEST"] = s.lab("LATEST", day(-10), "tsat", 30)
    _iron(s, "AFTER_DEF")
    s.lab("AFTER_DEF", day(5), "ferritin", 5)
    return s.classify() | {"ids": ids}


@pytest.mark.parametrize(
    "pid, status",
    [
        ("LB90", "tested_before"),
        ("LB91", "never_tested"),
        ("AF90", "tested_after_only"),
        ("AF91", "never_tested"),
        ("NONE", "never_tested"),
    ],
)
def test_windows_are_inclusive_calendar_days(out, pid, status):
    assert episode(out, pid).testing_status == status


@pytest.mark.parametrize(
    "pid, status",
    [
        ("TIE_DATE_TEST", "tested_before"),  # date-only test on the day of a timed start
        ("TIE_DATE_START", "tested_before"),  # timed test later on the day of a date-only start
        ("TIE_TIMED_BEFORE", "tested_before"),
        ("TIE_TIMED_EQUAL", "tested_before"),  # at the start counts as before
        ("TIE_TIMED_AFTER", "tested_after_only"),
    ],
)
def test_tie_rule_same_day(out, pid, status):
    assert episode(out, pid).testing_status == status


def test_iron_with_tibc_same_day_qualifies_and_gives_tsat(out):
    e = episode(out, "PAIR")
    assert (e.testing_status, e.prior_test_analyte, e.prior_test_row_id) == (
        "tested_before",
        "iron_with_tibc_or_transferrin",
        out["ids"]["PAIR"],
    )
    assert e.prior_result_class == "deficient"  # 5 / 70 = 7 % < 20 %
    assert episode(out, "PAIR_NORMAL").prior_result_class == "not_deficient"  # 33 %


def test_iron_with_tibc_and_transferrin_uses_the_tibc(out):
    assert episode(out, "PAIR_BOTH").prior_result_class == "not_deficient"


@pytest.mark.parametrize("pid", ["PAIR_DIFFDAY", "IRON_ALONE", "B12_FOR_IRON"])
def test_non_qualifying_iron_tests(out, pid):
    assert episode(out, pid).testing_status == "never_tested"


def test_iron_with_transferrin_qualifies_but_is_indeterminate(out):
    e = episode(out, "IRON_TRF")
    assert (e.testing_status, e.prior_result_class) == ("tested_before", "indeterminate")


@pytest.mark.parametrize(
    "pid, cls",
    [
        ("FER29", "deficient"),
        ("FER30", "not_deficient"),
        ("FER31", "not_deficient"),
        ("FER_NULL", "unknown"),
        ("PAIR_NULL", "unknown"),
        ("FER_LT30", "deficient"),
        ("TSAT199", "deficient"),
        ("TSAT20", "not_deficient"),
        ("INFL_99_6", "deficient"),
        ("INFL_99_5", "not_deficient"),
        ("INFL_100_6", "not_deficient"),
        ("INFL_FAR", "not_deficient"),  # CRP 31 days before the ferritin
        ("FER1105_TSAT12_CRP146", "not_deficient"),
        ("FER99_TSAT15_CRP6", "deficient"),
        ("FER100_TSAT15_CRP6", "not_deficient"),
        ("FER29_TSAT30", "deficient"),
        ("FER30_TSAT19", "not_deficient"),
        ("FERNULL_TSAT19", "deficient"),
        ("FERNULL_TSAT20", "not_deficient"),
        ("FER150_PAIR7", "not_deficient"),  # computed TSAT 7 % does not override the ferritin
    ],
)
def test_iron_prior_result_class(out, pid, cls):
    assert episode(out, pid).prior_result_class == cls


@pytest.mark.parametrize(
    "pid, cls",
    [
        ("B12_147", "deficient"),
        ("B12_148", "indeterminate"),
        ("B12_221", "indeterminate"),
        ("B12_222", "not_deficient"),
        ("HOLOTC", "indeterminate"),
        ("B12_NULL", "unknown"),
        ("B12_GT2000", "not_deficient"),
    ],
)
def test_b12_prior_result_class(out, pid, cls):
    assert episode(out, pid, "b12").prior_result_class == cls


@pytest.mark.parametrize(
    "pid, cls", [("FOL_69", "deficient"), ("FOL_7", "not_deficient"), ("FOL_NULL_AND_7", "not_deficient")]
)
def test_folate_prior_result_class(out, pid, cls):
    assert episode(out, pid, "folate").prior_result_class == cls


def test_latest_prior_test_is_reported_and_any_deficiency_counts(out):
    e = episode(out, "LATEST")
    assert (e.prior_test_analyte, e.prior_test_row_id) == ("tsat", out["ids"]["LATEST"])
    assert e.prior_result_class == "deficient"  # the older ferritin 10


def test_not_tested_before_is_unknown_even_if_deficient_after(out):
    e = episode(out, "AFTER_DEF")
    assert (e.testing_status, e.prior_result_class) == ("tested_after_only", "unknown")
    assert episode(out, "NONE").prior_result_class == "unknown"


@pytest.mark.parametrize(
    "pid, agent", [("FER_NULL", "iron"), ("PAIR_NULL", "iron"), ("B12_NULL", "b12"), ("FOL_NULL_AND_7", "folate")]
)
def test_a_test_without_a_value_still_counts_as_taken(out, pid, agent):
    """RULES.md: a test counts as taken when its sample was taken, whatever its value."""
    assert episode(out, pid, agent).testing_status == "tested_before"
