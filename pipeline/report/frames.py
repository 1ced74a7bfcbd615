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
from pipeline.audit.headline import headline, period_counts, report_span
from pipeline.audit.measures import BY_ID, GROUP_BYS, MEASURES, Measure
from pipeline.audit.period_groups import period_groups
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
    """What the report shows of one measure: its released rows, the p-chart frame (all
    episodes, at the grain `trend_grain` picks) and, when grouped, the funnel frame (one row
    per group: the latest quarter, else the whole report period). The sentences say why a
    chart has its grain or period, or why it is not drawn ('' when there is nothing to say)."""

    measure: Measure
    release: pd.DataFrame
    spc: pd.DataFrame | None = None
    funnel: pd.DataFrame | None = None
    curves: pd.DataFrame | None = None
    spc_note: str = ""
    funnel_period: str = ""
    funnel_note: str = ""
    funnel_why: str = ""


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
    headline_counts: tuple | None = field(default=None, repr=False)  # true counts: local only, never written
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
    counts: tuple | None = None,
) -> ReportData:
    """Every frame the report shows, from the released aud_* columns only; `internal`: the
    exact counts for the team's own governance meeting (local-only/, never released).
    `unmapped`: the most frequent source names no code list maps (`explain.coverage.unmapped`,
    given by the caller: the report does not read raw tables). `counts`: the headline's
    true counts (`headline.period_counts`) when the other tier computed them already."""
    threshold, rounding = (0, 0) if internal else _disclosure_used(con, config)
    if internal:
        config = config.with_overrides({"disclosure": {"threshold": 0, "rounding": 0}}, origin=config.origin)
    rep = config.report
    releases = {m.id: read_release(con, m, period_from, period_to, by, internal) for m in MEASURES}
    latest = _latest_quarter(releases)
    flags = funnel_flags(rep.funnel_inner, rep.funnel_outer)
    whole = _whole_period(con, period_from, period_to, by, internal)
    sections = [_section(m, releases[m.id], latest, by, rep, flags, whole) for m in MEASURES if m.category is None]
    causes = _latest_rows(releases["failure_causes"], latest)
    counts = counts if counts is not None else period_counts(con, config, period_from, period_to)
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
        headline=headline_frame(con, config, period_from, period_to, counts),
        headline_counts=counts,
        facts=facts(con, config, period_from, period_to),
        internal=internal,
        unmapped=unmapped_names(unmapped, threshold),
    )
    data.files = _files(data, releases)
    return data


def headline_frame(con, config, period_from, period_to, counts: tuple | None = None) -> pd.DataFrame:
    """The headline items with their plain-words label (released values only)."""
    h = headline(con, config, period_from, period_to, counts)
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


def _section(m: Measure, release: pd.DataFrame, latest, by, rep, flags, whole) -> MeasureSection:
    s = MeasureSection(measure=m, release=release, spc=spc_frame(release, rep))
    s.spc_note = grain_note(release, s.spc, rep)
    if by:
        _funnel(s, release, latest, by, rep, flags, whole)
    return s


def _funnel(s: MeasureSection, release, latest, by: str, rep, flags, whole) -> None:
    """The funnel of the latest quarter when it releases the overall rate and at least
    `funnel_min_groups` groups; else of the whole report period; else a sentence why not."""
    label = by.replace("_", " ")
    candidates = []
    if latest is not None:
        candidates.append(
            (f"{latest:%Y} Q{latest.quarter}", _latest_rows(release, latest), _latest_rows(release, latest, by))
        )
    period = whole(s.measure.id)
    if period is not None:
        span = f"the whole report period ({period.period_start.min():%Y-%m-%d} to {period.period_end.max():%Y-%m-%d})"
        candidates.append((span, period[period.group_by == "all"], period[period.group_by == by]))
    for i, (name, total, groups) in enumerate(candidates):
        if funnel_shows_something(total, groups, rep):
            s.funnel, s.curves = funnel_frame(total, groups, rep, flags)
            s.funnel_period = name
            n = int(groups.rate.notna().sum())
            s.funnel_note = _funnel_note(i > 0, name, n, label)
            return
    s.funnel_why = funnel_why(candidates[-1][1:] if candidates else None, label, rep, whole=period is not None)


def funnel_why(cells, label: str, rep, whole: bool = True) -> str:
    """The sentence that says why no funnel plot is drawn, from the longest period tried
    (its 'all' row and its groups; None when there were no episodes). `whole`: that period
    is the whole report period, else the latest quarter (a report for a narrower period has
    no whole-period fallback: pipeline/audit/period_groups.py)."""
    if cells is None or cells[0].empty:
        return "No funnel plot: no episodes in the report period."
    if not whole:
        return ("No funnel plot: in the latest quarter too few groups are released (small numbers). A funnel "
                "over the whole period is drawn only in a report of the whole span of the data, whose cells are "
                "protected together with every other released figure.")  # fmt: skip
    total, groups = cells
    if pd.isna(total.rate.iloc[0]):
        return "No funnel plot: even over the whole report period the overall rate is withheld (small numbers)."
    shown = sorted(groups.group_value[groups.rate.notna()])
    of = f"of the {len(groups)} {label} groups"
    if len(shown) > 1:
        which = f"only {', '.join(shown[:-1])} and {shown[-1]} {of} are released"
    else:
        which = f"only {shown[0]} {of} is released" if shown else f"none {of} is released"
    return (f"No funnel plot: even over the whole report period {which}, and a funnel needs "
            f"{rep.funnel_min_groups}; the others are withheld, each because it is small or because a small "
            "group could otherwise be worked out from the total.")  # fmt: skip


def _funnel_note(fell_back: bool, name: str, n_groups: int, label: str) -> str:
    note = ""
    if fell_back:
        note = (f"In the latest quarter too much is withheld for a funnel plot by {label} (small numbers), "
                f"so it shows {name}. ")  # fmt: skip
    if n_groups == 2:
        note += (f"Only 2 {label} groups are released: each is compared with the overall rate they make up "
                 "together, so they lie on opposite sides of it; a point outside the limits means the two groups "
                 "differ by more than chance.")  # fmt: skip
    return note.strip()


def funnel_shows_something(total: pd.DataFrame, groups: pd.DataFrame, rep) -> bool:
    """A funnel plot needs the overall rate and at least `funnel_min_groups` released groups."""
    if total.empty or pd.isna(total.rate.iloc[0]):
        return False
    return int(groups.rate.notna().sum()) >= rep.funnel_min_groups


def _whole_period(con, period_from, period_to, by, internal):
    """Measure id -> the whole report period's cells for `by` (the funnel's fallback),
    counted only when a measure needs it."""
    cache: dict = {}

    def get(measure_id: str) -> pd.DataFrame | None:
        if by is None:
            return None
        if "frames" not in cache:
            lo, hi = report_span(con)
            start, end = period_from or lo, period_to or hi
            cache["frames"] = {} if start is None else period_groups(con, start, end, by)
        table = cache["frames"].get(measure_id)
        return None if table is None else _released(table, internal)

    return get


def _released(table: pd.DataFrame, internal: bool) -> pd.DataFrame:
    """An aud_*-shaped frame as the report shows it: released values (or, internal, the
    exact ones), in RELEASE_COLUMNS."""
    df = table.copy()
    if not internal:
        df["numerator"], df["denominator"] = df.released_numerator, df.released_denominator
        df["rate"], df["ci_low"], df["ci_high"] = df.released_rate, df.released_ci_low, df.released_ci_high
        df["suppressed"] = df.is_suppressed.astype(bool)
    else:
        df["suppressed"] = False
    for col in ("period_start", "period_end"):
        df[col] = pd.to_datetime(df[col])
    for col in ("numerator", "denominator"):
        df[col] = df[col].astype("Int64")
    for col in ("rate", "ci_low", "ci_high"):
        df[col] = df[col].astype("float64").round(RATE_DECIMALS)
    return df[list(RELEASE_COLUMNS)].reset_index(drop=True)


GRAINS = ("month", "quarter", "year")
GRAIN_WORDS = {"month": "monthly", "quarter": "quarterly", "year": "yearly"}


def _released_share(release: pd.DataFrame, grain: str) -> float | None:
    rows = release[(release.period_type == grain) & (release.group_by == "all")]
    return None if rows.empty else float((~rows.suppressed.astype(bool)).mean())


def trend_grain(release: pd.DataFrame, rep) -> str:
    """The p-chart's time grain: `[report] trend_grain`, or with 'auto' the finest of month,
    quarter and year of which at least `trend_min_released_share` of the periods with
    episodes are released (year when none is)."""
    if rep.trend_grain != "auto":
        return rep.trend_grain
    shares = {grain: _released_share(release, grain) for grain in GRAINS}
    for grain, share in shares.items():
        if share is not None and share >= rep.trend_min_released_share:
            return grain
    return "month" if all(share is None for share in shares.values()) else "year"


def grain_note(release: pd.DataFrame, spc: pd.DataFrame, rep) -> str:
    """Why the p-chart is drawn at a coarser grain than months ('' for months, or when it is
    not drawn at all)."""
    if spc is None or spc.empty or spc.suppressed.astype(bool).all():
        return ""
    grain = spc.period_type.iloc[0]
    if grain == "month" or rep.trend_grain != "auto":
        return ""
    finer = GRAINS[: GRAINS.index(grain)]
    shares = [_released_share(release, g) or 0.0 for g in finer]
    told = " and ".join(f"{share:.0%} of {g}s" for g, share in zip(finer, shares, strict=True))
    return (f"Shown by {grain}: disclosure control releases only {told} (too few episodes per period), "
            f"below the {rep.trend_min_released_share:.0%} a readable chart needs.")  # fmt: skip


def spc_frame(release: pd.DataFrame, rep) -> pd.DataFrame:
    """p-chart of all episodes on the released counts, at the grain `trend_grain` picks
    (column period_type). A withheld period has no rate or limits (its denominator is
    withheld) but keeps the centre line, which is the pooled rate of the released periods."""
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
    out["centre"] = out.centre.max()  # one pooled value: NaN only where nothing is released
    out["signal"] = chart.signal
    return out


def funnel_frame(total: pd.DataFrame, groups: pd.DataFrame, rep, flags: list[str]):
    """One row per group with the funnel limits at its denominator around the rate of all
    episodes (`total`, one row) in the same period."""
    centre = float(total.numerator.iloc[0]) / float(total.denominator.iloc[0])
    out = groups[
        [
            "period_type",
            "period_start",
            "period_end",
            "group_by",
            "group_value",
            "numerator",
            "denominator",
            "rate",
            "suppressed",
        ]
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
