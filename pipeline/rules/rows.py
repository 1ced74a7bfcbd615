"""Row-level building blocks the rules share: the first row of each group, and the union of
several tables of the same shape.

"First" is always by an explicit, total order (a tie is broken by `row_id` or another key the
caller names), so the same input gives the same row on every engine and in every run.

    >>> import ibis
    >>> t = ibis.memtable({"g": ["a", "a", "b"], "v": [2, 1, 5], "row_id": [1, 2, 3]})
    >>> first_per_group(t, "g", ["v", "row_id"]).order_by("g").to_pandas().v.tolist()
    [1, 5]
"""

from __future__ import annotations

import ibis


def first_per_group(t: ibis.Table, group_by, order_by) -> ibis.Table:
    """One row per `group_by` key: the first by `order_by` (same columns as `t`)."""
    w = ibis.window(group_by=group_by, order_by=order_by)
    return t.mutate(_rn=ibis.row_number().over(w)).filter(lambda x: x._rn == 0).drop("_rn")


def union_all(parts: list[ibis.Table]) -> ibis.Table:
    """All rows of `parts` (same columns, in the order of the first part), duplicates kept."""
    out = parts[0]
    for p in parts[1:]:
        out = out.union(p.select(parts[0].columns))
    return out
