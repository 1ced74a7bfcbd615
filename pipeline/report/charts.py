"""Altair charts of the released measure tables (the report uses them; notebooks can too).

Every function takes the small released frame (suppressed cells already withheld) and
returns an Altair chart; nothing here reads the warehouse or counts patients.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from pipeline.audit.stats import binomial_limits, z_value

WIDTH = 720
COMMON, WARN, ALARM = "#4c78a8", "#ff7f0e", "#d62728"


def _scale(domain: list[str]) -> alt.Scale:
    return alt.Scale(domain=domain, range=[COMMON, WARN, ALARM][: len(domain)])


def funnel_flags(inner: float, outer: float) -> list[str]:
    """Legend labels of funnel points, in order: within, outside inner, outside outer."""
    return ["within limits", f"outside {inner * 100:g} %", f"outside {outer * 100:g} %"]


def spc_status(signal: pd.Series) -> pd.Series:
    """The legend label of a p-chart point."""
    return (
        signal.map({"above": "outside limits", "below": "outside limits", "shift": "shift"})
        .fillna("common cause")
        .where(signal != "", "common cause")
    )


def spc_chart(spc: pd.DataFrame, title: str, width: int = WIDTH, height: int = 220) -> alt.LayerChart:
    """p-chart over time: the rate per period, the centre line, the 3-sigma limits (which
    vary with each period's denominator) and special-cause points in colour. `spc` has
    period_start, numerator, denominator, rate, centre, lcl, ucl, signal (one row per
    period, withheld periods with missing rate)."""
    withheld = spc.suppressed.astype(bool) if "suppressed" in spc else pd.Series(False, index=spc.index)
    d = spc.assign(
        period=pd.to_datetime(spc.period_start).dt.strftime("%Y-%m-%d"),
        status=spc_status(spc.signal.fillna("")),
        withheld_at=spc.centre.where(withheld),
        withheld=withheld.map({True: "withheld (small numbers)", False: ""}),
    )
    x = alt.X("period:T", title=None, axis=alt.Axis(format="%b %Y", labelAngle=0, tickCount=8))
    pct = alt.Axis(format=".0%")
    base = alt.Chart(d).encode(x=x)
    # invalid="filter": the lines run on across withheld periods instead of breaking there
    limits = (
        base.transform_fold(["lcl", "ucl"], as_=["limit", "value"])
        .mark_line(interpolate="step", strokeDash=[4, 3], color="#999999", invalid="filter")
        .encode(y=alt.Y("value:Q", axis=pct, title="rate"), detail="limit:N")
    )
    centre = base.mark_line(color="#555555", invalid="filter").encode(y="centre:Q")
    line = base.mark_line(color="#9ecae9", invalid="filter").encode(y="rate:Q")
    gaps = base.mark_point(shape="cross", color="#bbbbbb", filled=True, size=50, invalid="filter").encode(
        y="withheld_at:Q",
        tooltip=[alt.Tooltip("period:T", format="%B %Y"), alt.Tooltip("withheld:N", title="disclosure")],
    )
    points = base.mark_circle(size=60, opacity=1).encode(
        y=alt.Y("rate:Q", axis=pct, title="rate"),
        color=alt.Color(
            "status:N",
            scale=alt.Scale(domain=["common cause", "shift", "outside limits"], range=[COMMON, WARN, ALARM]),
            legend=alt.Legend(title=None, orient="top"),
        ),
        tooltip=[
            alt.Tooltip("period:T", format="%B %Y"),
            "numerator:Q",
            "denominator:Q",
            alt.Tooltip("rate:Q", format=".1%"),
            alt.Tooltip("lcl:Q", format=".1%"),
            alt.Tooltip("ucl:Q", format=".1%"),
            "signal:N",
        ],
    )
    return alt.layer(limits, centre, line, gaps, points).properties(title=title, width=width, height=height)


def funnel_limit_curves(
    centre: float, min_n: float, max_n: float, inner: float, outer: float, points: int = 120
) -> pd.DataFrame:
    """The funnel's control limits as curves over the groups' range of denominators
    (long format: denominator, limit, low, high)."""
    n = np.unique(np.geomspace(max(1.0, min_n * 0.5), max(max_n, 2.0) * 1.1, points).round(2))
    frames = []
    for label, conf in ((f"{inner * 100:g} %", inner), (f"{outer * 100:g} %", outer)):
        low, high = binomial_limits(centre, n, z_value(conf))
        frames.append(pd.DataFrame({"denominator": n, "limit": label, "low": low, "high": high}))
    return pd.concat(frames, ignore_index=True)


def funnel_chart(
    groups: pd.DataFrame,
    curves: pd.DataFrame,
    title: str,
    group_label: str,
    flags: list[str],
    width: int = WIDTH,
    height: int = 260,
) -> alt.LayerChart:
    """Funnel plot: each group's rate against its denominator, with the overall rate and
    the control limits that narrow as the denominator grows; groups outside are coloured.
    `groups` has group_value, numerator, denominator, rate, centre, flag (one of `flags`,
    see `funnel_flags`); withheld groups (missing rate) are left out."""
    groups = groups.dropna(subset=["rate"])
    pct = alt.Axis(format=".0%")
    curve_layers = []
    for label, dash in zip(curves.limit.unique(), ([4, 3], [1, 2]), strict=False):
        curve_layers.append(
            alt.Chart(curves[curves.limit == label])
            .transform_fold(["low", "high"], as_=["side", "value"])
            .mark_line(strokeDash=dash, color="#888888")
            .encode(
                x=alt.X("denominator:Q", title="denominator (episodes)"),
                y=alt.Y("value:Q", axis=pct, title="rate"),
                detail="side:N",
                tooltip=[alt.Tooltip("limit:N", title="limit")],
            )
        )
    centre = alt.Chart(groups).mark_rule(color="#555555").encode(y="mean(centre):Q")
    points = (
        alt.Chart(groups)
        .mark_circle(size=80, opacity=1)
        .encode(
            x="denominator:Q",
            y=alt.Y("rate:Q", axis=pct),
            color=alt.Color("flag:N", scale=_scale(flags), legend=alt.Legend(title=None, orient="top")),
            tooltip=[
                alt.Tooltip("group_value:N", title=group_label),
                "numerator:Q",
                "denominator:Q",
                alt.Tooltip("rate:Q", format=".1%"),
                "flag:N",
            ],
        )
    )
    labels = points.mark_text(dx=8, align="left", fontSize=10, color="#333333").encode(
        text="group_value:N", color=alt.value("#333333")
    )
    return alt.layer(*curve_layers, centre, points, labels).properties(title=title, width=width, height=height)


def causes_chart(causes: pd.DataFrame, title: str, width: int = WIDTH, height: int | None = None) -> alt.LayerChart:
    """Horizontal bars: share of failed iron episodes with each cause, with the Wilson
    interval as a line. Withheld causes are left out (the table says so)."""
    d = causes.dropna(subset=["rate"])
    height = height or max(60, 22 * len(d))
    y = alt.Y("category:N", sort=list(d.sort_values("rate", ascending=False).category), title=None)
    bars = (
        alt.Chart(d)
        .mark_bar(color="#4c78a8")
        .encode(
            y=y,
            x=alt.X("rate:Q", axis=alt.Axis(format=".0%"), title="share of failed iron episodes"),
            tooltip=[
                alt.Tooltip("category:N", title="cause"),
                "numerator:Q",
                "denominator:Q",
                alt.Tooltip("rate:Q", format=".1%"),
                alt.Tooltip("ci_low:Q", format=".1%"),
                alt.Tooltip("ci_high:Q", format=".1%"),
            ],
        )
    )
    ci = alt.Chart(d).mark_rule(color="#333333").encode(y=y, x="ci_low:Q", x2="ci_high:Q")
    return alt.layer(bars, ci).properties(title=title, width=width, height=height)


def quarantine_chart(reasons: pd.DataFrame, title: str, width: int = WIDTH) -> alt.Chart:
    """Horizontal bars: quarantined rows per table and check."""
    d = reasons.assign(check=reasons.table_name + ": " + reasons.check_id)
    return (
        alt.Chart(d)
        .mark_bar(color="#e45756")
        .encode(
            y=alt.Y("check:N", sort="-x", title=None),
            x=alt.X("rows:Q", title="quarantined rows"),
            tooltip=["table_name:N", "check_id:N", "rows:Q", "description:N"],
        )
        .properties(title=title, width=width, height=max(60, 22 * len(d)))
    )
