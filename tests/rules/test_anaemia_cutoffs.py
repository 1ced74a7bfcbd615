"""The anaemia cut-off for "no longer anaemic" by age, sex and pregnancy trimester on the date
of the follow-up Hb (WHO 2024, RULES.md 'Anaemia'; pipeline/rules/anaemia.py).

Every patient starts oral iron 28 days before the follow-up Hb date given here, with a
baseline Hb the day before the start and a rise below 10 g/L, so only the cut-off decides
between responded and failed. With a birth year only, the birthday is taken as 1 July.
"""

from datetime import date, timedelta

import pandas as pd
import pytest

from tests.rules.staged_builder import outcome


def _iron(s, pid, followup: str, base: float, fu: float, **patient):
    fu_day = date.fromisoformat(followup)
    start = fu_day - timedelta(days=28)
    s.patient(pid, **patient)
    s.rx(pid, start.isoformat(), "iron_oral", days_supply=56)
    s.disp(pid, start.isoformat(), days_supply=56)
    s.lab(pid, (start - timedelta(days=1)).isoformat(), "hb", base)
    s.lab(pid, fu_day.isoformat(), "hb", fu)


def _preg(pid, gestation_day: int, fu: float, base: float = 100, **extra):
    """A woman whose follow-up Hb falls on `gestation_day` of a pregnancy started 2024-01-01."""
    start = date(2024, 1, 1)
    followup = (start + timedelta(days=gestation_day)).isoformat()
    patient = dict(sex="F", birth_year=1990, pregnancy_start=start.isoformat(), pregnancy_end="2024-10-01")
    return pid, followup, base, fu, patient | extra


# (patient, follow-up date, baseline Hb, follow-up Hb, patient attributes)
PATIENTS = [
    # a boy of 8 going from 110 to 116 g/L: 5-11 years, cut-off 115 (the adult man's 130 called him failed)
    ("BOY8_116", "2024-03-29", 110, 116, dict(sex="M", birth_year=2016)),
    ("BOY8_114", "2024-03-29", 110, 114, dict(sex="M", birth_year=2016)),
    # born 2018 (1 July assumed): 59 months on 2023-06-29 (cut-off 110), 60 months on 2023-07-29 (115)
    ("AGE59M", "2023-06-29", 105, 112, dict(sex="F", birth_year=2018)),
    ("AGE60M", "2023-07-29", 105, 112, dict(sex="F", birth_year=2018)),
    # born 2008: 179 months (12-14 years, 120) and 180 months (a man, 130)
    ("AGE179M", "2023-06-29", 115, 122, dict(sex="M", birth_year=2008)),
    ("AGE180M", "2023-07-29", 115, 122, dict(sex="M", birth_year=2008)),
    # born 2023: 5 months (no WHO cut-off: only the rise counts) and 6 months (6-23 months, 105)
    ("AGE5M", "2023-12-29", 98, 106, dict(sex="F", birth_year=2023)),
    ("AGE6M", "2024-01-29", 98, 106, dict(sex="F", birth_year=2023)),
    ("AGE5M_RISE10", "2023-12-29", 98, 108, dict(sex="F", birth_year=2023)),
    # 24-59 months: born 2021, 32 months
    ("AGE32M_109", "2024-03-29", 102, 109, dict(sex="M", birth_year=2021)),
    ("AGE32M_110", "2024-03-29", 102, 110, dict(sex="M", birth_year=2021)),
    # age band only: its youngest age decides (the lowest cut-off the band spans)
    ("BAND10_19", "2024-03-29", 110, 116, dict(sex="M", birth_year=None, age_band="10-19")),
    ("BAND0_4", "2024-03-29", 98, 105, dict(sex="M", birth_year=None, age_band="0-4")),
    ("BAND15_24", "2024-03-29", 122, 129, dict(sex="M", birth_year=None, age_band="15-24")),
    ("BAND85PLUS", "2024-03-29", 112, 120, dict(sex="F", birth_year=None, age_band="85+")),
    # age unknown (no birth year, no band): the adult cut-off for the sex, flagged
    ("NOAGE_M129", "2024-03-29", 122, 129, dict(sex="M", birth_year=None, age_band=None)),
    ("NOAGE_U120", "2024-03-29", 112, 120, dict(sex="U", birth_year=None, age_band=None)),
    # pregnancy trimesters by gestation day (pregnancy started 2024-01-01); follow-up Hb 107
    _preg("PREG_D97", 97, 107),
    _preg("PREG_D98", 98, 107),
    _preg("PREG_D195", 195, 107),
    _preg("PREG_D196", 196, 107),
    # pregnancy before age: a pregnant girl of 14 in her second trimester
    _preg("PREG_GIRL14", 120, 107, birth_year=2009),
    # the pregnancy ended before the follow-up: the adult woman's 120
    _preg("PREG_ENDED", 120, 117, base=110, pregnancy_end="2024-03-01"),
    # no pregnancy end: start + 280 days, so day 200 is still the third trimester
    _preg("PREG_NOEND", 200, 109, pregnancy_end=None),
]

EXPECTED = {
    # patient: (outcome, cut-off, group)
    "BOY8_116": ("responded", 115, "age_5_11_years"),
    "BOY8_114": ("failed", 115, "age_5_11_years"),
    "AGE59M": ("responded", 110, "age_24_59_months"),
    "AGE60M": ("failed", 115, "age_5_11_years"),
    "AGE179M": ("responded", 120, "age_12_14_years"),
    "AGE180M": ("failed", 130, "adult_men"),
    "AGE5M": ("failed", None, "under_6_months"),
    "AGE6M": ("responded", 105, "age_6_23_months"),
    "AGE5M_RISE10": ("responded", None, "under_6_months"),
    "AGE32M_109": ("failed", 110, "age_24_59_months"),
    "AGE32M_110": ("responded", 110, "age_24_59_months"),
    "BAND10_19": ("responded", 115, "age_5_11_years"),
    "BAND0_4": ("responded", 105, "age_6_23_months"),
    "BAND15_24": ("failed", 130, "adult_men"),
    "BAND85PLUS": ("responded", 120, "adult_women"),
    "NOAGE_M129": ("failed", 130, "adult_age_unknown_men"),
    "NOAGE_U120": ("responded", 120, "adult_age_unknown_sex_unknown"),
    "PREG_D97": ("failed", 110, "pregnant_trimester_1"),
    "PREG_D98": ("responded", 105, "pregnant_trimester_2"),
    "PREG_D195": ("responded", 105, "pregnant_trimester_2"),
    "PREG_D196": ("failed", 110, "pregnant_trimester_3"),
    "PREG_GIRL14": ("responded", 105, "pregnant_trimester_2"),
    "PREG_ENDED": ("failed", 120, "adult_women"),
    "PREG_NOEND": ("failed", 110, "pregnant_trimester_3"),
}


@pytest.fixture(scope="module")
def out(module_builder):
    s = module_builder
    for pid, followup, base, fu, patient in PATIENTS:
        _iron(s, pid, followup, base, fu, **patient)
    s.patient("NO_FU", sex="M", birth_year=2016)
    s.rx("NO_FU", "2024-03-01", "iron_oral", days_supply=56)
    s.lab("NO_FU", "2024-02-29", "hb", 100)
    return s.classify()


@pytest.mark.parametrize("pid", list(EXPECTED))
def test_cutoff_by_age_sex_and_trimester(out, pid):
    o = outcome(out, pid)
    cutoff = None if pd.isna(o.hb_cutoff_g_l) else o.hb_cutoff_g_l
    assert (o.outcome, cutoff, o.hb_cutoff_group) == EXPECTED[pid]


def test_no_followup_hb_has_no_cutoff(out):
    o = outcome(out, "NO_FU")
    assert o.outcome == "not_assessable"
    assert pd.isna(o.hb_cutoff_g_l) and pd.isna(o.hb_cutoff_group)


def test_every_patient_is_listed():
    assert {p[0] for p in PATIENTS} == set(EXPECTED)


def test_trimester_days_must_be_ordered():
    from pipeline.config import load_config_from
    from pipeline.errors import UserError

    with pytest.raises(UserError, match="second_trimester_from_day"):
        load_config_from({"anaemia": {"second_trimester_from_day": 200}})
