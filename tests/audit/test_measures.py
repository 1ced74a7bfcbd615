"""Measure definitions on literal patients: who is in each numerator and denominator, the
group values, the periods, and the aud_* tables run_audit writes."""

from pathlib import Path

import pandas as pd
import pytest

from pipeline.audit.measures import BY_ID, MEASURES, audit_population, measure_counts
from pipeline.audit.tables import run_audit
from pipeline.config import load_config
from pipeline.errors import UserError
from tests.report_fixtures import cause, connect, episode, outcome, patient, write_warehouse

OPEN = load_config().with_overrides({"disclosure": {"threshold": 0, "rounding": 0}})
DOCS = Path(__file__).resolve().parents[2] / "docs" / "measures.md"


def counts(tmp_path, measure_id, episodes, outcomes=(), causes=(), patients=(), config=OPEN):
    path = write_warehouse(
        tmp_path / "w.duckdb",
        {
            "episodes": list(episodes),
            "iron_outcomes": list(outcomes),
            "failure_causes": list(causes),
            "stg_patients": list(patients),
        },
    )
    con = connect(path)
    return measure_counts(audit_population(con, config), con.table("failure_causes"), BY_ID[measure_id]).to_pandas()


def cell(df, group_by="all", value="all", period_type="quarter", category="all"):
    row = df[
        (df.group_by == group_by)
        & (df.group_value == value)
        & (df.period_type == period_type)
        & (df.category == category)
    ]
    assert len(row) == 1, row
    return int(row.numerator.iloc[0]), int(row.denominator.iloc[0])


def test_iron_untested_counts_never_and_after_only_among_iron_starts(tmp_path):
    eps = [
        episode("P1", "2024-02-01", testing_status="never_tested"),
        episode("P2", "2024-02-02", testing_status="tested_after_only"),
        episode("P3", "2024-02-03"),
        episode("P4", "2024-02-04", "b12", testing_status="never_tested"),
    ]
    assert cell(counts(tmp_path, "iron_untested", eps)) == (2, 3)


def test_missing_testing_status_is_in_the_denominator_but_not_the_numerator(tmp_path):
    eps = [episode("P1", "2024-02-01", testing_status="never_tested"), episode("P2", "2024-02-01", testing_status=None)]
    assert cell(counts(tmp_path, "iron_untested", eps)) == (1, 2)


def test_excluded_episodes_leave_the_denominators(tmp_path):
    eps = [
        episode("P1", "2024-02-01", "folate", testing_status="never_tested"),
        episode(
            "P2", "2024-02-01", "folate", testing_status="never_tested", excluded_reason="pregnancy_folate_prophylaxis"
        ),
        episode(
            "P3", "2024-02-01", "folate", testing_status="tested_after_only", excluded_reason="methotrexate_folate"
        ),
    ]
    assert cell(counts(tmp_path, "folate_untested", eps)) == (1, 1)
    assert cell(counts(tmp_path, "tested_after_only", eps)) == (0, 1)


def test_tested_after_only_spans_all_agents(tmp_path):
    eps = [
        episode("P1", "2024-02-01", "iron", testing_status="tested_after_only"),
        episode("P2", "2024-02-01", "b12", testing_status="tested_after_only"),
        episode("P3", "2024-02-01", "folate", testing_status="never_tested"),
        episode("P4", "2024-02-01", "folate"),
    ]
    assert cell(counts(tmp_path, "tested_after_only", eps)) == (2, 4)


def test_treated_despite_normal_only_among_episodes_tested_before(tmp_path):
    eps = [
        episode("P1", "2024-02-01", prior_result_class="not_deficient"),
        episode("P2", "2024-02-01", prior_result_class="deficient"),
        episode("P3", "2024-02-01", "b12", prior_result_class="indeterminate"),
        episode("P4", "2024-02-01", testing_status="never_tested"),
    ]
    assert cell(counts(tmp_path, "treated_despite_normal", eps)) == (1, 3)


def test_just_in_case_among_b12_and_folate_starts(tmp_path):
    eps = [
        episode("P1", "2024-02-01", "b12", is_just_in_case=True, testing_status="never_tested"),
        episode("P2", "2024-02-01", "folate"),
        episode("P3", "2024-02-01", "folate", excluded_reason="pregnancy_folate_prophylaxis"),
        episode("P4", "2024-02-01", "iron"),
    ]
    assert cell(counts(tmp_path, "just_in_case", eps)) == (1, 2)


def _iron(pid, result, **kw):
    ep = episode(pid, "2024-02-01")
    return ep, outcome(ep, result, **kw)


def test_monitoring_counts_a_follow_up_hb_whatever_the_outcome(tmp_path):
    pairs = [
        _iron("P1", "responded"),
        _iron("P2", "failed"),
        _iron("P3", "not_assessable"),
        _iron("P4", "failed", followup_hb_g_l=None, followup_at=None, escalated_to_iv=True),
    ]
    df = counts(tmp_path, "iron_monitored", [e for e, _ in pairs], [o for _, o in pairs])
    assert cell(df) == (2, 4)


def test_failure_among_assessable_iron_episodes(tmp_path):
    pairs = [_iron("P1", "responded"), _iron("P2", "failed"), _iron("P3", "not_assessable")]
    df = counts(tmp_path, "iron_failed", [e for e, _ in pairs], [o for _, o in pairs])
    assert cell(df) == (1, 2)


def test_failure_causes_share_of_failed_episodes_multi_label(tmp_path):
    pairs = [_iron("P1", "failed"), _iron("P2", "failed"), _iron("P3", "responded")]
    (e1, _), (e2, _) = pairs[0], pairs[1]
    causes = [cause(e1, "low_dose"), cause(e1, "blood_loss"), cause(e2, "unexplained")]
    df = counts(tmp_path, "failure_causes", [e for e, _ in pairs], [o for _, o in pairs], causes)
    assert cell(df, category="low_dose") == (1, 2)
    assert cell(df, category="blood_loss") == (1, 2)
    assert cell(df, category="unexplained") == (1, 2)
    assert cell(df, category="irida_suspected") == (0, 2)
    assert set(df.category) == set(BY_ID["failure_causes"].categories)


def test_group_values_from_episode_then_patient(tmp_path):
    eps = [
        episode("P1", "2024-03-10", site="SITE-X", prescriber_specialty=None, testing_status="never_tested"),
        episode("P2", "2024-03-10", site=None),
        episode("P3", "2024-03-10", site=None),
        episode("P4", "2024-03-10", site=None),
    ]
    pats = [
        patient("P1", "F", 1960, "SITE-A"),
        patient("P2", "M", 1930, "SITE-B"),
        patient("P3", "U", None, None, age_band="85+"),
    ]
    df = counts(tmp_path, "iron_untested", eps, patients=pats)
    assert cell(df, "site", "SITE-X") == (1, 1)  # the episode's own site wins
    assert cell(df, "site", "SITE-B") == (0, 1)  # else the patient's
    assert cell(df, "site", "unknown") == (0, 2)  # neither
    assert cell(df, "specialty", "unknown") == (1, 1)
    assert cell(df, "sex", "F") == (1, 1) and cell(df, "sex", "unknown") == (0, 1)
    assert cell(df, "age_band", "60-69") == (1, 1)  # 2024 - 1960 = 64
    assert cell(df, "age_band", "90+") == (0, 1)  # 2024 - 1930 = 94
    assert cell(df, "age_band", "85+") == (0, 1)  # given band, no birth year
    assert cell(df, "age_band", "unknown") == (0, 1)  # no patient row


@pytest.mark.parametrize("group_by", ["site", "specialty", "sex", "age_band"])
def test_groups_add_up_to_all(tmp_path, group_by):
    eps = [
        episode(f"P{i}", "2024-02-01", site=("A", "B", None)[i % 3], testing_status=("never_tested", None)[i % 2])
        for i in range(9)
    ]
    df = counts(tmp_path, "iron_untested", eps, patients=[patient("P1", "M", 1990)])
    part = df[(df.group_by == group_by) & (df.period_type == "quarter")]
    assert (part.numerator.sum(), part.denominator.sum()) == cell(df)


def test_episode_month_and_quarter_are_those_of_the_start(tmp_path):
    eps = [episode("P1", "2024-03-31 23:30:00"), episode("P2", "2024-04-01")]
    df = counts(tmp_path, "iron_untested", eps)
    months = df[(df.period_type == "month") & (df.group_by == "all")].sort_values("period_start")
    quarters = df[(df.period_type == "quarter") & (df.group_by == "all")].sort_values("period_start")
    assert [str(d)[:10] for d in months.period_start] == ["2024-03-01", "2024-04-01"]
    assert [str(d)[:10] for d in quarters.period_start] == ["2024-01-01", "2024-04-01"]


def _write_iron(tmp_path, n: int, untested: int):
    eps = [
        episode(f"P{i}", "2024-05-02", testing_status="never_tested" if i < untested else "tested_before")
        for i in range(n)
    ]
    return connect(write_warehouse(tmp_path / "w.duckdb", {"episodes": eps}))


def test_run_audit_writes_rates_and_wilson_intervals(tmp_path):
    con = _write_iron(tmp_path, 263, 81)
    counts_written = run_audit(con, OPEN)
    assert set(counts_written) == {f"aud_{m.id}" for m in MEASURES}
    t = con.table("aud_iron_untested").to_pandas()
    row = t[(t.period_type == "month") & (t.group_by == "all")].iloc[0]
    assert (row.numerator, row.denominator, str(row.period_end)[:10]) == (81, 263, "2024-05-31")
    assert (round(row.ci_low, 4), round(row.ci_high, 4)) == (0.2553, 0.3662)  # Newcombe 1998
    assert not row.is_suppressed and row.released_numerator == 81


def test_run_audit_releases_rounded_counts_and_rates_from_them(tmp_path):
    con = _write_iron(tmp_path, 263, 81)
    run_audit(con, load_config())
    t = con.table("aud_iron_untested").to_pandas()
    row = t[(t.period_type == "month") & (t.group_by == "all")].iloc[0]
    assert (row.released_numerator, row.released_denominator) == (80, 265)
    assert row.released_rate == pytest.approx(80 / 265)


def test_run_audit_withholds_small_cells_by_default(tmp_path):
    con = _write_iron(tmp_path, 5, 2)
    run_audit(con, load_config())
    t = con.table("aud_iron_untested").to_pandas()
    assert t.is_suppressed.all() and t.released_rate.isna().all() and t.released_numerator.isna().all()
    assert t.numerator.notna().all()  # the true counts stay in the warehouse for local use


def test_run_audit_needs_the_classification(tmp_path):
    import ibis

    con = ibis.duckdb.connect(str(tmp_path / "empty.duckdb"))
    with pytest.raises(UserError, match="anemia-audit classify"):
        run_audit(con, OPEN)


def test_docs_define_every_measure_and_setting():
    text = DOCS.read_text()
    for m in MEASURES:
        assert f"`{m.id}`" in text, f"{m.id} missing from docs/measures.md"
    cfg = load_config()
    for section in ("disclosure", "report"):
        for key in cfg.as_dict()[section]:
            assert key in text, f"[{section}] {key} missing from docs/measures.md"


def test_measures_counted_together_match_each_measure_counted_alone(synthetic_population):
    """counts_by_measure (one aggregate per period and group for all the measures without a
    category) gives every measure the same cells as measure_counts (one measure at a time)."""
    from pipeline.audit.measures import PERIOD_TYPES, WHOLE_PERIOD, counts_by_measure

    con, population = synthetic_population
    periods = {**PERIOD_TYPES, WHOLE_PERIOD: "_span_start"}
    causes = con.table("failure_causes")
    together = counts_by_measure(population, causes, MEASURES, periods)
    assert list(together) == [m.id for m in MEASURES]
    keys = ["category", "period_type", "period_start", "group_by", "group_value"]
    for m in MEASURES:
        alone = measure_counts(population, causes, m, periods).to_pandas()
        a = alone[[*keys, "numerator", "denominator"]].sort_values(keys).reset_index(drop=True)
        b = together[m.id][[*keys, "numerator", "denominator"]].sort_values(keys).reset_index(drop=True)
        assert len(a) > 0 and a.numerator.sum() > 0, m.id  # a measure with nothing to compare proves nothing
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=m.id)
        assert str(b.numerator.dtype) == "int64" and str(b.denominator.dtype) == "int64"
