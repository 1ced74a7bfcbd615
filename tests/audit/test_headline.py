"""The headline answers both questions for the report period, from literal episodes with
counts worked out by hand below each table."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.audit.headline import ITEMS, headline, previous_period
from pipeline.config import load_config_from
from pipeline.rules.causes import CAUSES
from tests.report_fixtures import cause, connect, episode, outcome, patient, write_warehouse

OPEN = load_config_from({"disclosure": {"threshold": 0, "rounding": 0}})
FROM, TO = date(2024, 1, 1), date(2024, 6, 30)


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    eps, outs, causes = [], [], []
    # 20 iron episodes in the period: 4 never tested, 2 tested only after, 14 tested before
    statuses = ["never_tested"] * 4 + ["tested_after_only"] * 2 + ["tested_before"] * 14
    # outcomes: 10 responded, 6 failed, 4 not assessable (missing follow-up)
    results = ["responded"] * 10 + ["failed"] * 6 + ["not_assessable"] * 4
    for i, (status, result) in enumerate(zip(statuses, results, strict=True)):
        ep = episode(f"P{i}", f"2024-0{1 + i % 6}-10", testing_status=status)
        eps.append(ep)
        outs.append(outcome(ep, result))
        if result == "failed":
            failed_index = sum(1 for r in results[:i] if r == "failed")
            if failed_index < 3:
                causes.append(cause(ep, "low_dose"))  # 3 low dose
            if failed_index in (2, 3):
                causes.append(cause(ep, "blood_loss"))  # 2 blood loss, one of them also low dose
    excluded = episode("PX", "2024-02-01", excluded_reason="continuing_treatment")  # never counted
    earlier = episode("PE", "2023-12-31", testing_status="never_tested")  # the previous period: 1 of 1 untested
    eps += [excluded, earlier]
    outs += [outcome(excluded, "failed"), outcome(earlier, "responded")]
    # 10 B12 episodes, 3 just in case; no folate at all
    for i in range(10):
        eps.append(episode(f"B{i}", "2024-03-01", agent="b12", is_just_in_case=i < 3))
    pats = [patient(e["patient_id"]) for e in eps]
    tables = {"episodes": eps, "iron_outcomes": outs, "failure_causes": causes, "stg_patients": pats}
    return connect(write_warehouse(tmp_path_factory.mktemp("h") / "w.duckdb", tables))


def _rows(con, config=OPEN, start=FROM, end=TO):
    return {r.item: r for r in headline(con, config, start, end).itertuples()}


def test_treatment_before_testing_per_agent(con):
    h = _rows(con)
    assert (h["iron_untested"].released_numerator, h["iron_untested"].released_denominator) == (6, 20)
    assert (h["iron_tested_after_only"].released_numerator, h["iron_tested_after_only"].released_denominator) == (2, 20)
    assert (h["b12_just_in_case"].released_numerator, h["b12_just_in_case"].released_denominator) == (3, 10)
    assert h["b12_untested"].released_numerator == 0
    assert h["folate_untested"].is_suppressed and str(h["folate_untested"].released_denominator) == "<NA>"  # none


def test_iron_failure_and_its_causes_in_clinical_order(con):
    h = _rows(con)
    assert (h["iron_failed"].released_numerator, h["iron_failed"].released_denominator) == (6, 16)
    assert (h["iron_not_assessable"].released_numerator, h["iron_not_assessable"].released_denominator) == (4, 20)
    assert (h["cause_low_dose"].released_numerator, h["cause_low_dose"].released_denominator) == (3, 6)
    assert h["cause_blood_loss"].released_numerator == 2 and h["cause_irida_suspected"].released_numerator == 0
    causes = [i.cause for i in ITEMS if i.cause]
    assert causes == list(CAUSES) and causes[:3] == ["low_dose", "short_course", "non_adherence"]
    assert causes[-2:] == ["irida_suspected", "unexplained"]


def test_change_against_the_previous_period_of_the_same_length(con):
    assert previous_period(FROM, TO) == (date(2023, 7, 3), date(2023, 12, 31))
    row = _rows(con)["iron_untested"]
    assert row.previous_rate == pytest.approx(1.0)  # the one earlier episode was untested
    assert row.change == pytest.approx(6 / 20 - 1.0)


def test_standard_met_or_not(con):
    strict = load_config_from({"disclosure": {"threshold": 0, "rounding": 0}, "standards": {"iron_untested_max": 0.25}})
    loose = load_config_from({"disclosure": {"threshold": 0, "rounding": 0}, "standards": {"iron_untested_max": 0.30}})
    assert _rows(con, strict)["iron_untested"].standard == "not met (≤ 25%)"  # 30 % > 25 %
    assert _rows(con, loose)["iron_untested"].standard == "met (≤ 30%)"  # 30 % <= 30 %
    assert _rows(con)["folate_untested"].standard == "not assessable"  # no folate episodes


def test_small_counts_are_withheld_and_rounded_with_the_default_disclosure(con):
    h = _rows(con, load_config_from({}))
    assert h["iron_untested"].is_suppressed  # 6 of 20: a count of 1..7
    assert str(h["iron_untested"].released_numerator) == "<NA>" and str(h["iron_untested"].rate) == "nan"
    rounded = _rows(con, load_config_from({"disclosure": {"threshold": 0, "rounding": 5}}))["iron_tested_after_only"]
    assert (rounded.released_numerator, rounded.released_denominator) == (5, 20)  # 2 rounds up, never to 0


def test_without_dates_the_period_is_the_span_of_the_data(con):
    rows = headline(con, OPEN)
    assert rows.period_start.iloc[0].date() == date(2023, 12, 31) and rows.period_end.iloc[0].date() == date(
        2024, 6, 10
    )
    assert dict(zip(rows.item, rows.released_denominator, strict=True))["iron_untested"] == 21  # 20 + the earlier one


def _counts_item_by_item(population, causes, start, end):
    """The headline counts one query per item: the plain definition the batched `_counts`
    must reproduce."""
    import ibis

    from pipeline.audit.measures import predicate

    day = population.start_at.date()
    p = population.filter((day >= ibis.literal(start)) & (day <= ibis.literal(end)))
    labelled = causes.select("episode_id", "cause").distinct()
    out = {}
    for it in ITEMS:
        den = p.filter(predicate(p, it.denominator_where))
        if it.cause is None:
            hit = den.filter(predicate(den, it.numerator_where))
        else:
            mine = labelled.filter(labelled.cause == it.cause).select("episode_id")
            hit = den.semi_join(mine, "episode_id")
        out[it.id] = (int(hit.count().execute()), int(den.count().execute()))
    return out


@pytest.mark.parametrize("whole_span", [True, False])
def test_batched_headline_counts_match_the_item_by_item_counts(synthetic_population, whole_span):
    from pipeline.audit.headline import _counts, report_span

    con, population = synthetic_population
    start, end = report_span(con)
    if not whole_span:  # a period inside the data: some episodes left out
        start = date(start.year, start.month, 1)
        end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    causes = con.table("failure_causes")
    got = _counts(population, causes, start, end)
    assert list(got.item) == [i.id for i in ITEMS]
    assert str(got.numerator.dtype) == "int64" and str(got.denominator.dtype) == "int64"
    want = _counts_item_by_item(population, causes, start, end)
    assert {r.item: (r.numerator, r.denominator) for r in got.itertuples()} == want
    if whole_span:  # a comparison over nothing proves nothing
        assert sum(n for n, _ in want.values() if n) > 0
        assert sum(n for i, (n, _) in want.items() if i.startswith("cause_")) > 0
