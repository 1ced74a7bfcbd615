"""Each measure over one whole report period, for all episodes and one breakdown: what a
funnel plot falls back to when the latest quarter releases too few groups (pipeline/report).

For the default report period (the whole span of the data) these are the aud_* rows of
period_type `period`, which the audit step protected together with every other cell
(`tables.protect_across_tables`). For a narrower `--from/--to` they are counted here like
the aud_* tables (`measures.measure_counts` with one period: the report period) and released
with the per-table disclosure control (`tables.measure_table`: primary and secondary
suppression within the breakdown, rounding); such a period overlaps the quarters of the
aud_* tables, and only rounding blurs the differences (docs/measures.md, Limits).
"""

from __future__ import annotations

from datetime import date

import ibis
import pandas as pd

from pipeline.audit.headline import report_span
from pipeline.audit.measures import MEASURES, WHOLE_PERIOD, audit_population, measure_counts
from pipeline.audit.tables import measure_table

PERIOD = WHOLE_PERIOD  # period_type of these rows: the whole report period


def period_groups(con, config, start: date, end: date, by: str) -> dict[str, pd.DataFrame]:
    """Measure id -> its cells for episodes starting from `start` to `end` (inclusive): the
    'all' row and one row per value of `by`, with the aud_* columns (period_type 'period',
    period_start `start`, period_end `end`). Measures split by category are left out."""
    if (start, end) == report_span(con):
        stored = _stored(con, by)
        if stored:
            return stored
    population = audit_population(con, config)
    day = population.start_at.date()
    population = population.filter((day >= ibis.literal(start)) & (day <= ibis.literal(end)))
    population = population.mutate(report_period_start=ibis.literal(start)).cache()
    causes = con.table("failure_causes")
    out = {}
    for m in MEASURES:
        if m.category is not None:
            continue
        counts = measure_counts(population, causes, m, {PERIOD: "report_period_start"}, ("all", by)).to_pandas()
        if counts.empty:
            continue
        table = measure_table(counts, m, config)
        table["period_end"] = end
        out[m.id] = table.reset_index(drop=True)
    return out


def _stored(con, by: str) -> dict[str, pd.DataFrame]:
    """The whole-span cells the audit step wrote and protected (aud_* rows of period_type
    `period`), for 'all' and `by`; empty when the tables predate them (then counted anew)."""
    out = {}
    for m in MEASURES:
        name = f"aud_{m.id}"
        if m.category is not None or name not in con.list_tables():
            continue
        t = con.table(name)
        rows = t.filter((t["period_type"] == PERIOD) & t["group_by"].isin(["all", by])).to_pandas()
        if not rows.empty:
            out[m.id] = rows.sort_values(["group_by", "group_value"], kind="stable").reset_index(drop=True)
    return out
