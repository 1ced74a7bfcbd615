"""The report's data: the released `aud_*` rows shaped into the frames every output shows.

`collect(con, config, period_from, period_to, by)` returns a `ReportData`: per measure the
released rows, the p-chart and funnel frames, the summary table, the data-quality tables and
the csv/ files. The charts, the HTML tables, the CSV files and the Excel sheets are all made
from these frames, so they show the same numbers, with small numbers already withheld by
`pipeline.audit.disclosure`. Nothing here writes a file (pipeline/report/build.py does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import ibis
import pandas as pd

from pipeline.audit.disclosure import round_counts
from pipeline.audit.headline import headline, report_span
from pipeline.audit.measures import BY_ID, GROUP_BYS, MEASURES, Measure
from pipeline.audit.stats import binomial_limits, p_chart, z_value
from pipeline.errors import UserError
from pipeline.report.charts import funnel_flags, funnel_limit_curves
from pipeline.report.labels import item_label

RELEASE_COLUMNS = (
    "measure_id",
    "category",
    "period_type",
    "period_start",
    "period_end",
    "group_by",
    "group_value",
    "numerator",
    "denominator",
    "rate",
    "ci_low",
    "ci_high",
    "suppressed",
)


RATE_DECIMALS = 4


@dataclass
class MeasureSection:
    """What the report shows of one measure: its released rows, the p-chart frame (monthly,
    all episodes) and, when grouped, the funnel frame (latest quarter, one row per group)."""

    measure: Measure
    release: pd.DataFrame
    spc: pd.DataFrame | None = None
    funnel: pd.DataFrame | None = None
    curves: pd.DataFrame | None = None


@dataclass
class ReportData:
    period_from: date | None
    period_to: date | None
    by: str | None
    latest: pd.Timestamp | None
    latest_end: pd.Timestamp | None
    generated_at: str
    threshold: int
    rounding: int
    funnel_flags: list[str]
    sections: list[MeasureSection]
    summary: pd.DataFrame
    causes: pd.DataFrame
    loads: pd.DataFrame
    reasons: pd.DataFrame
    headline: pd.DataFrame
    facts: dict
    files: dict[str, pd.DataFrame] = field(default_factory=dict)
    internal: bool = False
    unmapped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(UNMAPPED_COLUMNS)))


def check_arguments(con, config, period_from, period_to, by) -> None:
    if by is not None and by not in GROUP_BYS[1:]:
        raise UserError(f"--by must be one of {', '.join(GROUP_BYS[1:])}, got {by!r}")
    if period_from and period_to and period_from > period_to:
        raise UserError(f"--from {period_from} is after --to {period_to}")
    missing = [f"aud_{m.id}" for m in MEASURES if f"aud_{m.id}" not in con.list_tables()]
    if missing:
        raise UserError(f"the warehouse has no {', '.join(missing)}; run `anemia-audit audit` first")


def collect(
    con,
    config,
    period_from: date | None,
    period_to: date | None,
    by: str | None,
    internal: bool = False,
    unmapped: pd.DataFrame | None = None,
) -> ReportData:
    """Every frame the report shows, from the released aud_* columns only; `internal`: the
    exact counts for the team's own governance meeting (local-only/, never released).
    `unmapped`: the most frequent source names no code list maps (`explain.coverage.unmapped`,
    given by the caller: the report does not read raw tables)."""
    threshold, rounding = (0, 0) if internal else _disclosure_used(con, config)
    if internal:
        config = config.with_overrides({"disclosure": {"threshold": 0, "rounding": 0}}, origin=config.origin)
    rep = config.report
    releases = {m.id: read_release(con, m, period_from, period_to, by, internal) for m in MEASURES}
    latest = _latest_quarter(releases)
    flags = funnel_flags(rep.funnel_inner, rep.funnel_outer)
    sections = [_section(m, releases[m.id], latest, by, rep, flags) for m in MEASURES if m.category is None]
    causes = _latest_rows(releases["failure_causes"], latest)
    data = ReportData(
        period_from=period_from,
        period_to=period_to,
        by=by,
        latest=latest,
        latest_end=None if latest is None else latest + pd.offsets.QuarterEnd(0),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        threshold=threshold,
        rounding=rounding,
        funnel_flags=flags,
        sections=sections,
        summary=summary_table(sections, latest),
        causes=causes,
        loads=load_table(con),
        reasons=quarantine_reasons(con, config),
        headline=headline_frame(con, config, period_from, period_to),
        facts=facts(con, config, period_from, period_to),
        internal=internal,
        unmapped=unmapped_names(unmapped, threshold),
    )
    data.files = _files(data, releases)
    return data


def headline_frame(con, config, period_from, period_to) -> pd.DataFrame:
    """The headline items with their plain-words label (released values only)."""
    h = headline(con, config, period_from, period_to)
    h.insert(1, "label", [item_label(i) for i in h.item])
    h = h.rename(columns={"released_numerator": "numerator", "released_denominator": "denominator",
                          "is_suppressed": "suppressed"})  # fmt: skip
    for col in ("rate", "ci_low", "ci_high", "previous_rate", "change"):
        h[col] = h[col].round(RATE_DECIMALS)
    return h


def facts(con, config, period_from, period_to) -> dict:
    """What the figures rest on: the period, patients and episodes in it (rounded like any
    released count), the sources loaded and every config value changed from the defaults."""
    lo, hi = report_span(con)
    start, end = period_from or lo, period_to or hi
    ep = con.table("episodes")
    if start is not None:
        day = ep.start_at.date()
        ep = ep.filter((day >= ibis.literal(start)) & (day <= ibis.literal(end)))
    counts = ep.aggregate(patients=ep.patient_id.nunique(), episodes=ep.count()).to_pandas().iloc[0]
    threshold, rounding = config.disclosure.threshold, config.disclosure.rounding
    released = {k: int(round_counts([int(counts[k])], rounding, threshold)[0]) for k in ("patients", "episodes")}
    sources = []
    if "loaded_files" in con.list_tables():
        lf = con.table("loaded_files")
        sources = sorted(set(lf.select("source").distinct().to_pandas()["source"]))
    return {"period_start": start, "period_end": end, **released, "sources": sources,
            "config_origin": config.origin, "config_changes": config.differences()}  # fmt: skip


def _disclosure_used(con, config) -> tuple[int, int]:
    """The settings the aud_* tables were released with (audit_run), else the config's."""
    if "audit_run" in con.list_tables():
        run = con.table("audit_run").to_pandas()
        if len(run):
            return int(run.threshold.iloc[0]), int(run.rounding.iloc[0])
    return config.disclosure.threshold, config.disclosure.rounding


def read_release(
    con, measure: Measure, period_from: date | None, period_to: date | None, by: str | None, internal: bool = False
) -> pd.DataFrame:
    """The released rows of one measure in the period, for all episodes and the `by`
    breakdown; the true counts never leave the warehouse, except into the internal tier
    (`internal`: exact counts, nothing withheld, written under local-only/ only)."""
    t = con.table(f"aud_{measure.id}")
    t = t.filter(t["group_by"].isin(["all"] + ([by] if by else [])))
    if period_from:
        t = t.filter(t.period_start >= period_from)
    if period_to:
        t = t.filter(t.period_end <= period_to)
    t = t.select(
        *RELEASE_COLUMNS[:7],
        numerator=t.numerator if internal else t.released_numerator,
        denominator=t.denominator if internal else t.released_denominator,
        rate=t.rate if internal else t.released_rate,
        ci_low=t.ci_low if internal else t.released_ci_low,
        ci_high=t.ci_high if internal else t.released_ci_high,
        suppressed=ibis.literal(False) if internal else t.is_suppressed,
    )
    df = t.to_pandas()
    for col in ("period_start", "period_end"):
        df[col] = pd.to_datetime(df[col])
    for col in ("numerator", "denominator"):
        df[col] = df[col].astype("Int64")
    for col in ("rate", "ci_low", "ci_high"):
        df[col] = df[col].astype("float64").round(RATE_DECIMALS)
    order = ["period_type", "group_by", "group_value", "category", "period_start"]
    df["_all"] = df.group_by != "all"
    df = df.sort_values(["_all", *order], kind="stable").drop(columns="_all")
    return df[list(RELEASE_COLUMNS)].reset_index(drop=True)


def _latest_quarter(releases: dict[str, pd.DataFrame]) -> pd.Timestamp | None:
    """The latest quarter in which every measure with episodes in the period has a row
    (so the summary compares like with like); else the latest quarter of any measure."""
    starts = [
        set(r.period_start[(r.period_type == "quarter") & (r.group_by == "all")])
        for mid, r in releases.items()
        if BY_ID[mid].category is None and len(r)
    ]
    starts = [s for s in starts if s]
    if not starts:
        return None
    common = set.intersection(*starts)
    return max(common) if common else max(set.union(*starts))


def _latest_rows(release: pd.DataFrame, latest, group_by: str = "all") -> pd.DataFrame:
    if latest is None:
        return release.iloc[0:0]
    keep = (release.period_type == "quarter") & (release.period_start == latest) & (release.group_by == group_by)
    return release[keep].reset_index(drop=True)


def _section(m: Measure, release: pd.DataFrame, latest, by, rep, flags) -> MeasureSection:
    s = MeasureSection(measure=m, release=release, spc=spc_frame(release, rep))
    if by and latest is not None:
        s.funnel, s.curves = funnel_frame(release, latest, by, rep, flags)
    return s


def trend_grain(release: pd.DataFrame, rep) -> str:
    """The p-chart's time grain: `[report] trend_grain`, or with 'auto' months when at least
    `trend_min_released_share` of the months with episodes are released, else quarters."""
    if rep.trend_grain != "auto":
        return rep.trend_grain
    months = release[(release.period_type == "month") & (release.group_by == "all")]
    if months.empty:
        return "month"
    released = float((~months.suppressed.astype(bool)).mean())
    return "month" if released >= rep.trend_min_released_share else "quarter"


def spc_frame(release: pd.DataFrame, rep) -> pd.DataFrame:
    """p-chart of all episodes on the released counts (withheld periods are gaps), at the
    grain `trend_grain` picks (column period_type)."""
    grain = trend_grain(release, rep)
    months = release[(release.period_type == grain) & (release.group_by == "all")]
    months = months.sort_values("period_start").reset_index(drop=True)
    chart = p_chart(
        months.numerator.astype("float64"),
        months.denominator.astype("float64"),
        rep.spc_sigma,
        rep.spc_run_length,
    )
    out = months[["period_type", "period_start", "period_end", "numerator", "denominator", "suppressed"]].copy()
    for col in ("rate", "centre", "lcl", "ucl"):
        out[col] = chart[col].round(RATE_DECIMALS)
    out["signal"] = chart.signal
    return out


def funnel_frame(release: pd.DataFrame, latest, by: str, rep, flags: list[str]):
    """Latest quarter, one row per group of `by`, with the funnel limits at its
    denominator around the rate of all episodes; None when that rate is withheld."""
    total = _latest_rows(release, latest)
    groups = _latest_rows(release, latest, by)
    if total.empty or pd.isna(total.rate.iloc[0]) or groups.rate.isna().all():
        return None, None
    centre = float(total.numerator.iloc[0]) / float(total.denominator.iloc[0])
    out = groups[
        ["period_start", "period_end", "group_by", "group_value", "numerator", "denominator", "rate", "suppressed"]
    ].copy()
    n = out.denominator.astype("float64")
    out["centre"] = round(centre, RATE_DECIMALS)
    for name, conf in (("inner", rep.funnel_inner), ("outer", rep.funnel_outer)):
        low, high = binomial_limits(centre, n, z_value(conf))
        out[f"{name}_low"], out[f"{name}_high"] = low.round(RATE_DECIMALS), high.round(RATE_DECIMALS)
    outside_outer = (out.rate < out.outer_low) | (out.rate > out.outer_high)
    outside_inner = (out.rate < out.inner_low) | (out.rate > out.inner_high)
    out["flag"] = [
        flags[2] if o else flags[1] if i else flags[0] if pd.notna(r) else "withheld"
        for o, i, r in zip(outside_outer, outside_inner, out.rate, strict=False)
    ]
    curves = funnel_limit_curves(centre, float(n.min()), float(n.max()), rep.funnel_inner, rep.funnel_outer)
    return out.reset_index(drop=True), curves


def summary_table(sections: list[MeasureSection], latest) -> pd.DataFrame:
    """One row per measure: the latest quarter, all episodes, and how many months of the
    p-chart show a special cause."""
    rows = []
    for s in sections:
        row = _latest_rows(s.release, latest)
        base = {
            "measure_id": s.measure.id,
            "title": s.measure.title,
            "period_start": latest,
            "period_end": None if latest is None else latest + pd.offsets.QuarterEnd(0),
        }
        values = row.iloc[0].to_dict() if len(row) else {"suppressed": False}
        signals = int((s.spc.signal != "").sum()) if s.spc is not None else 0
        rows.append(
            {
                **base,
                **{c: values.get(c) for c in ("numerator", "denominator", "rate", "ci_low", "ci_high", "suppressed")},
                "spc_special_cause_months": signals,
            }
        )
    out = pd.DataFrame(rows)
    for col in ("numerator", "denominator"):
        out[col] = out[col].astype("Int64")
    for col in ("rate", "ci_low", "ci_high"):
        out[col] = out[col].astype("float64")
    return out


def load_table(con) -> pd.DataFrame:
    """Loaded (raw), staged and quarantined rows per table and file, from load_log."""
    cols = ["table_name", "source_file", "raw_rows", "staged_rows", "quarantined_rows", "loaded_at"]
    if "load_log" not in con.list_tables():
        return pd.DataFrame(columns=cols)
    t = con.table("load_log")
    df = t.select(*[c for c in cols if c in t.columns]).order_by(["table_name", "source_file"]).to_pandas()
    for col in ("raw_rows", "staged_rows", "quarantined_rows"):
        df[col] = df[col].astype("Int64")
    return df


def quarantine_reasons(con, config) -> pd.DataFrame:
    """The most frequent quarantine checks: table, check, rows failing it, and what the
    check asks (the per-row reason text is not shown: it quotes source values)."""
    cols = ["table_name", "check_id", "rows", "description"]
    if "quarantine" not in con.list_tables():
        return pd.DataFrame(columns=cols)
    q = con.table("quarantine")
    agg = q.group_by("table_name", "check_id").aggregate(rows=q.row_id.nunique())
    agg = agg.order_by([agg.rows.desc(), "table_name", "check_id"]).limit(config.report.top_quarantine_reasons)
    if "checks" in con.list_tables():  # written by validate: the checks as data
        checks = con.table("checks").select("table_name", "check_id", "description")
        agg = agg.left_join(checks, ["table_name", "check_id"]).select(*agg.columns, "description")
    else:
        agg = agg.mutate(description=ibis.literal(""))
    df = agg.order_by([agg.rows.desc(), "table_name", "check_id"]).to_pandas()
    df["description"] = df["description"].fillna("")
    df["rows"] = df["rows"].astype("Int64")
    return df[cols]


UNMAPPED_COLUMNS = ("domain", "source_code", "source_name", "rows")


def unmapped_names(unmapped: pd.DataFrame | None, threshold: int) -> pd.DataFrame:
    """Source names no code list maps, most frequent first, with their row counts. A name is
    source text, so in the released tier a name seen in no more than `threshold` rows (the
    disclosure threshold) is left out; the internal tier (threshold 0) lists every one."""
    if unmapped is None or unmapped.empty:
        return pd.DataFrame({c: pd.Series(dtype="Int64" if c == "rows" else "object") for c in UNMAPPED_COLUMNS})
    df = unmapped.rename(columns={"n_rows": "rows"})[list(UNMAPPED_COLUMNS)]
    df = df[df["rows"] > threshold].reset_index(drop=True)
    df["rows"] = df["rows"].astype("Int64")
    return df


def _files(data: ReportData, releases: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """csv/ file name -> frame; the same frames fill the Excel sheets and HTML tables."""
    files = {"headline.csv": data.headline, "summary.csv": data.summary}
    for m in MEASURES:
        files[f"{m.id}.csv"] = releases[m.id]
    for s in data.sections:
        files[f"{s.measure.id}_spc.csv"] = s.spc
        if s.funnel is not None:
            files[f"{s.measure.id}_funnel.csv"] = s.funnel
    files["data_quality_loads.csv"] = data.loads
    files["data_quality_quarantine.csv"] = data.reasons
    files["data_quality_unmapped.csv"] = data.unmapped
    return files


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as ISO text and booleans as true/false, as in the CSV files and HTML tables."""
    f = frame.copy()
    for col in f.columns:
        if pd.api.types.is_datetime64_any_dtype(f[col]):
            f[col] = f[col].dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_bool_dtype(f[col]) or col == "suppressed":
            f[col] = f[col].map({True: "true", False: "false"})
    return f
