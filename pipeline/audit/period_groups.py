"""Each measure over the whole report period, for all episodes and one breakdown: what a
funnel plot falls back to when the latest quarter releases too few groups (pipeline/report).

These are the aud_* rows of period_type `period` (the whole span of the data), which the
audit step protected together with every other cell (`tables.protect_across_tables`), so the
fallback opens no difference with any other released cell. A report for a narrower
`--from/--to` has no such fallback: cells counted for that period alone would be protected
only within their own table, and their differences with the monthly cells could give a
withheld count away (issue 12, item 10). Its funnel plots are of the latest quarter only.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from pipeline.audit.headline import report_span
from pipeline.audit.measures import MEASURES, WHOLE_PERIOD

PERIOD = WHOLE_PERIOD  # period_type of these rows: the whole span of the data


def period_groups(con, start: date, end: date, by: str) -> dict[str, pd.DataFrame]:
    """Measure id -> its whole-span cells (the 'all' row and one row per value of `by`) when
    `start` to `end` is the whole span of the data; empty for any other period, and for a
    warehouse audited before these rows existed (run `audit` again)."""
    if (start, end) != report_span(con):
        return {}
    return _stored(con, by)


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
