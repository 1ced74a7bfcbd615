"""Exclusions: folate in pregnancy or with methotrexate; B12 in pernicious anaemia or after
gastrectomy. [coprescribing] pregnancy_* = 280 days, methotrexate_window_days = 90."""

import pandas as pd
import pytest

from tests.rules.staged_builder import day, episode


@pytest.fixture(scope="module")
def out(module_builder):
    s = module_builder
    s.patient("PREG_IN", pregnancy_start=day(-30), pregnancy_end=day(0))
    s.rx("PREG_IN", day(0), "folate")
    s.patient("PREG_AFTER_END", pregnancy_start=day(-300), pregnancy_end=day(-1))
    s.rx("PREG_AFTER_END", day(0), "folate")
    s.patient("PREG_NOEND_280", pregnancy_start=day(-280))
    s.rx("PREG_NOEND_280", day(0), "folate")
    s.patient("PREG_NOEND_281", pregnancy_start=day(-281))
    s.rx("PREG_NOEND_281", day(0), "folate")
    s.patient("PREG_DX_280")
    s.rx("PREG_DX_280", day(0), "folate")
    s.dx("PREG_DX_280", day(280), "pregnancy", "Z34")
    s.patient("PREG_DX_281")
    s.rx("PREG_DX_281", day(0), "folate")
    s.dx("PREG_DX_281", day(-281), "pregnancy", "Z34")
    s.patient("PREG_IRON", pregnancy_start=day(-30), pregnancy_end=day(200))
    s.rx("PREG_IRON", day(0), "iron_oral")
    s.patient("PREG_TESTED", pregnancy_start=day(-30), pregnancy_end=day(200))
    s.rx("PREG_TESTED", day(0), "folate")
    s.lab("PREG_TESTED", day(-2), "folate", 20)
    # methotrexate supply (28 days) overlapping 90 days either side
    for pid, mtx_day in [("MTX_END_M90", -117), ("MTX_END_M91", -118), ("MTX_P90", 90), ("MTX_P91", 91)]:
        s.patient(pid)
        s.rx(pid, day(0), "folate")
        s.rx(pid, day(mtx_day), "methotrexate")
    s.patient("MTX_B12")
    s.rx("MTX_B12", day(0), "b12")
    s.rx("MTX_B12", day(0), "methotrexate")
    s.patient("PA_BEFORE")
    s.rx("PA_BEFORE", day(0), "b12")
    s.dx("PA_BEFORE", day(-400), "pernicious_anaemia", "D510")
    s.patient("PA_AFTER")
    s.rx("PA_AFTER", day(0), "b12")
    s.dx("PA_AFTER", day(1), "pernicious_anaemia", "D510")
    s.patient("PA_SAMEDAY_DATE")
    s.rx("PA_SAMEDAY_DATE", day(0, "09:00"), "b12")
    s.dx("PA_SAMEDAY_DATE", day(0), "pernicious_anaemia", "D510")
    s.patient("PA_SAMEDAY_LATER")
    s.rx("PA_SAMEDAY_LATER", day(0, "09:00"), "b12")
    s.dx("PA_SAMEDAY_LATER", day(0, "10:00"), "pernicious_anaemia", "D510")
    s.patient("GASTR")
    s.rx("GASTR", day(0), "b12")
    s.dx("GASTR", day(-50), "gastrectomy", "Z903")
    s.patient("PA_AND_GASTR")
    s.rx("PA_AND_GASTR", day(0), "b12")
    s.dx("PA_AND_GASTR", day(-50), "gastrectomy", "Z903")
    s.dx("PA_AND_GASTR", day(-50), "pernicious_anaemia", "D510")
    s.patient("PA_FOLATE")
    s.rx("PA_FOLATE", day(0), "folate")
    s.dx("PA_FOLATE", day(-50), "pernicious_anaemia", "D510")
    return s.classify()


def _reason(out, pid, agent):
    r = episode(out, pid, agent).excluded_reason
    return None if pd.isna(r) else r


@pytest.mark.parametrize(
    "pid, reason",
    [
        ("PREG_IN", "pregnancy_folate_prophylaxis"),  # start on the pregnancy end date
        ("PREG_AFTER_END", None),
        ("PREG_NOEND_280", "pregnancy_folate_prophylaxis"),  # no end: 280 days assumed
        ("PREG_NOEND_281", None),
        ("PREG_DX_280", "pregnancy_folate_prophylaxis"),  # pregnancy code 280 days after the start
        ("PREG_DX_281", None),
        ("MTX_END_M90", "methotrexate_folate"),
        ("MTX_END_M91", None),
        ("MTX_P90", "methotrexate_folate"),
        ("MTX_P91", None),
        ("PA_FOLATE", None),
    ],
)
def test_folate_exclusions(out, pid, reason):
    assert _reason(out, pid, "folate") == reason


@pytest.mark.parametrize(
    "pid, reason",
    [
        ("PA_BEFORE", "pernicious_anaemia_maintenance"),
        ("PA_AFTER", None),
        ("PA_SAMEDAY_DATE", "pernicious_anaemia_maintenance"),  # date-only code on the start day
        ("PA_SAMEDAY_LATER", None),  # both timed, code after the start
        ("GASTR", "post_gastrectomy_b12"),
        ("PA_AND_GASTR", "pernicious_anaemia_maintenance"),
        ("MTX_B12", None),
    ],
)
def test_b12_exclusions(out, pid, reason):
    assert _reason(out, pid, "b12") == reason


def test_iron_is_never_excluded(out):
    assert _reason(out, "PREG_IRON", "iron") is None


def test_excluded_episode_keeps_its_testing_status(out):
    e = episode(out, "PREG_TESTED", "folate")
    assert (e.testing_status, e.excluded_reason) == ("tested_before", "pregnancy_folate_prophylaxis")


def test_without_diagnoses_table_diagnosis_exclusions_are_not_found(staged):
    staged.patient("P")
    staged.rx("P", day(0), "b12")
    staged.dx("P", day(-50), "pernicious_anaemia", "D510")
    staged.patient("Q", pregnancy_start=day(-10))
    staged.rx("Q", day(0), "folate")
    out = staged.classify(diagnoses=False)
    assert _reason(out, "P", "b12") is None
    assert _reason(out, "Q", "folate") == "pregnancy_folate_prophylaxis"  # patient dates still count
