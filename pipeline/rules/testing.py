"""Was the deficiency test taken before the treatment started, and what did it show?

Qualifying tests per agent (RULES.md 'Which tests must come before which treatment'; the
lists are `[testing] iron_tests / b12_tests / folate_tests`, each an analyte name from
data/codelists/lab_analytes.csv or the pair `iron_with_tibc_or_transferrin`: a serum iron
with a TIBC or transferrin taken on the same calendar day).

Windows (`[testing] lookback_days`, `after_days`, both in calendar days, inclusive) and the
tie rule of `pipeline.rules.timing`: when either side has only a date, a test on the start
day counts as before; when both have times, the test must be at or before the start.
- tested_before: a qualifying test in the look-back window;
- tested_after_only: none before, but one in the `after_days` after the start;
- never_tested: neither.

Result of the tests before the start (`prior_result_class`), from `[deficiency]`:
- ferritin < ferritin_deficient_ug_l (30): deficient; ferritin < ferritin_inflamed_deficient_ug_l
  (100) with a CRP > crp_inflamed_mg_l (5) within crp_window_days of the ferritin: deficient
  (NICE CKS; BSG 2021); otherwise not_deficient;
- transferrin saturation < tsat_deficient_pct (20): deficient (BSG 2021: supports), else
  not_deficient. With serum iron and TIBC on the same day, TSAT is computed as
  iron / TIBC x 100 and classified the same way; iron with transferrin only is indeterminate
  (no conversion factor is configured);
- B12 < b12_deficient_pmol_l (148): deficient; up to b12_indeterminate_pmol_l (221,
  inclusive): indeterminate; above: not_deficient (BSH 2014);
- folate < folate_deficient_nmol_l (7): deficient, else not_deficient (BSH 2014);
- any other qualifying test (holotranscobalamin, methylmalonic acid, red-cell folate):
  indeterminate (no cut-off in RULES.md);
- a qualifying test without a usable value (reported only as text, e.g. "UNABLE TO REPORT";
  staged with value_num null, see pipeline/staging/labs.py): unknown. It still counts as a
  test taken (RULES.md: a test counts as taken when its sample was taken, whatever its value).
Ferritin decides iron status (RULES.md 'Deficiency cut-offs'): when a ferritin with a value
was taken in the look-back, only the ferritin results set the class of an iron episode, so a
TSAT < 20 % beside a ferritin of 100 ug/L or more is not deficient (the pattern of anaemia
of inflammation); with inflammation a TSAT < 20 % only supports the ferritin < 100 reading,
which is already deficient. TSAT (measured or computed from iron / TIBC) decides alone only
when no ferritin with a value was taken; a ferritin without a usable value gives no
information, so TSAT then decides.
Several deciding tests in the look-back: deficient if any shows deficiency, else indeterminate
if any is indeterminate, else not_deficient if any is not deficient, else unknown (only tests
without a value). No test before the start: unknown.
A reported comparator counts (`<25` ferritin is below 30), see `lab_values`.
"""

from __future__ import annotations

import ibis

from pipeline.rules.inputs import attach
from pipeline.rules.lab_values import is_above, is_below
from pipeline.rules.rows import first_per_group, union_all
from pipeline.rules.timing import days_after, in_window_after, in_window_before

IRON_PAIR = "iron_with_tibc_or_transferrin"
TEST_COLUMNS = ("patient_id", "agent", "test_name", "row_id", "test_at", "test_has_time", "value_num", "result_class")


def _classify_single(t: ibis.Table, analyte: str, cfg, inflamed: ibis.Value) -> ibis.Value:
    d = cfg.deficiency
    v, c = t.value_num, t.comparator
    if analyte == "ferritin":
        deficient = is_below(v, c, d.ferritin_deficient_ug_l) | (
            is_below(v, c, d.ferritin_inflamed_deficient_ug_l) & inflamed
        )
    elif analyte == "tsat":
        deficient = is_below(v, c, d.tsat_deficient_pct)
    elif analyte == "folate":
        deficient = is_below(v, c, d.folate_deficient_nmol_l)
    elif analyte == "b12":
        indeterminate = ~is_above(v, c, d.b12_indeterminate_pmol_l)
        return ibis.cases(
            (v.isnull(), "unknown"),
            (is_below(v, c, d.b12_deficient_pmol_l), "deficient"),
            (indeterminate, "indeterminate"),
            else_="not_deficient",
        )
    else:
        return ibis.ifelse(v.isnull(), "unknown", "indeterminate")
    return ibis.cases((v.isnull(), "unknown"), (deficient, "deficient"), else_="not_deficient")


def inflamed_ferritin_rows(labs: ibis.Table, cfg) -> ibis.Table:
    """row_id of ferritin results with a raised CRP within `crp_window_days` either side."""
    d = cfg.deficiency
    ferr = labs.filter(labs.analyte == "ferritin").select("row_id", "patient_id", f_at="taken_at")
    crp = labs.filter((labs.analyte == "crp") & is_above(labs.value_num, labs.comparator, d.crp_inflamed_mg_l))
    crp = crp.select("patient_id", c_at="taken_at")
    j = ferr.join(crp, "patient_id")
    near = days_after(j.c_at, j.f_at).abs() <= d.crp_window_days
    return j.filter(near).select("row_id").distinct().mutate(is_inflamed=ibis.literal(True))


def _single_tests(labs: ibis.Table, agent: str, analyte: str, cfg) -> ibis.Table:
    rows = labs.filter(labs.analyte == analyte)
    if analyte == "ferritin":
        rows = attach(rows, inflamed_ferritin_rows(labs, cfg), "row_id")
        inflamed = rows.is_inflamed.fill_null(False)
    else:
        inflamed = ibis.literal(False)
    return rows.select(
        "patient_id",
        "row_id",
        "value_num",
        agent=ibis.literal(agent),
        test_name=ibis.literal(analyte),
        test_at=rows.taken_at,
        test_has_time=rows.taken_at_has_time,
        result_class=_classify_single(rows, analyte, cfg, inflamed),
    )


def _iron_pair_tests(labs: ibis.Table, agent: str, cfg) -> ibis.Table:
    """Serum iron with TIBC or transferrin on the same calendar day; TSAT computed from
    iron / TIBC when both are plain numbers."""
    iron = labs.filter(labs.analyte == "iron")
    partner = labs.filter(labs.analyte.isin(["tibc", "transferrin"])).select(
        p_patient_id="patient_id", p_analyte="analyte", p_value="value_num", p_comp="comparator", p_at="taken_at"
    )
    j = iron.join(partner, [iron.patient_id == partner.p_patient_id, iron.taken_at.date() == partner.p_at.date()])
    # one partner per iron result: a TIBC (which gives a TSAT) before a transferrin
    j = first_per_group(j, "row_id", [(j.p_analyte == "tibc").desc(), j.p_value])
    plain = j.comparator.isnull() & j.p_comp.isnull() & (j.p_analyte == "tibc") & (j.p_value > 0)
    tsat = ibis.ifelse(plain, j.value_num / j.p_value * 100, ibis.null("float64"))
    cls = ibis.cases(
        (j.value_num.isnull() | j.p_value.isnull(), "unknown"),
        (tsat.isnull(), "indeterminate"),
        (tsat < cfg.deficiency.tsat_deficient_pct, "deficient"),
        else_="not_deficient",
    )
    return j.select(
        "row_id",
        "patient_id",
        agent=ibis.literal(agent),
        test_name=ibis.literal(IRON_PAIR),
        test_at=j.taken_at,
        test_has_time=j.taken_at_has_time,
        value_num=tsat,
        result_class=cls,
    )


def tsat_results(labs: ibis.Table) -> ibis.Table:
    """Measured transferrin saturation results, plus TSAT computed from a serum iron and a
    TIBC on the same calendar day (iron / TIBC x 100; evidence row = the iron result)."""
    measured = labs.filter(labs.analyte == "tsat").select("patient_id", "row_id", "taken_at", "value_num", "comparator")
    iron = labs.filter(labs.analyte == "iron")
    tibc = labs.filter((labs.analyte == "tibc") & (labs.value_num > 0) & labs.comparator.isnull()).select(
        t_patient_id="patient_id", t_value="value_num", t_at="taken_at"
    )
    j = iron.join(tibc, [iron.patient_id == tibc.t_patient_id, iron.taken_at.date() == tibc.t_at.date()])
    j = j.filter(j.comparator.isnull())
    derived = j.select(
        "patient_id", "row_id", "taken_at", value_num=j.value_num / j.t_value * 100, comparator=ibis.null("string")
    )
    return measured.union(derived)


def qualifying_tests(labs: ibis.Table, cfg) -> ibis.Table:
    """Every lab result that qualifies as a deficiency test for an agent, with its class."""
    parts = []
    for agent in ("iron", "b12", "folate"):
        for name in getattr(cfg.testing, f"{agent}_tests"):
            part = _iron_pair_tests(labs, agent, cfg) if name == IRON_PAIR else _single_tests(labs, agent, name, cfg)
            parts.append(part.select(*TEST_COLUMNS))
    return union_all(parts)


def _latest(t: ibis.Table, descending: bool) -> ibis.Table:
    return first_per_group(t, "episode_id", [t.test_at.desc() if descending else t.test_at.asc(), t.row_id])


def prior_tests(episodes: ibis.Table, tests: ibis.Table, cfg) -> ibis.Table:
    """Qualifying tests in each episode's look-back window (tie rule of `timing`), with
    `is_deciding`: whether the test sets the episode's result class (ferritin decides over
    TSAT when a ferritin with a value was taken; see the module docstring)."""
    ep = episodes.select("episode_id", "patient_id", "agent", "start_at", "start_has_time")
    j = ep.join(tests, ["patient_id", "agent"])
    t = cfg.testing
    prior = j.filter(in_window_before(j.test_at, j.test_has_time, j.start_at, j.start_has_time, t.lookback_days))
    is_ferritin = prior.test_name == "ferritin"
    has_ferritin = (is_ferritin & prior.value_num.notnull()).any().over(ibis.window(group_by="episode_id"))
    return prior.mutate(is_deciding=is_ferritin | ~has_ferritin)


def testing_status(episodes: ibis.Table, tests: ibis.Table, cfg) -> ibis.Table:
    """One row per episode: testing_status, the latest prior test (at, analyte, row_id),
    prior_result_class, and the first test after the start (at, row_id)."""
    t = cfg.testing
    ep = episodes.select("episode_id", "patient_id", "agent", "start_at", "start_has_time")
    j = ep.join(tests, ["patient_id", "agent"])
    after = in_window_after(j.test_at, j.test_has_time, j.start_at, j.start_has_time, t.after_days)
    prior = prior_tests(episodes, tests, cfg)
    latest = _latest(prior, descending=True).select(
        "episode_id", prior_test_at="test_at", prior_test_analyte="test_name", prior_test_row_id="row_id"
    )
    deciding = prior.filter(prior.is_deciding)
    cls = deciding.group_by("episode_id").agg(
        _any_def=(deciding.result_class == "deficient").any(),
        _any_ind=(deciding.result_class == "indeterminate").any(),
        _any_normal=(deciding.result_class == "not_deficient").any(),
    )
    first_after = _latest(j.filter(after), descending=False).select(
        "episode_id", after_test_at="test_at", after_test_row_id="row_id"
    )
    out = attach(
        attach(attach(episodes.select("episode_id"), latest, "episode_id"), cls, "episode_id"),
        first_after,
        "episode_id",
    )
    return out.select(
        "episode_id",
        "prior_test_at",
        "prior_test_analyte",
        "prior_test_row_id",
        "after_test_at",
        "after_test_row_id",
        testing_status=ibis.cases(
            (out.prior_test_at.notnull(), "tested_before"),
            (out.after_test_at.notnull(), "tested_after_only"),
            else_="never_tested",
        ),
        prior_result_class=ibis.cases(
            (out.prior_test_at.isnull(), "unknown"),
            (out._any_def, "deficient"),
            (out._any_ind, "indeterminate"),
            (out._any_normal, "not_deficient"),
            else_="unknown",
        ),
    )
