"""The rules on the real MIMIC-IV demo: no crash, and the counts documented in docs/rules.md
('Real-world check'). A change in an adapter, code list or rule that moves them fails here;
update the documented table when the change is intended."""

import pandas as pd
import pytest

from pipeline.config import load_config
from tests.conftest import MIMIC_DEMO

pytestmark = [
    pytest.mark.mimic,
    pytest.mark.slow,
    pytest.mark.skipif(not MIMIC_DEMO.is_dir(), reason="MIMIC-IV demo not present"),
]

# docs/rules.md, 'Real-world check: the MIMIC-IV demo'
EPISODES = {"iron": (18, 6, 1, 11), "b12": (12, 4, 2, 6), "folate": (21, 1, 2, 18)}
OUTCOMES = {"failed": 5, "responded": 2, "not_assessable": 11}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from pipeline import steps
    from pipeline.engine import connect

    cfg = load_config()
    db = tmp_path_factory.mktemp("mimic") / "audit.duckdb"
    result = steps.run(MIMIC_DEMO.parent, db, None, cfg, source="mimic")
    con = connect(db, read_only=True)
    out = {t: con.table(t).to_pandas() for t in ("episodes", "iron_outcomes", "failure_causes", "aud_iron_untested")}
    rx = con.table("stg_prescriptions")
    out["rx_classes"] = rx.group_by(["drug_name", "drug_class"]).aggregate(n=rx.count()).to_pandas()
    out["reconciliation"] = result.reconciliation
    out["raw_counts"] = {
        t: con.table(f"raw_{t}").count().execute()
        for t in ("patients", "labs", "prescriptions", "dispensings", "diagnoses")
    }
    con.disconnect()
    return out


def test_no_row_is_lost(demo):
    """Every MIMIC record reaches raw, and raw = staged + quarantined for every file."""
    assert demo["raw_counts"] == {
        "patients": 100,
        "labs": 107_727,
        "prescriptions": 18_087,
        "dispensings": 24_238,
        "diagnoses": 4_506,
    }
    for r in demo["reconciliation"]:
        assert r["raw_rows"] == r["staged_rows"] + r["quarantined_rows"], r


def test_documented_episode_counts(demo):
    ep = demo["episodes"]
    counts = {
        a: (
            int((ep.agent == a).sum()),
            int(((ep.agent == a) & (ep.testing_status == "tested_before")).sum()),
            int(((ep.agent == a) & (ep.testing_status == "tested_after_only")).sum()),
            int(((ep.agent == a) & (ep.testing_status == "never_tested")).sum()),
        )
        for a in ("iron", "b12", "folate")
    }
    assert counts == EPISODES


def test_documented_outcome_counts(demo):
    assert demo["iron_outcomes"].outcome.value_counts().to_dict() == OUTCOMES


def test_every_failure_has_a_cause_with_evidence(demo):
    failed = set(demo["iron_outcomes"].query("outcome == 'failed'").episode_id)
    fc = demo["failure_causes"]
    assert set(fc.episode_id) == failed
    assert fc.evidence.map(lambda s: isinstance(s, str) and len(s) > 10).all()
    assert not pd.isna(demo["iron_outcomes"].query("outcome == 'failed'").primary_cause).any()


def test_audit_counts_agree_with_the_episodes(demo):
    """The audit step runs on real data; summed over quarters, the iron-untested measure
    counts the 18 iron episodes, 12 of them without a prior test (documented above)."""
    aud = demo["aud_iron_untested"]
    q = aud[(aud.period_type == "quarter") & (aud.group_by == "all")]
    assert (int(q.numerator.sum()), int(q.denominator.sum())) == (12, 18)
    assert aud[aud.is_suppressed.fillna(False)].released_numerator.isna().all()


def test_a_test_reported_only_in_comments_counts_as_taken(demo):
    """Demo patient 10039708: B12 and folate taken hours before treatment, both reported only
    in `comments` ("GREATER THAN 2000.", "GREATER THAN 20 NG/ML."): tested before, and the
    comparator read from the comment makes them not deficient."""
    ep = demo["episodes"]
    p = ep[(ep.patient_id == "10039708") & ep.agent.isin(["b12", "folate"])].set_index("agent")
    assert p.testing_status.to_dict() == {"b12": "tested_before", "folate": "tested_before"}
    assert p.prior_result_class.to_dict() == {"b12": "not_deficient", "folate": "not_deficient"}


def test_ferritin_decides_iron_status(demo):
    """Demo patient 10015860: ferritin up to 1,105 ug/L with CRP up to 146 mg/L and a low
    computed TSAT is not iron deficiency (anaemia of inflammation); iron-114870 (ferritin 828,
    TSAT 13 %) failed, and wrong_diagnosis is found."""
    ep = demo["episodes"].set_index("episode_id")
    assert ep.loc["iron-112821", "prior_result_class"] == "not_deficient"
    iron = demo["episodes"][demo["episodes"].agent == "iron"]
    assert iron.prior_result_class.value_counts().to_dict() == {"unknown": 12, "not_deficient": 4, "deficient": 2}
    fc = demo["failure_causes"]
    assert set(fc[fc.cause == "wrong_diagnosis"].episode_id) == {"iron-114870"}


def test_an_order_after_the_follow_up_hb_does_not_extend_the_course(demo):
    """Demo iron-112830: two doses (supply to day 1), follow-up Hb on day 20, a new order the
    same evening: the course ended on day 1, so the course was too short."""
    ep = demo["episodes"].set_index("episode_id")
    assert ep.loc["iron-112830", "end_at"] == pd.Timestamp("2013-07-05 18:00:00")
    fc = demo["failure_causes"]
    assert "short_course" in set(fc[fc.episode_id == "iron-112830"].cause)
    assert demo["iron_outcomes"].query("outcome == 'failed'").primary_cause.value_counts().to_dict() == {
        "short_course": 5
    }


def test_the_laboratory_hb_is_preferred_to_the_blood_gas_hb(demo):
    """Demo iron-112818: a laboratory Hb of 110 g/L at 06:30 and a blood-gas Hb (itemid 50811)
    of 120 g/L at 06:45 on the morning of the start: the laboratory one is the baseline."""
    o = demo["iron_outcomes"].set_index("episode_id").loc["iron-112818"]
    assert (o.baseline_hb_g_l, o.followup_hb_g_l, o.outcome) == (110, 109, "failed")


def test_every_demo_cut_off_is_an_adult_one(demo):
    """MIMIC-IV patients are adults and hosp has no pregnancy dates: 4 women, 3 men judged."""
    groups = demo["iron_outcomes"].hb_cutoff_group.value_counts().to_dict()
    assert groups == {"adult_women": 4, "adult_men": 3}


def test_heparin_line_flushes_are_not_anticoagulation_and_multivitamins_not_treatment(demo):
    """Issue 10 item 6 on the demo: heparin flush, dwell and CRRT-priming orders are
    `line_lock`, not anticoagulants (667 anticoagulant orders remain, of 846); multivitamins
    (Multivitamins, Nephrocaps, B complex) are mapped as not treatment."""
    rx = demo["rx_classes"]
    by_class = rx.groupby("drug_class", dropna=False).n.sum()
    assert by_class["anticoagulant"] == 667
    heparin_line = rx[rx.drug_name.str.contains("Heparin (?:Flush|Dwell)|Priming", regex=True)]
    assert len(heparin_line) >= 5 and set(heparin_line.drug_class) == {"line_lock"}
    assert by_class["multivitamin"] == 112
