"""Which Hb judges the response: a laboratory Hb rather than a blood-gas or point-of-care Hb
taken at about the same time (RULES.md 'Iron response'; pipeline/rules/haemoglobin.py;
`[response] hb_method_preference`, `hb_same_time_minutes` = 60).

Every patient starts oral iron on day 0 with a baseline Hb of 100 g/L on day -1 and two
follow-up results on day 28: a blood-gas Hb of 130 (it would mean a response) and a
laboratory Hb of 104 (a failure), at the times given. Which one counts decides the outcome.
"""

import pandas as pd
import pytest

from tests.rules.staged_builder import day, outcome

LAB = dict(loinc="718-7")  # haematology analyser
GAS = dict(loinc="30313-1")  # arterial blood gas
GAS_MIMIC = dict(test_name="Blood Gas: Hemoglobin")  # MIMIC itemid 50811, as the adapter names it
POC = dict(loinc="30352-9")  # capillary, point of care
PLAIN = dict(test_name="Hb")  # a name that does not say: unspecified

# patient: (blood-gas-like result, its time, laboratory-like result, its time)
PAIRS = {
    "GAS_SAME_MINUTE": (GAS, "10:00", LAB, "10:00"),
    "GAS_60_MIN_APART": (GAS, "10:00", LAB, "11:00"),
    "GAS_61_MIN_APART": (GAS, "10:00", LAB, "11:01"),
    "GAS_DATE_ONLY": (GAS, None, LAB, "23:00"),
    "MIMIC_GAS": (GAS_MIMIC, "10:00", LAB, "10:30"),
    "POC_VS_LAB": (POC, "10:00", LAB, "10:30"),
    "GAS_VS_PLAIN": (GAS, "10:00", PLAIN, "10:30"),
    "POC_VS_GAS": (POC, "10:00", GAS, "10:30"),
}


@pytest.fixture(scope="module")
def out(module_builder):
    s = module_builder
    for pid, (first, t1, second, t2) in PAIRS.items():
        s.patient(pid)
        s.rx(pid, day(0), "iron_oral", days_supply=56)
        s.disp(pid, day(0), days_supply=56)
        s.lab(pid, day(-1), "hb", 100, loinc="718-7")
        s.lab(pid, day(28, t1), "hb", 130, **first)
        s.lab(pid, day(28, t2), "hb", 104, **second)
    # only a blood-gas Hb at follow-up: it still counts
    s.patient("GAS_ALONE")
    s.rx("GAS_ALONE", day(0), "iron_oral", days_supply=56)
    s.lab("GAS_ALONE", day(-1), "hb", 100, loinc="718-7")
    s.lab("GAS_ALONE", day(28, "10:00"), "hb", 130, **GAS)
    # a laboratory Hb without a value does not set the blood gas aside
    s.patient("LAB_NO_VALUE")
    s.rx("LAB_NO_VALUE", day(0), "iron_oral", days_supply=56)
    s.lab("LAB_NO_VALUE", day(-1), "hb", 100, loinc="718-7")
    s.lab("LAB_NO_VALUE", day(28, "10:00"), "hb", 130, **GAS)
    s.lab("LAB_NO_VALUE", day(28, "10:10"), "hb", None, **LAB)
    # the baseline too: a blood-gas 95 beside a laboratory 111 at the same time
    s.patient("BASELINE")
    s.rx("BASELINE", day(0), "iron_oral", days_supply=56)
    s.lab("BASELINE", day(-1, "08:00"), "hb", 95, **GAS)
    s.lab("BASELINE", day(-1, "08:20"), "hb", 111, **LAB)
    s.lab("BASELINE", day(28), "hb", 106, **LAB)
    return s.classify()


@pytest.mark.parametrize(
    "pid, followup, result",
    [
        ("GAS_SAME_MINUTE", 104, "failed"),
        ("GAS_60_MIN_APART", 104, "failed"),
        # over 60 minutes apart: two moments; the first Hb in the window (the blood gas) counts
        ("GAS_61_MIN_APART", 130, "responded"),
        # date-only blood gas on the day of a timed laboratory Hb: the same moment
        ("GAS_DATE_ONLY", 104, "failed"),
        ("MIMIC_GAS", 104, "failed"),
        ("POC_VS_LAB", 104, "failed"),
        # an Hb of unspecified method is preferred to a blood gas
        ("GAS_VS_PLAIN", 104, "failed"),
        # point of care is preferred to a blood gas
        ("POC_VS_GAS", 130, "responded"),
        ("GAS_ALONE", 130, "responded"),
        ("LAB_NO_VALUE", 130, "responded"),
    ],
)
def test_laboratory_hb_is_preferred(out, pid, followup, result):
    o = outcome(out, pid)
    assert (o.followup_hb_g_l, o.outcome) == (followup, result)


def test_baseline_prefers_the_laboratory_hb(out):
    o = outcome(out, "BASELINE")
    assert (o.baseline_hb_g_l, o.followup_hb_g_l, o.outcome) == (111, 106, "failed")


def test_preference_order_is_configurable(module_builder):
    out = module_builder.classify(overrides={"response": {"hb_method_preference": ["blood_gas", "laboratory"]}})
    o = outcome(out, "GAS_SAME_MINUTE")
    assert (o.followup_hb_g_l, o.outcome) == (130, "responded")
    assert not pd.isna(o.followup_row_id)


def test_unknown_method_in_config_is_refused():
    from pipeline.config import load_config_from
    from pipeline.errors import UserError

    with pytest.raises(UserError, match="hb method 'blood gas'"):
        load_config_from({"response": {"hb_method_preference": ["laboratory", "blood gas"]}})
