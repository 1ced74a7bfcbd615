"""Audit: episodes, iron_outcomes, failure_causes (+ stg_patients) -> aud_* and audit_run.

- `measures`: the measures registry (as data) and their counts per period and group (Ibis).
- `stats`: Wilson intervals, p-chart and funnel limits.
- `disclosure`: small-number suppression (primary and secondary) and rounding.
- `tables`: the step: counts in the database, statistics and disclosure on the small
  aggregate in pandas, one aud_<measure> table per measure, written together.
"""
