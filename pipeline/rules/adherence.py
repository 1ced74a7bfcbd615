"""Did the patient take the oral iron? Proportion of days covered (PDC) by iron dispensings.

RULES.md 'Why iron failed' (not taken): PDC from the episode start to the assessment
(follow-up Hb, or escalation) below `[causes] adherence_pdc_min` (0.8) is non-adherence.
- Period: calendar days from the start date to the assessment date, both inclusive.
- Covered: the union of the supply intervals of the patient's iron dispensings (dispensing
  date + days_supply - 1; `[episodes] default_course_days` when days_supply is missing),
  clipped to the period; overlapping supplies are counted once.
- Unknown (`adherence_unknown`) when stg_dispensings is absent, or the patient has no
  dispensing of any drug at all (pharmacy data do not cover them).
"""

from __future__ import annotations

import ibis

from pipeline.rules.inputs import attach
from pipeline.rules.supplies import dispensing_supplies
from pipeline.rules.timing import days_after


def supply_islands(dispensings: ibis.Table, cfg) -> ibis.Table:
    """Merged, non-overlapping iron supply intervals per patient (dates, inclusive)."""
    dx = dispensing_supplies(dispensings, cfg)
    dx = dx.filter(dx.has_iron.fill_null(False))
    dx = dx.select("patient_id", "row_id", s=dx.d_start.date(), e=dx.d_end.date())
    order = ["s", "row_id"]
    earlier = ibis.window(group_by="patient_id", order_by=order, rows=(None, -1))
    dx = dx.mutate(_new=(dx.e.max().over(earlier).isnull() | (days_after(dx.s, dx.e.max().over(earlier)) > 1)))
    cum = ibis.window(group_by="patient_id", order_by=order, rows=(None, 0))
    dx = dx.mutate(_island=dx._new.cast("int64").sum().over(cum))
    return dx.group_by(["patient_id", "_island"]).agg(
        island_start=dx.s.min(), island_end=dx.e.max(), first_row_id=dx.row_id.min()
    )


def adherence(episodes: ibis.Table, dispensings: ibis.Table | None, cfg) -> ibis.Table:
    """One row per given episode (needs episode_id, patient_id, start_at, assessed_at):
    pdc (null when unknown), period_days, adherence_known, evidence_row_id (first iron
    dispensing covering the period, null when none)."""
    ep = episodes.select("episode_id", "patient_id", "start_at", "assessed_at")
    period = days_after(ep.assessed_at, ep.start_at) + 1
    if dispensings is None:
        return ep.select(
            "episode_id",
            period_days=period,
            pdc=ibis.null("float64"),
            adherence_known=ibis.literal(False),
            evidence_row_id=ibis.null("int64"),
        )
    any_disp = dispensings.select("patient_id").distinct().mutate(_has_any=ibis.literal(True))
    isl = supply_islands(dispensings, cfg)
    j = ep.join(isl, "patient_id")
    lo = ibis.greatest(j.island_start, j.start_at.date())
    hi = ibis.least(j.island_end, j.assessed_at.date())
    covered = j.filter(hi >= lo).select("episode_id", "first_row_id", days=days_after(hi, lo) + 1)
    cov = covered.group_by("episode_id").agg(
        covered_days=covered.days.sum(), evidence_row_id=covered.first_row_id.min()
    )
    out = attach(attach(ep, any_disp, "patient_id"), cov, "episode_id")
    known = out._has_any.fill_null(False)
    days = days_after(out.assessed_at, out.start_at) + 1
    pdc = out.covered_days.fill_null(0).cast("float64") / days.cast("float64")
    return out.select(
        "episode_id",
        "evidence_row_id",
        period_days=days,
        pdc=ibis.ifelse(known, pdc, ibis.null("float64")),
        adherence_known=known,
    )
