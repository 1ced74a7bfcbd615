"""Trends that show something (issue 13, item 3): the p-chart's grain adapts (month, else
quarter, else year), keeps its centre line across withheld periods, says why when it is
coarser or not drawn; funnel plots fall back from the latest quarter to the whole report
period, and say why when even that releases too few groups.

The warehouse is the literal demo cohort (tests/report_fixtures.py: two sites x six months of
2024, per site and month 40 iron, 20 B12 and 20 folate episodes) released with a disclosure
threshold of 30, so that months and single sites of a quarter are withheld where the counts
below say so."""

from datetime import date

import pandas as pd
import pytest

from pipeline.audit.tables import run_audit
from pipeline.config import load_config_from
from pipeline.errors import UserError
from pipeline.report import charts
from pipeline.report.frames import collect, spc_frame, trend_grain
from tests.report_fixtures import connect, demo_cohort, write_warehouse

HIGH = load_config_from({"disclosure": {"threshold": 30}})
AUTO = load_config_from({}).report


@pytest.fixture(scope="module")
def sections(tmp_path_factory):
    con = connect(write_warehouse(tmp_path_factory.mktemp("trends") / "audit.duckdb", demo_cohort()))
    run_audit(con, HIGH)
    data = collect(con, HIGH, None, None, "site")
    by_sex = collect(con, HIGH, None, None, "sex")
    con.disconnect()
    return {s.measure.id: s for s in data.sections}, {s.measure.id: s for s in by_sex.sections}


def _release(grains: dict[str, list[bool]]) -> pd.DataFrame:
    """Rows of the 'all' group: per grain, one row per period, True = withheld."""
    rows = [(g, w) for g, flags in grains.items() for w in flags]
    return pd.DataFrame({"period_type": [g for g, _ in rows], "group_by": "all", "suppressed": [w for _, w in rows]})


def test_grain_is_month_then_quarter_then_year():
    assert trend_grain(_release({"month": [False, True], "quarter": [False]}), AUTO) == "month"  # 1 of 2: 0.5
    assert trend_grain(_release({"month": [True, True, False], "quarter": [False]}), AUTO) == "quarter"
    assert trend_grain(_release({"month": [True] * 6, "quarter": [True, False, True], "year": [False]}),
                       AUTO) == "year"  # fmt: skip
    everything_withheld = _release({"month": [True], "quarter": [True], "year": [True]})
    assert trend_grain(everything_withheld, AUTO) == "year"
    assert trend_grain(_release({}), AUTO) == "month"  # no episodes: nothing to choose between
    fixed = load_config_from({"report": {"trend_grain": "year"}}).report
    assert trend_grain(_release({"month": [False]}), fixed) == "year"
    with pytest.raises(UserError, match="report.trend_grain must be one of auto, month, quarter, year"):
        load_config_from({"report": {"trend_grain": "weekly"}})


def test_the_centre_line_runs_across_a_withheld_period():
    release = pd.DataFrame({
        "period_type": "quarter", "group_by": "all",
        "period_start": pd.to_datetime(["2024-01-01", "2024-04-01", "2024-07-01"]),
        "period_end": pd.to_datetime(["2024-03-31", "2024-06-30", "2024-09-30"]),
        "numerator": pd.array([20, None, 30], dtype="Int64"), "denominator": pd.array([100, None, 100], dtype="Int64"),
        "suppressed": [False, True, False],
    })  # fmt: skip
    spc = spc_frame(release, AUTO)
    assert spc.centre.tolist() == [0.25, 0.25, 0.25]  # (20 + 30) / (100 + 100), the withheld quarter too
    assert spc.lcl.isna().tolist() == [False, True, False] and spc.rate.isna().tolist() == [False, True, False]
    spec = charts.spc_chart(spc, "t").to_dict(validate=False)
    marks = [layer["mark"] for layer in spec["layer"]]
    lines = [m for m in marks if m["type"] == "line"]
    assert len(lines) == 3 and all(m["invalid"] == "filter" for m in lines)  # limits, centre, rate run on
    assert any(m["type"] == "point" and m["shape"] == "cross" for m in marks)  # the withheld quarter is marked


def test_months_withheld_give_a_quarterly_chart_that_says_why(sections):
    by_site, _ = sections
    # B12 per month: 14 untested of 40 episodes, 14 <= 30, so every month is withheld; per quarter 42 of 120
    b12 = by_site["b12_untested"]
    assert b12.spc.period_type.tolist() == ["quarter", "quarter"] and not b12.spc.suppressed.any()
    assert b12.spc_note.startswith("Shown by quarter: disclosure control releases only 0% of months")
    iron = by_site["iron_untested"]  # 32 of 80 per month: released
    assert iron.spc.period_type.iloc[0] == "month" and iron.spc_note == ""


def test_the_funnel_falls_back_to_the_whole_period(sections):
    by_site, _ = sections
    iron = by_site["iron_untested"]  # per site in 2024 Q2: 48 of 120, released
    assert iron.funnel_period == "2024 Q2" and len(iron.funnel) == 2
    b12 = by_site["b12_untested"]  # per site in 2024 Q2: 21 of 60 (withheld); over six months 42 of 120
    assert b12.funnel_period == "the whole report period (2024-01-01 to 2024-06-27)"
    assert b12.funnel.group_value.tolist() == ["SITE-A", "SITE-B"]
    assert b12.funnel.numerator.tolist() == [40, 40] and b12.funnel.denominator.tolist() == [120, 120]  # rounded
    assert (b12.funnel.period_type == "period").all() and b12.funnel.period_start.iloc[0] == pd.Timestamp(2024, 1, 1)
    assert b12.funnel_note.startswith("In the latest quarter too much is withheld for a funnel plot by site")
    assert "Only 2 site groups are released" in b12.funnel_note


@pytest.fixture(scope="module")
def custom_sections(tmp_path_factory):
    """The same warehouse reported for January to May only (not the whole span)."""
    con = connect(write_warehouse(tmp_path_factory.mktemp("trends_custom") / "audit.duckdb", demo_cohort()))
    run_audit(con, HIGH)
    data = collect(con, HIGH, date(2024, 1, 1), date(2024, 5, 31), "site")
    con.disconnect()
    return {s.measure.id: s for s in data.sections}


def test_a_narrower_period_has_no_whole_period_funnel(custom_sections):
    # January to May, not the whole span: b12_untested's latest quarter (Q2, April and May) withholds
    # both sites, and cells counted for that period alone would open differences with the monthly
    # cells, so there is no fallback; the sentence says so
    b12 = custom_sections["b12_untested"]
    assert b12.funnel is None
    assert b12.funnel_why.startswith("No funnel plot: in the latest quarter too few groups are released")
    assert "only in a report of the whole span of the data" in b12.funnel_why


def test_no_funnel_says_why(sections):
    by_site, _ = sections
    # tested before with a normal result: k % 7 == 2 of the tested iron episodes, at most 18 per site and period
    despite = by_site["treated_despite_normal"]
    assert despite.funnel is None
    assert despite.funnel_why.startswith("No funnel plot: even over the whole report period none of the 2 site "
                                         "groups is released, and a funnel needs 2")  # fmt: skip


def test_by_sex_the_funnel_compares_two_groups_and_says_what_that_means(sections):
    _, by_sex = sections
    iron = by_sex["iron_untested"]
    assert iron.funnel.group_value.tolist() == ["F", "M"]
    assert "Only 2 sex groups are released" in iron.funnel_note and "opposite sides" in iron.funnel_note
