"""Compute the audit measures into `aud_<measure_id>` tables.

Grain of every `aud_*` table: one row per measure x category x period type (month,
quarter, year, and `period`: the whole span of the data) x period start x breakdown (all,
site, specialty, sex, age band) x group value.
The whole-span cells are protected together with the rest, so a report of the default
period releases its funnel plots from them (`period_groups`) without opening a difference.
The counting runs in the database (Ibis, `pipeline.audit.measures`); the Wilson intervals and the
disclosure control run on the small aggregated result in pandas. Columns:

- measure_id, category ('all', or the failure cause), period_type, period_start (DATE),
  period_end (DATE, last day), group_by, group_value ('unknown' when the episode lacks it)
- numerator, denominator, rate, ci_low, ci_high: the true counts, for local use only
- is_suppressed, suppression ('primary' / 'secondary' / null)
- released_numerator, released_denominator (rounded; null when withheld) and
  released_rate, released_ci_low, released_ci_high computed from the released counts
  (so a rate never gives back a count that rounding blurred): the only columns a report
  may show.

`audit_run` (one row) records when and with which config the tables were built.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime

import ibis
import numpy as np
import pandas as pd

from pipeline.audit import differencing, disclosure, headline
from pipeline.audit.measures import MEASURES, PERIOD_TYPES, WHOLE_PERIOD, Measure, audit_population, counts_by_measure
from pipeline.audit.stats import proportion, wilson_interval
from pipeline.engine import cached, transaction
from pipeline.engine.registry import CLASSIFIED as OUTPUT_TABLES
from pipeline.engine.registry import spec
from pipeline.engine.tables import write_frame
from pipeline.errors import UserError
from pipeline.progress import Planned, Progress, item, quiet


def measure_table(counts: pd.DataFrame, measure: Measure, config, last_day: date | None = None) -> pd.DataFrame:
    """Add rates, Wilson intervals and the per-table disclosure control to one measure's
    counts (`protect_across_tables` then withholds more where tables combine). `last_day`:
    the period_end of the whole-period (`period`) rows."""
    threshold, rounding = (config.disclosure.threshold, config.disclosure.rounding)
    t = counts.assign(measure_id=measure.id)
    t["period_start"] = pd.to_datetime(t.period_start).dt.date
    t = t.sort_values(["category", "period_type", "period_start", "group_by", "group_value"], kind="stable")
    t["period_end"] = period_end(t.period_start, t.period_type)
    if last_day is not None:
        t.loc[t.period_type == WHOLE_PERIOD, "period_end"] = last_day
    t["rate"] = proportion(t.numerator, t.denominator)
    t["ci_low"], t["ci_high"] = wilson_interval(t.numerator, t.denominator, config.report.confidence)
    return released(disclosure.apply(t, threshold, rounding), config)


def released(t: pd.DataFrame, config) -> pd.DataFrame:
    """The released rate and interval from the released (rounded) counts; the aud_* columns."""
    confidence = config.report.confidence
    t["released_rate"] = proportion(t.released_numerator.astype("float64"), t.released_denominator.astype("float64"))
    t["released_ci_low"], t["released_ci_high"] = wilson_interval(
        t.released_numerator.astype("float64"), t.released_denominator.astype("float64"), confidence
    )
    return t[list(spec("aud_*").names)]


def period_end(start: pd.Series, period_type: pd.Series) -> pd.Series:
    """Last day of each month, quarter or year."""
    ts = pd.to_datetime(start)
    month = ts.dt.to_period("M").dt.end_time.dt.date
    quarter = ts.dt.to_period("Q").dt.end_time.dt.date
    year = ts.dt.to_period("Y").dt.end_time.dt.date
    return month.where(period_type == "month", quarter.where(period_type == "quarter", year))


def run_audit(con, config, progress: Progress = quiet) -> dict[str, int]:
    """Build every registered measure into `aud_<measure_id>` (replacing earlier versions)
    and return the row count of each. Needs the classification tables (`anemia-audit
    classify`); stg_patients is optional (sex and age band are then 'unknown'). `progress`
    hears one item per measure (pipeline/progress.py)."""
    missing = [t for t in OUTPUT_TABLES if t not in con.list_tables()]
    if missing:
        raise UserError(f"the warehouse has no {', '.join(missing)}; run `anemia-audit classify` first")
    progress(Planned("audit", len(MEASURES) + 4, "parts"))
    with contextlib.ExitStack() as kept:
        with item(progress, "audit", "audit population") as done:  # its time is the cache's
            population = kept.enter_context(cached(audit_population(con, config)))
            done.rows = int(population.count().execute())
        tables = _measure_tables(con, population, config, progress)
    return {f"aud_{k}": len(v) for k, v in tables.items()}


def _measure_tables(con, population, config, progress: Progress) -> dict[str, pd.DataFrame]:
    """Every measure's table from the (cached) audit population, protected across tables and
    written to the warehouse."""
    causes = con.table("failure_causes")
    span = headline.report_span(con)
    if span[0] is not None:
        population = population.mutate(_span_start=ibis.literal(span[0]))
    periods = PERIOD_TYPES if span[0] is None else {**PERIOD_TYPES, WHOLE_PERIOD: "_span_start"}
    with item(progress, "audit", "count every measure") as done:
        counts = counts_by_measure(population, causes, MEASURES, periods)
        done.rows = sum(len(c) for c in counts.values())
    tables = {}
    for m in MEASURES:
        with item(progress, "audit", m.id) as done:
            tables[m.id] = measure_table(counts[m.id], m, config, span[1])
            done.rows = len(tables[m.id])
    with item(progress, "audit", "disclosure across tables") as done:
        before = sum(int(t.is_suppressed.sum()) for t in tables.values())
        tables = protect_across_tables(tables, population, causes, span, config)
        done.rows = sum(int(t.is_suppressed.sum()) for t in tables.values()) - before
        done.detail = "cells withheld besides the per-table rules"
    with item(progress, "audit", "write aud_* tables") as done:
        _write(con, tables, config)
        done.rows = sum(len(t) for t in tables.values())
    return tables


def protect_across_tables(tables: dict[str, pd.DataFrame], population, causes, span, config) -> dict:
    """Withhold more cells until no withheld cell can be worked out from all released cells
    together: every aud_* table and the headline items of the whole span (differencing.py)."""
    threshold = config.disclosure.threshold
    if threshold <= 0 or not tables or span[0] is None:
        return tables
    names = list(tables)
    aud = pd.concat([tables[n] for n in names], ignore_index=True)
    grand = headline.grand_cells(population, causes, span)
    cells, eqs, _ = headline.joint_system(aud, [(grand, *span)], span)
    grand_primary = disclosure.primary_suppression(grand.numerator, grand.denominator, threshold)
    primary = np.concatenate([aud.suppression.eq("primary").to_numpy(), grand_primary])
    withheld = np.concatenate([aud.is_suppressed.to_numpy(dtype=bool), grand_primary | (grand.denominator == 0)])
    present = np.arange(len(cells)) < len(aud)  # an aud_* row has a denominator of at least 1
    out = differencing.protect(cells.numerator, cells.denominator, withheld, primary, eqs, threshold, None, present,
                               config.disclosure.rounding)  # fmt: skip
    more = out[: len(aud)] & ~aud.is_suppressed.to_numpy(dtype=bool)
    if not more.any():
        return tables
    aud.loc[more, "is_suppressed"] = True
    aud.loc[more, "suppression"] = "secondary"
    for col in ("released_numerator", "released_denominator"):
        aud[col] = aud[col].mask(more)
    aud = released(aud, config)
    sizes = np.cumsum([0, *(len(tables[n]) for n in names)])
    return {n: aud.iloc[sizes[i] : sizes[i + 1]].reset_index(drop=True) for i, n in enumerate(names)}


def _write(con, tables: dict[str, pd.DataFrame], config) -> None:
    threshold, rounding = (config.disclosure.threshold, config.disclosure.rounding)
    run = pd.DataFrame(
        [
            {
                "run_at": datetime.now(UTC).replace(tzinfo=None),
                "config_hash": config.hash(),
                "config_origin": config.origin,
                "threshold": threshold,
                "rounding": rounding,
                "confidence": float(config.report.confidence),
                "measures": ",".join(tables),
            }
        ]
    )
    with transaction(con):
        for name, frame in tables.items():
            write_frame(con, f"aud_{name}", frame)
        write_frame(con, "audit_run", run)
