"""Why did iron therapy fail? One row per failed iron episode x plausible cause, each with
the row that supports it; then the primary cause by the configured precedence.

RULES.md 'Why iron failed' (multi-label); every threshold, window, condition group (from
data/codelists/conditions.csv) and drug class (data/codelists/drugs.csv) is in `[causes]`.
Windows, all in calendar days, end at the assessment (`assessed_at`: the follow-up Hb, or the
escalation when there is none):
- "drug window": from `drug_window_days_before` before the start;
- "marrow-toxic window": from `marrow_toxic_lookback_days` before the start;
- "near baseline": within `labs_near_baseline_days` either side of the start;
- "baseline tests": from `[testing] lookback_days` before the start;
- chronic conditions: a diagnosis recorded at any time up to the assessment;
- blood-loss diagnoses: recorded in the drug window (an acute event, not a history).

Causes:
- low_dose (oral only): the opening prescription's elemental iron per day
  < `min_elemental_iron_mg_per_day`. Unknown dose: not flagged.
- short_course (oral only): the course ends before the assessment day. The course is the
  continuous supply from the start (RULES.md 'Treatment episodes'): the episode's rows started
  on or before the assessment (the follow-up Hb, or the escalation), each overlapping or
  starting at most `[episodes] gap_days` after the supply so far; an order after a gap, or
  after the follow-up Hb, does not extend it (`episodes.continuous_course`). Its end is the
  last known supply day of those rows. Unknown supply for every row: not flagged.
- non_adherence (oral only): PDC < `adherence_pdc_min` (see `adherence`).
- adherence_unknown (oral only): no dispensing data (table absent or patient not covered).
- blood_loss: `blood_loss_conditions` in the drug window, or `blood_loss_drug_classes`
  (anticoagulant, NSAID) exposure overlapping the drug window.
- malabsorption: `malabsorption_conditions` (chronic) or `malabsorption_drug_classes`
  (PPI, H2 blocker) in the drug window.
- inflammation: CRP > `crp_inflammation_mg_l` near baseline, or `inflammation_conditions`.
- wrong_diagnosis: `wrong_diagnosis_conditions` (thalassaemia, B12 / folate deficiency);
  MCV < `low_mcv_fl` with Mentzer MCV/RBC (same day) < `mentzer_max` near baseline while the
  iron tests were not deficient; the tests before the start did not show iron deficiency
  (`prior_result_class` not_deficient; ferritin decides when measured, so a ferritin of
  100 ug/L or more beside a low TSAT, the pattern of anaemia of inflammation, is found here;
  the evidence is the deciding test); B12 < `[deficiency] b12_deficient_pmol_l` or folate <
  `folate_deficient_nmol_l` from the baseline tests to the assessment.
- marrow: `marrow_conditions`; `marrow_drug_classes` overlapping the marrow-toxic window; WBC
  < `low_wbc_10e9_l` or platelets < `low_platelets_10e9_l` near baseline.
- haemolysis: `haemolysis_conditions`; LDH > `high_ldh_u_l` with haptoglobin <
  `low_haptoglobin_g_l`, or reticulocytes > `high_reticulocytes_pct` with bilirubin >
  `high_bilirubin_umol_l`, both of a pair near baseline.
- irida_suspected: only when none of the above was found, and dose, course and adherence were
  adequate (oral: dose known and not low, supply known to reach the assessment, adherence
  known and adequate; intravenous iron is given by clinicians and counts as adequate), and
  either an `irida_conditions` diagnosis, or from the baseline tests to the assessment
  MCV < `irida_mcv_max_fl`, TSAT < `irida_tsat_max_pct` and ferritin >= `irida_ferritin_min_ug_l`.
- unexplained: failed and nothing above was found.
Without stg_diagnoses, diagnosis-based evidence is not found; without stg_dispensings only
prescriptions count as drug exposure. When several rows support one cause, the evidence shown
is the first by kind (as listed) and then lowest row_id.
"""

from __future__ import annotations

import ibis

from pipeline.rules.cause_names import CAUSES as CAUSES  # re-exported: the vocabulary lives apart
from pipeline.rules.episodes import continuous_course
from pipeline.rules.inputs import Staged, attach
from pipeline.rules.lab_values import is_above, is_below
from pipeline.rules.rows import first_per_group, union_all
from pipeline.rules.supplies import drug_supplies
from pipeline.rules.testing import prior_tests, qualifying_tests, tsat_results
from pipeline.rules.timing import days_after

CAUSE_COLUMNS = ("episode_id", "cause", "evidence_table", "evidence_row_id", "evidence", "_rank")


def _txt(v) -> ibis.Value:
    return v.cast("string").fill_null("?")


def _num(v) -> ibis.Value:
    return _txt(v.round(1))


def _day(ts) -> ibis.Value:
    return _txt(ts.date())


def _cand(t: ibis.Table, cause: str, table: str | None, row_id, evidence, rank: int) -> ibis.Table:
    return t.select(
        "episode_id",
        cause=ibis.literal(cause),
        evidence_table=(ibis.literal(table) if isinstance(table, str) else table)
        if table is not None
        else ibis.null("string"),
        evidence_row_id=row_id.cast("int64") if row_id is not None else ibis.null("int64"),
        evidence=evidence,
        _rank=ibis.literal(rank),
    )


# --- evidence finders -------------------------------------------------------------------


def conditions(f, diagnoses, groups, cause, rank, lookback_days=None) -> list[ibis.Table]:
    """Diagnoses of the given condition groups recorded up to the assessment (and not more
    than `lookback_days` before the start when given). None when stg_diagnoses is absent."""
    if diagnoses is None or not groups:
        return []
    j = f.join(diagnoses.filter(diagnoses.condition_group.isin(list(groups))), "patient_id")
    keep = j.recorded_at.date() <= j.assessed_at.date()
    if lookback_days is not None:
        keep = keep & (days_after(j.recorded_at, j.start_at) >= -lookback_days)
    j = j.filter(keep)
    text = j.code + " (" + j.condition_group + ") recorded " + _day(j.recorded_at)
    return [_cand(j, cause, "stg_diagnoses", j.row_id, text, rank)]


def drugs(f, exposures, classes, cause, rank, lookback_days) -> list[ibis.Table]:
    """Exposure to the drug classes overlapping [start - lookback_days, assessment]."""
    j = f.join(exposures.filter(exposures.drug_class.isin(list(classes))), "patient_id")
    j = j.filter((j.d_start.date() <= j.assessed_at.date()) & (days_after(j.d_end, j.start_at) >= -lookback_days))
    out = []
    for table, verb in (("stg_prescriptions", " prescribed "), ("stg_dispensings", " dispensed ")):
        t = j.filter(j.d_table == table)
        text = ibis.coalesce(t.drug_name, t.drug_class) + " (" + t.drug_class + ")" + verb + _day(t.d_start)
        out.append(_cand(t, cause, table, t.row_id, text, rank))
    return out


def labs_near(f, labs, analyte, predicate, days) -> ibis.Table:
    """Results of one analyte meeting `predicate` within `days` either side of the start and
    not after the assessment."""
    rows = labs.filter(labs.analyte == analyte)
    rows = rows.filter(predicate(rows))
    j = f.join(rows.select("patient_id", "row_id", "value_num", "unit", "taken_at"), "patient_id")
    return j.filter((days_after(j.taken_at, j.start_at).abs() <= days) & (j.taken_at.date() <= j.assessed_at.date()))


def labs_since_baseline(f, labs, analyte, predicate, cfg) -> ibis.Table:
    """Results from the baseline-test window (look-back before the start) to the assessment."""
    rows = labs.filter(labs.analyte == analyte)
    rows = rows.filter(predicate(rows))
    j = f.join(rows.select("patient_id", "row_id", "value_num", "unit", "taken_at"), "patient_id")
    return j.filter(
        (days_after(j.taken_at, j.start_at) >= -cfg.testing.lookback_days) & (j.taken_at.date() <= j.assessed_at.date())
    )


def _lab_cand(j, cause, label, rank) -> ibis.Table:
    text = label + " " + _num(j.value_num) + " " + j.unit.fill_null("") + " on " + _day(j.taken_at)
    return _cand(j, cause, "stg_labs", j.row_id, text, rank)


def _pair(first: ibis.Table, second: ibis.Table) -> ibis.Table:
    """Rows of `first` for episodes that also have a row in `second`."""
    return first.semi_join(second.select("episode_id").distinct(), "episode_id")


# --- one function per cause ---------------------------------------------------------------


def common_causes(f: ibis.Table, members: ibis.Table, adh: ibis.Table, cfg) -> list[ibis.Table]:
    """low_dose, short_course, non_adherence, adherence_unknown for oral episodes."""
    c = cfg.causes
    oral = f.filter(f.route == "oral")
    low = oral.filter(is_below(oral.elemental_iron_mg_per_day, ibis.null("string"), c.min_elemental_iron_mg_per_day))
    low_text = (
        "elemental iron "
        + _num(low.elemental_iron_mg_per_day)
        + " mg/day, below "
        + str(c.min_elemental_iron_mg_per_day)
        + " mg/day"
    )
    short = oral.filter(oral.course_end_known_at.date() < oral.assessed_at.date())
    last = members.select(
        "episode_id", m_row_id="row_id", m_end="known_end_at", m_table="source_table", m_start="start_at"
    )
    short = short.join(
        last,
        [
            short.episode_id == last.episode_id,
            short.course_end_known_at == last.m_end,
            last.m_start <= short.assessed_at,
        ],
    )
    short_text = (
        "supply ends " + _day(short.course_end_known_at) + ", before the assessment on " + _day(short.assessed_at)
    )
    a = oral.join(adh, "episode_id")
    poor = a.filter(a.adherence_known & (a.pdc.round(6) < c.adherence_pdc_min))
    poor_text = (
        "iron dispensed for "
        + _txt((poor.pdc * 100).round(0).cast("int64"))
        + "% of the "
        + _txt(poor.period_days)
        + " days from start to assessment"
    )
    unknown = a.filter(~a.adherence_known)
    return [
        _cand(low, "low_dose", low.source_table, low.first_row_id, low_text, 0),
        _cand(short, "short_course", short.m_table, short.m_row_id, short_text, 0),
        _cand(poor, "non_adherence", "stg_dispensings", poor.evidence_row_id, poor_text, 0),
        _cand(
            unknown,
            "adherence_unknown",
            None,
            None,
            ibis.literal("no dispensing data for this patient: adherence cannot be measured"),
            0,
        ),
    ]


def blood_loss(f, staged, exposures, cfg) -> list[ibis.Table]:
    c = cfg.causes
    return conditions(f, staged.diagnoses, c.blood_loss_conditions, "blood_loss", 0, c.drug_window_days_before) + drugs(
        f, exposures, c.blood_loss_drug_classes, "blood_loss", 1, c.drug_window_days_before
    )


def malabsorption(f, staged, exposures, cfg) -> list[ibis.Table]:
    c = cfg.causes
    return conditions(f, staged.diagnoses, c.malabsorption_conditions, "malabsorption", 0) + drugs(
        f, exposures, c.malabsorption_drug_classes, "malabsorption", 1, c.drug_window_days_before
    )


def inflammation(f, staged, cfg) -> list[ibis.Table]:
    c = cfg.causes
    crp = labs_near(
        f,
        staged.labs,
        "crp",
        lambda r: is_above(r.value_num, r.comparator, c.crp_inflammation_mg_l),
        c.labs_near_baseline_days,
    )
    return [
        _lab_cand(crp, "inflammation", "CRP", 0),
        *conditions(f, staged.diagnoses, c.inflammation_conditions, "inflammation", 1),
    ]


def _deciding_normal_test(normal: ibis.Table, labs: ibis.Table, cfg) -> ibis.Table:
    """Per episode, the latest test before the start that decided 'not deficient' (a ferritin
    when one was measured, RULES.md: ferritin decides; see `testing`)."""
    tests = qualifying_tests(labs, cfg)
    prior = prior_tests(normal.mutate(agent=ibis.literal("iron")), tests, cfg)
    prior = prior.filter(prior.is_deciding & (prior.result_class == "not_deficient"))
    return first_per_group(prior, "episode_id", [prior.test_at.desc(), prior.row_id])


def wrong_diagnosis(f, staged, cfg) -> list[ibis.Table]:
    c, d = cfg.causes, cfg.deficiency
    labs = staged.labs
    normal = f.filter(f.prior_result_class == "not_deficient")
    mcv = labs_near(
        normal,
        labs,
        "mcv",
        lambda r: is_below(r.value_num, r.comparator, c.low_mcv_fl),
        c.labs_near_baseline_days,
    )
    rbc = labs.filter((labs.analyte == "rbc") & (labs.value_num > 0)).select(
        r_pid="patient_id", r_value="value_num", r_at="taken_at"
    )
    m = mcv.join(rbc, [mcv.patient_id == rbc.r_pid, mcv.taken_at.date() == rbc.r_at.date()])
    m = m.filter(m.value_num / m.r_value < c.mentzer_max)
    m_text = (
        "MCV "
        + _num(m.value_num)
        + " fL, Mentzer index "
        + _num(m.value_num / m.r_value)
        + " on "
        + _day(m.taken_at)
        + ", iron studies not deficient"
    )
    shown = _deciding_normal_test(normal, staged.labs, cfg)
    prior_text = (
        shown.test_name
        + " "
        + _num(shown.value_num)
        + " on "
        + _day(shown.test_at)
        + " did not show iron deficiency before the start"
    )
    b12 = labs_since_baseline(
        f, labs, "b12", lambda r: is_below(r.value_num, r.comparator, d.b12_deficient_pmol_l), cfg
    )
    fol = labs_since_baseline(
        f, labs, "folate", lambda r: is_below(r.value_num, r.comparator, d.folate_deficient_nmol_l), cfg
    )
    return [
        *conditions(f, staged.diagnoses, c.wrong_diagnosis_conditions, "wrong_diagnosis", 0),
        _cand(m, "wrong_diagnosis", "stg_labs", m.row_id, m_text, 1),
        _cand(shown, "wrong_diagnosis", "stg_labs", shown.row_id, prior_text, 2),
        _lab_cand(b12, "wrong_diagnosis", "B12 deficient:", 3),
        _lab_cand(fol, "wrong_diagnosis", "folate deficient:", 3),
    ]


def marrow(f, staged, exposures, cfg) -> list[ibis.Table]:
    c = cfg.causes
    near = c.labs_near_baseline_days
    wbc = labs_near(f, staged.labs, "wbc", lambda r: is_below(r.value_num, r.comparator, c.low_wbc_10e9_l), near)
    plt = labs_near(
        f, staged.labs, "platelets", lambda r: is_below(r.value_num, r.comparator, c.low_platelets_10e9_l), near
    )
    return (
        conditions(f, staged.diagnoses, c.marrow_conditions, "marrow", 0)
        + drugs(f, exposures, c.marrow_drug_classes, "marrow", 1, c.marrow_toxic_lookback_days)
        + [_lab_cand(wbc, "marrow", "low WBC", 2), _lab_cand(plt, "marrow", "low platelets", 2)]
    )


def haemolysis(f, staged, cfg) -> list[ibis.Table]:
    c = cfg.causes
    near, labs = c.labs_near_baseline_days, staged.labs
    ldh = labs_near(f, labs, "ldh", lambda r: is_above(r.value_num, r.comparator, c.high_ldh_u_l), near)
    hapto = labs_near(
        f, labs, "haptoglobin", lambda r: is_below(r.value_num, r.comparator, c.low_haptoglobin_g_l), near
    )
    retic = labs_near(
        f, labs, "reticulocytes_pct", lambda r: is_above(r.value_num, r.comparator, c.high_reticulocytes_pct), near
    )
    bili = labs_near(f, labs, "bilirubin", lambda r: is_above(r.value_num, r.comparator, c.high_bilirubin_umol_l), near)
    return [
        *conditions(f, staged.diagnoses, c.haemolysis_conditions, "haemolysis", 0),
        _lab_cand(_pair(ldh, hapto), "haemolysis", "high LDH with low haptoglobin: LDH", 1),
        _lab_cand(_pair(retic, bili), "haemolysis", "high reticulocytes with raised bilirubin: reticulocytes", 1),
    ]


def irida_suspected(f, others: ibis.Table, adh: ibis.Table, staged, cfg) -> list[ibis.Table]:
    """IRIDA only for failed episodes with no other cause and adequate dose, course and
    adherence (see module docstring)."""
    c = cfg.causes
    g = attach(f.anti_join(others.select("episode_id").distinct(), "episode_id"), adh, "episode_id")
    oral_ok = (
        ~is_below(g.elemental_iron_mg_per_day, ibis.null("string"), c.min_elemental_iron_mg_per_day)
        & g.elemental_iron_mg_per_day.notnull()
        & (g.course_end_known_at.date() >= g.assessed_at.date()).fill_null(False)
        & g.adherence_known.fill_null(False)
        & (g.pdc.round(6) >= c.adherence_pdc_min).fill_null(False)
    )
    g = g.filter((g.route != "oral") | oral_ok).select(*f.columns)
    labs = staged.labs
    tsat = tsat_results(labs).mutate(analyte=ibis.literal("tsat"), unit=ibis.literal("%"))

    def below(key):
        return lambda r: is_below(r.value_num, r.comparator, getattr(c, key))

    def not_below(key):
        return lambda r: ~is_below(r.value_num, r.comparator, getattr(c, key)) & r.value_num.notnull()

    low_tsat = labs_since_baseline(g, tsat, "tsat", below("irida_tsat_max_pct"), cfg)
    mcv = labs_since_baseline(g, labs, "mcv", below("irida_mcv_max_fl"), cfg)
    ferr = labs_since_baseline(g, labs, "ferritin", not_below("irida_ferritin_min_ug_l"), cfg)
    mcv_min = mcv.group_by("episode_id").agg(mcv_fl=mcv.value_num.min())
    ferr_max = ferr.group_by("episode_id").agg(ferritin_ug_l=ferr.value_num.max())
    t = low_tsat.join(mcv_min, "episode_id").join(ferr_max, "episode_id")
    text = (
        "TSAT "
        + _num(t.value_num)
        + "% on "
        + _day(t.taken_at)
        + " with MCV "
        + _num(t.mcv_fl)
        + " fL and ferritin "
        + _num(t.ferritin_ug_l)
        + " ug/L, dose, course and adherence adequate"
    )
    return [
        *conditions(g, staged.diagnoses, c.irida_conditions, "irida_suspected", 0),
        _cand(t, "irida_suspected", "stg_labs", t.row_id, text, 1),
    ]


# --- assembly -------------------------------------------------------------------------


def _one_evidence_per_cause(cands: ibis.Table) -> ibis.Table:
    return first_per_group(cands, ["episode_id", "cause"], ["_rank", "evidence_table", "evidence_row_id"]).drop("_rank")


def assessed_course(f: ibis.Table, members: ibis.Table, cfg) -> ibis.Table:
    """episode_id, course_end_known_at: the last known supply day of the continuous course
    from the start, counting only rows started on or before the assessment (RULES.md: "counting
    only orders started on or before the follow-up Hb"); null when no such row states its end."""
    m = members.join(f.select("episode_id", "assessed_at"), "episode_id")
    m = continuous_course(m.filter(m.start_at <= m.assessed_at), cfg.episodes.gap_days)
    m = m.filter(m.in_course)
    return m.group_by("episode_id").agg(course_end_known_at=m.known_end_at.max())


def failed_episodes(episodes: ibis.Table, outcomes: ibis.Table, members: ibis.Table, cfg) -> ibis.Table:
    """Failed iron episodes with what the cause rules need; `course_end_known_at` is the
    course up to the assessment (`assessed_course`), not the episode's."""
    o = outcomes.filter(outcomes.outcome == "failed").select("episode_id", "assessed_at")
    f = episodes.join(o, "episode_id").select(
        "episode_id",
        "patient_id",
        "route",
        "start_at",
        "start_has_time",
        "assessed_at",
        "first_row_id",
        "elemental_iron_mg_per_day",
        "source_table",
        "prior_result_class",
        "prior_test_row_id",
        "prior_test_at",
        "prior_test_analyte",
    )
    return attach(f, assessed_course(f, members, cfg), "episode_id")


def candidate_causes(f: ibis.Table, adh: ibis.Table, members: ibis.Table, staged: Staged, cfg) -> ibis.Table:
    """Every cause except irida_suspected and unexplained, one row per supporting evidence
    row. `f` is `failed_episodes(...)`, `adh` is `adherence.adherence(f, ...)`, `members` the
    episode rows (`episodes.episode_members`)."""
    exposures = drug_supplies(staged.prescriptions, staged.dispensings, cfg)
    parts = (
        common_causes(f, members, adh, cfg)
        + blood_loss(f, staged, exposures, cfg)
        + malabsorption(f, staged, exposures, cfg)
        + inflammation(f, staged, cfg)
        + wrong_diagnosis(f, staged, cfg)
        + marrow(f, staged, exposures, cfg)
        + haemolysis(f, staged, cfg)
    )
    return union_all([p.select(*CAUSE_COLUMNS) for p in parts])


def failure_causes(f: ibis.Table, candidates: ibis.Table, adh: ibis.Table, staged: Staged, cfg) -> ibis.Table:
    """One row per failed iron episode x cause: episode_id, patient_id, cause,
    evidence_table, evidence_row_id, evidence; adds irida_suspected and unexplained to the
    `candidate_causes` and keeps one evidence row per cause."""
    irida = union_all([p.select(*CAUSE_COLUMNS) for p in irida_suspected(f, candidates, adh, staged, cfg)])
    found = candidates.union(irida)
    unexplained = _cand(
        f.anti_join(found.select("episode_id").distinct(), "episode_id"),
        "unexplained",
        None,
        None,
        ibis.literal("failed, and no cause was found in the data"),
        0,
    )
    allc = _one_evidence_per_cause(found.union(unexplained.select(*CAUSE_COLUMNS)))
    return allc.join(f.select("episode_id", "patient_id"), "episode_id").select(
        "episode_id", "patient_id", "cause", "evidence_table", "evidence_row_id", "evidence"
    )


def primary_causes(causes: ibis.Table, cfg) -> ibis.Table:
    """episode_id, primary_cause: the first cause in `[causes] precedence` (causes not in
    the list come last, alphabetically)."""
    order = list(cfg.causes.precedence)
    rank = ibis.cases(*[(causes.cause == c, i) for i, c in enumerate(order)], else_=len(order))
    r = causes.mutate(_rank=rank)
    return first_per_group(r, "episode_id", ["_rank", "cause"]).select("episode_id", primary_cause="cause")
