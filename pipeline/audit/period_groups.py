"""Each measure over one whole report period, for all episodes and one breakdown: what a
funnel plot falls back to when the latest quarter releases too few groups (pipeline/report).

Counted in the database like the aud_* tables (`measures.measure_counts` with one period:
the report period) and released with the same disclosure control (`tables.measure_table`:
primary and secondary suppression within the breakdown, rounding). Like the headline, the
whole period overlaps the quarters of the aud_* tables; rounding blurs the differences
between them (docs/measures.md, disclosure control).
"""

from __future__ import annotations

from datetime import date

import ibis
import pandas as pd

from pipeline.audit.measures import MEASURES, audit_population, measure_counts
from pipeline.audit.tables import measure_table

PERIOD = "period"  # period_type of these rows: the whole report period


def period_groups(con, config, start: date, end: date, by: str) -> dict[str, pd.DataFrame]:
    """Measure id -> its cells for episodes starting from `start` to `end` (inclusive): the
    'all' row and one row per value of `by`, with the aud_* columns (period_type 'period',
    period_start `start`, period_end `end`). Measures split by category are left out."""
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
