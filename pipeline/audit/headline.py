"""The headline: both audit questions answered for one report period.

For the period (default: the whole span of the episode starts) and the previous period of
the same length, per item: numerator, denominator, rate and Wilson interval, released with
the same disclosure rules as the aud_* tables (primary suppression, then rounding), the
change against the previous period, and the audit standard (`[standards]`) met or not.

Items, in the order a reader asks:
1. Treatment before testing, per agent: started without a prior test (never tested or
   tested only after), tested only after the start; B12 and folate co-prescribed "just in
   case".
2. Iron therapy: failed among assessable episodes, not assessable, and each failure cause
   among failed episodes in the clinical order of `rules.causes.CAUSES` (dose, course,
   adherence first; IRIDA last; unexplained).

Counts are episodes by their start date; excluded episodes (continuing or prophylactic
treatment) are left out as in the measures (docs/measures.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import ibis
import numpy as np
import pandas as pd

from pipeline.audit import disclosure
from pipeline.audit.measures import NOT_EXCLUDED, Condition, audit_population, predicate
from pipeline.audit.stats import proportion, wilson_interval
from pipeline.rules.causes import CAUSES

UNTESTED: Condition = ("testing_status", "in", ("never_tested", "tested_after_only"))
AFTER_ONLY: Condition = ("testing_status", "in", ("tested_after_only",))


@dataclass(frozen=True)
class Item:
    id: str
    question: str  # "testing" or "iron"
    denominator_where: tuple[Condition, ...]
    numerator_where: tuple[Condition, ...] = ()
    cause: str | None = None
    standard: str | None = None  # key in [standards]


def _agent(agent: str) -> tuple[Condition, ...]:
    return (("agent", "in", (agent,)), NOT_EXCLUDED)


ASSESSABLE = (*_agent("iron"), ("outcome", "in", ("responded", "failed")))
FAILED = (*_agent("iron"), ("outcome", "in", ("failed",)))

ITEMS: tuple[Item, ...] = (
    *(
        item
        for agent in ("iron", "b12", "folate")
        for item in (
            Item(f"{agent}_untested", "testing", _agent(agent), (UNTESTED,), standard=f"{agent}_untested_max"),
            Item(f"{agent}_tested_after_only", "testing", _agent(agent), (AFTER_ONLY,)),
        )
    ),
    Item("b12_just_in_case", "testing", _agent("b12"), (("is_just_in_case", "is_true", ()),)),
    Item("folate_just_in_case", "testing", _agent("folate"), (("is_just_in_case", "is_true", ()),)),
    Item("iron_failed", "iron", ASSESSABLE, (("outcome", "in", ("failed",)),), standard="iron_failed_max"),
    Item("iron_not_assessable", "iron", _agent("iron"), (("outcome", "in", ("not_assessable",)),)),
    *(Item(f"cause_{c}", "iron", FAILED, cause=c) for c in CAUSES),
)


def report_span(con) -> tuple[date | None, date | None]:
    """First and last episode start date (None, None without episodes)."""
    ep = con.table("episodes")
    row = ep.aggregate(lo=ep.start_at.min(), hi=ep.start_at.max()).to_pandas().iloc[0]
    if pd.isna(row.lo):
        return None, None
    return pd.Timestamp(row.lo).date(), pd.Timestamp(row.hi).date()


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of the same length that ends the day before `start`."""
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1)


def _counts(population: ibis.Table, causes: ibis.Table, start: date, end: date) -> pd.DataFrame:
    day = population.start_at.date()
    p = population.filter((day >= ibis.literal(start)) & (day <= ibis.literal(end)))
    labelled = causes.select("episode_id", "cause").distinct()
    rows = []
    for item in ITEMS:
        den = p.filter(predicate(p, item.denominator_where))
        if item.cause is None:
            den = den.mutate(_hit=predicate(den, item.numerator_where).cast("int64"))
        else:
            hit = labelled.filter(labelled.cause == item.cause).select(_e=labelled.episode_id)
            den = den.left_join(hit, den.episode_id == hit._e)
            den = den.mutate(_hit=den._e.notnull().cast("int64"))
        rows.append(den.aggregate(item=ibis.literal(item.id), denominator=den.count(), numerator=den._hit.sum()))
    out = ibis.union(*rows).to_pandas().set_index("item").loc[[i.id for i in ITEMS]].reset_index()
    for col in ("numerator", "denominator"):  # sum() over no rows is null: none counted
        out[col] = out[col].fillna(0).astype("int64")
    return out


def _release(counts: pd.DataFrame, config) -> pd.DataFrame:
    threshold, rounding = config.disclosure.threshold, config.disclosure.rounding
    t = counts.copy()
    withheld = disclosure.primary_suppression(t.numerator, t.denominator, threshold) | (t.denominator == 0)
    num = disclosure.round_counts(t.numerator, rounding, threshold).astype("float64")
    den = disclosure.round_counts(t.denominator, rounding, threshold).astype("float64")
    t["released_numerator"] = pd.array(np.where(withheld, np.nan, num)).astype("Int64")
    t["released_denominator"] = pd.array(np.where(withheld, np.nan, den)).astype("Int64")
    rel_num, rel_den = t.released_numerator.astype("float64"), t.released_denominator.astype("float64")
    t["rate"] = proportion(rel_num, rel_den)
    t["ci_low"], t["ci_high"] = wilson_interval(rel_num, rel_den, config.report.confidence)
    t["is_suppressed"] = withheld
    return t


def _standard(item: Item, rate: float, config) -> tuple[float | None, str | None, str]:
    if item.standard is None:
        return None, None, ""
    target = getattr(config.standards, item.standard)
    direction = "at most" if item.standard.endswith("_max") else "at least"
    if pd.isna(rate):
        return target, direction, "not assessable"
    met = rate <= target if direction == "at most" else rate >= target
    return (
        target,
        direction,
        ("met" if met else "not met") + f" ({'≤' if direction == 'at most' else '≥'} {target:.0%})",
    )


def headline(con, config, period_from: date | None = None, period_to: date | None = None) -> pd.DataFrame:
    """One row per headline item for the period (and the previous period of the same
    length): released counts, rate, interval, change, standard. Only released values (and
    the suppression flag) are returned: the frame is safe to publish."""
    lo, hi = report_span(con)
    start, end = period_from or lo, period_to or hi
    cols = ["item", "question", "cause", "period_start", "period_end", "released_numerator", "released_denominator",
            "rate", "ci_low", "ci_high", "is_suppressed", "previous_rate", "change", "target", "direction",
            "standard"]  # fmt: skip
    if start is None or end is None:
        return pd.DataFrame(columns=cols)
    population = audit_population(con, config).cache()
    causes = con.table("failure_causes")
    now = _release(_counts(population, causes, start, end), config)
    prev = _release(_counts(population, causes, *previous_period(start, end)), config)
    now["previous_rate"] = prev["rate"].to_numpy()
    now["change"] = now["rate"] - now["previous_rate"]
    by_id = {i.id: i for i in ITEMS}
    now["question"] = [by_id[i].question for i in now.item]
    now["cause"] = [by_id[i].cause for i in now.item]
    standards = [_standard(by_id[i], r, config) for i, r in zip(now.item, now.rate, strict=True)]
    now["target"] = [s[0] for s in standards]
    now["direction"] = [s[1] for s in standards]
    now["standard"] = [s[2] for s in standards]
    now["period_start"], now["period_end"] = pd.Timestamp(start), pd.Timestamp(end)
    return now[cols]
