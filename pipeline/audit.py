"""Compute the audit measures into `aud_<measure_id>` tables.

Grain of every `aud_*` table: one row per measure x category x period type (month,
quarter) x period start x breakdown (all, site, specialty, sex, age band) x group value.
The counting runs in the database (Ibis, `pipeline.measures`); the Wilson intervals and the
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

from datetime import datetime, timezone

import ibis
import pandas as pd

from pipeline import disclosure
from pipeline.errors import UserError
from pipeline.measures import MEASURES, Measure, audit_population, measure_counts
from pipeline.stats import proportion, wilson_interval

REQUIRED = ("episodes", "iron_outcomes", "failure_causes")
KEY_COLUMNS = ("measure_id", "category", "period_type", "period_start", "period_end", "group_by", "group_value")
RELEASED_COLUMNS = ("is_suppressed", "released_numerator", "released_denominator", "released_rate",
                    "released_ci_low", "released_ci_high")


def check_report_config(config) -> None:
    """Refuse `[report]` values the statistics cannot use (one UserError naming the key)."""
    rep = config["report"]
    for key in ("confidence", "funnel_inner", "funnel_outer"):
        if not 0 < rep[key] < 1:
            raise UserError(f"{config.origin}: report.{key} must be between 0 and 1, got {rep[key]!r}")
    for key in ("spc_sigma", "spc_run_length", "age_band_years", "age_band_top"):
        if rep[key] <= 0:
            raise UserError(f"{config.origin}: report.{key} must be above 0, got {rep[key]!r}")


def measure_table(counts: pd.DataFrame, measure: Measure, config) -> pd.DataFrame:
    """Add rates, Wilson intervals and disclosure control to one measure's counts."""
    threshold, rounding = disclosure.settings(config)
    confidence = config["report"]["confidence"]
    t = counts.assign(measure_id=measure.id)
    t["period_start"] = pd.to_datetime(t.period_start).dt.date
    t = t.sort_values(["category", "period_type", "period_start", "group_by", "group_value"], kind="stable")
    t["period_end"] = period_end(t.period_start, t.period_type)
    t["rate"] = proportion(t.numerator, t.denominator)
    t["ci_low"], t["ci_high"] = wilson_interval(t.numerator, t.denominator, confidence)
    t = disclosure.apply(t, threshold, rounding)
    t["released_rate"] = proportion(t.released_numerator.astype("float64"), t.released_denominator.astype("float64"))
    t["released_ci_low"], t["released_ci_high"] = wilson_interval(
        t.released_numerator.astype("float64"), t.released_denominator.astype("float64"), confidence)
    return t[[*KEY_COLUMNS, "numerator", "denominator", "rate", "ci_low", "ci_high", "suppression",
              *RELEASED_COLUMNS]]


def period_end(start: pd.Series, period_type: pd.Series) -> pd.Series:
    """Last day of each month or quarter."""
    ts = pd.to_datetime(start)
    month = ts.dt.to_period("M").dt.end_time.dt.date
    quarter = ts.dt.to_period("Q").dt.end_time.dt.date
    return month.where(period_type == "month", quarter)


def run_audit(con, config) -> dict[str, int]:
    """Build every registered measure into `aud_<measure_id>` (replacing earlier versions)
    and return the row count of each. Needs the classification tables (`anemia-audit
    classify`); stg_patients is optional (sex and age band are then 'unknown')."""
    missing = [t for t in REQUIRED if t not in con.list_tables()]
    if missing:
        raise UserError(f"the warehouse has no {', '.join(missing)}; run `anemia-audit classify` first")
    check_report_config(config)
    disclosure.settings(config)
    population = audit_population(con, config).cache()
    causes = con.table("failure_causes")
    tables = {m.id: measure_table(measure_counts(population, causes, m).to_pandas(), m, config) for m in MEASURES}
    _write(con, tables, config)
    return {f"aud_{k}": len(v) for k, v in tables.items()}


def _write(con, tables: dict[str, pd.DataFrame], config) -> None:
    threshold, rounding = disclosure.settings(config)
    run = pd.DataFrame([{"run_at": datetime.now(timezone.utc).replace(tzinfo=None), "config_hash": config.hash(),
                         "config_origin": config.origin, "threshold": threshold, "rounding": rounding,
                         "confidence": float(config["report"]["confidence"]), "measures": ",".join(tables)}])
    frames = {**{f"aud_{k}": v for k, v in tables.items()}, "audit_run": run}
    db = con.con if con.name == "duckdb" else None
    if db is not None:
        db.execute("BEGIN TRANSACTION")
    try:
        for name, frame in frames.items():
            con.create_table(name, ibis.memtable(frame, schema=_schema(frame)), overwrite=True)
    except BaseException:
        if db is not None:
            db.execute("ROLLBACK")
        raise
    if db is not None:
        db.execute("COMMIT")


def _schema(frame: pd.DataFrame) -> dict[str, str] | None:
    if "period_start" not in frame:
        return None
    types = {"period_start": "date", "period_end": "date", "numerator": "int64", "denominator": "int64",
             "released_numerator": "int64", "released_denominator": "int64", "is_suppressed": "boolean"}
    return {c: types.get(c, "float64" if c in ("rate", "ci_low", "ci_high") or c.startswith("released_")
                         else "string") for c in frame.columns}
