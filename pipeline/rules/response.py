"""Did the haemoglobin respond to iron?

RULES.md 'Iron response' (BSG 2021), windows and thresholds in `[response]`, cut-offs in
`[anaemia]`:
- which Hb: a laboratory Hb rather than a blood-gas or point-of-care Hb taken at about the
  same time (`rules.haemoglobin`, `[response] hb_method_preference`);
- baseline Hb: the latest Hb in the `baseline_days` up to the start (tie rule of `timing`: a
  date-only Hb on the start day counts as baseline; with both times it must be at or before
  the start);
- follow-up Hb: the first Hb from day `followup_from_day` to day `followup_to_day` after the
  start (calendar days, inclusive);
- escalation (oral iron episodes only): a prescription or dispensing of intravenous iron or
  of a class in `escalation_drug_classes` (IV iron, transfusion) started in that same follow-up
  window; it marks the oral iron as failed (`escalated_to_iv`, which includes transfusion);
- responded: follow-up - baseline >= `min_rise_g_l`, or follow-up Hb at or above the
  patient's anaemia cut-off on the day of the follow-up Hb (WHO 2024 by age, sex and
  pregnancy trimester, `rules.anaemia`; `hb_cutoff_group` says which applied; no cut-off under
  6 months, where only the rise counts);
- failed: escalated, or both Hb present and neither response criterion holds;
- not_assessable: otherwise, with the reason no_hb (neither), no_baseline_hb, no_followup_hb.
`assessed_at` is the follow-up Hb time, or the escalation when there is no follow-up Hb: the
moment by which the course, adherence and other causes are judged.
"""

from __future__ import annotations

import ibis

from pipeline.rules.anaemia import with_cutoff
from pipeline.rules.haemoglobin import preferred_hb
from pipeline.rules.inputs import Staged, attach, one_row_per_patient
from pipeline.rules.rows import first_per_group
from pipeline.rules.timing import days_after, in_window_before

# Hb converted from g/dL carries float noise (11.3 x 10 = 113.00000000000001).
_ROUND = 6


def judging_hb(labs: ibis.Table, cfg) -> ibis.Table:
    """The Hb results that judge the response (`haemoglobin.preferred_hb`), with the columns
    the baseline and the follow-up read. Classify keeps it as its own step, so the
    iron-response query does not compute it twice: at 10,000,000 patients that query then
    ran within the 3GB default memory_limit (issue 11, docs/performance.md)."""
    return preferred_hb(labs, cfg).select("patient_id", "row_id", "value_num", "taken_at", "taken_at_has_time")


def baseline_hb(ep: ibis.Table, hb: ibis.Table, cfg) -> ibis.Table:
    """The latest judging Hb (`judging_hb`) in the baseline window of each episode."""
    j = ep.join(hb, "patient_id")
    j = j.filter(
        in_window_before(j.taken_at, j.taken_at_has_time, j.start_at, j.start_has_time, cfg.response.baseline_days)
    )
    return first_per_group(j, "episode_id", [j.taken_at.desc(), j.row_id]).select(
        "episode_id", baseline_hb_g_l="value_num", baseline_at="taken_at", baseline_row_id="row_id"
    )


def followup_hb(ep: ibis.Table, hb: ibis.Table, cfg) -> ibis.Table:
    """The first judging Hb (`judging_hb`) in the follow-up window of each episode."""
    r = cfg.response
    j = ep.join(hb.select("patient_id", "row_id", "value_num", "taken_at"), "patient_id")
    d = days_after(j.taken_at, j.start_at)
    j = j.filter((d >= r.followup_from_day) & (d <= r.followup_to_day))
    return first_per_group(j, "episode_id", [j.taken_at, j.row_id]).select(
        "episode_id", followup_hb_g_l="value_num", followup_at="taken_at", followup_row_id="row_id"
    )


def escalation(ep: ibis.Table, staged: Staged, cfg) -> ibis.Table:
    """First IV iron / transfusion in the follow-up window of an oral iron episode."""
    r = cfg.response
    classes = list(r.escalation_drug_classes)
    rx = staged.prescriptions
    esc = rx.filter(rx.drug_class.isin(classes) | (rx.has_iron.fill_null(False) & (rx.route == "iv"))).select(
        "patient_id", "row_id", "drug_name", e_at="start_at", evidence_table=ibis.literal("stg_prescriptions")
    )
    if staged.dispensings is not None:
        dx = staged.dispensings
        esc = esc.union(
            dx.filter(dx.drug_class.isin(classes)).select(
                "patient_id", "row_id", "drug_name", e_at="dispensed_at", evidence_table=ibis.literal("stg_dispensings")
            )
        )
    oral = ep.filter(ep.route == "oral")
    j = oral.join(esc, "patient_id")
    d = days_after(j.e_at, j.start_at)
    j = j.filter((d >= r.followup_from_day) & (d <= r.followup_to_day))
    return first_per_group(j, "episode_id", [j.e_at, j.row_id]).select(
        "episode_id",
        escalated_at="e_at",
        escalation_table="evidence_table",
        escalation_row_id="row_id",
        escalation_drug="drug_name",
    )


def iron_outcomes(episodes: ibis.Table, staged: Staged, cfg, hb: ibis.Table | None = None) -> ibis.Table:
    """One row per iron episode with baseline, follow-up, escalation and outcome. `hb` is
    `judging_hb(staged.labs, cfg)`, computed here when not given."""
    ep = episodes.filter(episodes.agent == "iron").select(
        "episode_id", "patient_id", "route", "start_at", "start_has_time"
    )
    pts = one_row_per_patient(staged.patients).select(
        "patient_id", "sex", "birth_year", "age_band", "pregnancy_start", "pregnancy_end"
    )
    hb = judging_hb(staged.labs, cfg) if hb is None else hb
    out = attach(ep, baseline_hb(ep, hb, cfg), "episode_id")
    out = attach(out, followup_hb(ep, hb, cfg), "episode_id")
    out = attach(attach(out, escalation(ep, staged, cfg), "episode_id"), pts, "patient_id")
    out = with_cutoff(out, "followup_at", cfg)
    cutoff = out.hb_cutoff_g_l
    change = out.followup_hb_g_l - out.baseline_hb_g_l
    no_longer_anaemic = (out.followup_hb_g_l.round(_ROUND) >= cutoff).fill_null(False)
    responded = (change.round(_ROUND) >= cfg.response.min_rise_g_l) | no_longer_anaemic
    no_base, no_fu = out.baseline_hb_g_l.isnull(), out.followup_hb_g_l.isnull()
    escalated = out.escalated_at.notnull()
    outcome = ibis.cases(
        (escalated, "failed"), (no_base | no_fu, "not_assessable"), (responded, "responded"), else_="failed"
    )
    reason = ibis.cases(
        (escalated, ibis.null("string")),
        (no_base & no_fu, "no_hb"),
        (no_base, "no_baseline_hb"),
        (no_fu, "no_followup_hb"),
        else_=ibis.null("string"),
    )
    return out.select(
        "episode_id",
        "patient_id",
        "baseline_hb_g_l",
        "baseline_at",
        "followup_hb_g_l",
        "followup_at",
        hb_change_g_l=change,
        outcome=outcome,
        not_assessable_reason=reason,
        escalated_to_iv=escalated,
        hb_cutoff_g_l=ibis.ifelse(out.followup_at.isnull(), ibis.null("float64"), cutoff),
        hb_cutoff_group=ibis.ifelse(out.followup_at.isnull(), ibis.null("string"), out.hb_cutoff_group),
        baseline_row_id=out.baseline_row_id,
        followup_row_id=out.followup_row_id,
        escalated_at=out.escalated_at,
        escalation_table=out.escalation_table,
        escalation_row_id=out.escalation_row_id,
        escalation_drug=out.escalation_drug,
        assessed_at=ibis.coalesce(out.followup_at, out.escalated_at),
    )
