"""index.html: one self-contained page (no network). The Vega libraries are inlined once,
in the page head; every chart is a Vega-Lite spec rendered by that one copy.

Each HTML table names the CSV file it shows (`data-source`), each row carries the key
columns of its CSV row (`data-keys`, JSON) and each value cell its CSV column
(`data-col`), so a test can check that the page and the CSV files agree.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pandas as pd
import vl_convert as vlc
from altair.utils._importers import vl_version_for_vl_convert

from pipeline.report import charts
from pipeline.report.frames import GRAIN_WORDS, csv_frame

TEMPLATES = Path(__file__).resolve().parent / "templates"
WITHHELD, MISSING = "*", "–"


@dataclass
class Column:
    name: str
    header: str
    kind: str = "text"  # text | date | count | pct


@dataclass
class TableView:
    source: str
    caption: str
    columns: list[Column]
    rows: list[dict]


def table_view(frame: pd.DataFrame, source: str, keys: list[str], columns: list[Column], caption: str) -> TableView:
    """Display rows of `frame`, formatted; keys and CSV text come from the same frame as the CSV."""
    text = csv_frame(frame)
    rows = []
    for i in range(len(frame)):
        withheld = bool(frame["suppressed"].iloc[i]) if "suppressed" in frame else False
        cells = [(c, _format(frame[c.name].iloc[i], c.kind, withheld)) for c in columns]
        rows.append(
            {"keys": json.dumps({k: _text(text[k].iloc[i]) for k in keys}), "cells": cells, "withheld": withheld}
        )
    return TableView(source=source, caption=caption, columns=columns, rows=rows)


def _text(v) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def _format(v, kind: str, withheld: bool) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return WITHHELD if withheld and kind in ("count", "pct") else (MISSING if kind in ("count", "pct") else "")
    if kind == "count":
        return v if isinstance(v, str) else f"{int(v):,}"
    if kind == "pct":
        return f"{float(v) * 100:.1f}"
    if kind == "date":
        return pd.Timestamp(v).strftime("%Y-%m-%d")
    return str(v)


COUNTS = [
    Column("numerator", "Numerator", "count"),
    Column("denominator", "Denominator", "count"),
    Column("rate", "Rate %", "pct"),
]


def _ci_columns(confidence: float) -> list[Column]:
    label = f"{confidence * 100:g} % CI"
    return [Column("ci_low", f"{label} low", "pct"), Column("ci_high", f"{label} high", "pct")]


def _why_no_trend(spc: pd.DataFrame | None) -> str:
    """A sentence saying why a p-chart is not drawn, or '' when it is."""
    if spc is None or spc.empty:
        return "No chart: no episodes in the report period."
    if spc.suppressed.astype(bool).all():
        return ("No chart: every period is withheld by disclosure control (too few episodes per period); "
                "see the headline for the whole period.")  # fmt: skip
    return ""


def _measure_views(data) -> tuple[list[dict], dict]:
    sections, specs = [], {}
    group_label = (data.by or "").replace("_", " ")
    for s in data.sections:
        m = s.measure
        view = {"measure": m, "spc_id": None, "funnel_id": None, "spc_table": None, "funnel_table": None,
                "spc_note": s.spc_note, "funnel_note": s.funnel_note, "funnel_why": s.funnel_why}  # fmt: skip
        view["spc_why"] = _why_no_trend(s.spc)
        if s.spc is not None and len(s.spc) and not view["spc_why"]:
            grain = GRAIN_WORDS.get(s.spc.period_type.iloc[0], s.spc.period_type.iloc[0])
            view["spc_id"] = f"chart-spc-{m.id}"
            specs[view["spc_id"]] = charts.spc_chart(s.spc, f"{m.title}: {grain} p-chart").to_dict(validate=False)
            view["spc_table"] = table_view(
                s.spc,
                f"csv/{m.id}_spc.csv",
                ["period_start"],
                [
                    Column("period_start", "Period start", "date"),
                    *COUNTS,
                    Column("centre", "Centre %", "pct"),
                    Column("lcl", "Lower limit %", "pct"),
                    Column("ucl", "Upper limit %", "pct"),
                    Column("signal", "Signal"),
                ],
                f"{m.title}: {grain} values (all episodes)",
            )
        if s.funnel is not None:
            view["funnel_id"] = f"chart-funnel-{m.id}"
            specs[view["funnel_id"]] = charts.funnel_chart(
                s.funnel,
                s.curves,
                f"{m.title}: by {group_label}, {s.funnel_period}",
                group_label,
                data.funnel_flags,
            ).to_dict(validate=False)
            view["funnel_table"] = table_view(
                s.funnel,
                f"csv/{m.id}_funnel.csv",
                ["group_value"],
                [
                    Column("group_value", group_label.capitalize()),
                    *COUNTS,
                    Column("outer_low", "Outer limit low %", "pct"),
                    Column("outer_high", "Outer limit high %", "pct"),
                    Column("flag", "Flag"),
                ],
                f"{m.title} by {group_label}, {s.funnel_period}",
            )
        sections.append(view)
    return sections, specs


def _headline_views(data, confidence: float) -> dict[str, TableView]:
    """The two questions, answered for the whole report period (csv/headline.csv)."""
    h = data.headline
    cols = [
        Column("label", "", "label"),
        Column("numerator", "n", "count"),
        Column("denominator", "N", "count"),
        Column("rate", "Rate %", "pct"),
        Column("ci_low", f"{confidence * 100:g} % CI low", "pct"),
        Column("ci_high", "high", "pct"),
        Column("change", "Change vs previous period (points)", "pct"),
        Column("target", "Standard %", "pct"),
        Column("standard", "Met?"),
    ]
    views = {}
    for question, caption in (("testing", "1. How often did treatment come before testing?"),
                              ("iron", "2. How often did iron therapy fail?")):  # fmt: skip
        views[question] = table_view(h[(h.question == question) & h.cause.isna()], "csv/headline.csv", ["item"], cols,
                                     caption)  # fmt: skip
    views["causes"] = table_view(
        h[h.cause.notna()], "csv/headline.csv", ["item"], [Column("label", "Why iron failed", "label"), *cols[1:6]],
        "Causes among failed iron episodes, common causes first (an episode can have several)",
    )  # fmt: skip
    return views


def render(data, config) -> str:
    rep = config.report
    ci = _ci_columns(rep.confidence)
    sections, specs = _measure_views(data)
    headline = _headline_views(data, rep.confidence)
    summary = table_view(
        data.summary,
        "csv/summary.csv",
        ["measure_id"],
        [Column("title", "Measure"), *COUNTS, *ci, Column("spc_special_cause_months", "Special-cause months", "count")],
        "All measures, latest quarter, all episodes",
    )
    causes_view = table_view(
        data.causes,
        "csv/failure_causes.csv",
        ["period_type", "period_start", "group_by", "group_value", "category"],
        [Column("category", "Cause"), *COUNTS, *ci],
        "Causes among failed iron episodes, latest quarter",
    )
    if data.causes["rate"].notna().any():
        specs["chart-causes"] = charts.causes_chart(
            data.causes, "Causes of iron failure (share of failed episodes; an episode can have several)"
        ).to_dict(validate=False)
    loads = table_view(
        data.loads,
        "csv/data_quality_loads.csv",
        ["table_name", "source_file"],
        [
            Column("table_name", "Table"),
            Column("source_file", "File"),
            Column("raw_rows", "Loaded", "count"),
            Column("staged_rows", "Staged", "count"),
            Column("quarantined_rows", "Quarantined", "count"),
        ],
        "Rows per table and file",
    )
    reasons = table_view(
        data.reasons,
        "csv/data_quality_quarantine.csv",
        ["table_name", "check_id"],
        [
            Column("table_name", "Table"),
            Column("check_id", "Check"),
            Column("rows", "Rows", "count"),
            Column("description", "What the check asks"),
        ],
        "Most frequent quarantine checks",
    )
    unmapped = table_view(
        data.unmapped,
        "csv/data_quality_unmapped.csv",
        ["domain", "source_code", "source_name"],
        [
            Column("domain", "Table"),
            Column("source_code", "Code"),
            Column("source_name", "Name in the source"),
            Column("rows", "Rows", "count"),
        ],
        "Most frequent source names no code list maps",
    )
    if len(data.reasons):
        specs["chart-quarantine"] = charts.quarantine_chart(data.reasons, "Quarantined rows by check").to_dict(
            validate=False
        )
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("report.html.j2").render(
        data=data,
        rep=rep,
        headline=headline,
        sections=sections,
        summary=summary,
        causes=causes_view,
        loads=loads,
        reasons=reasons,
        unmapped=unmapped,
        has_causes_chart="chart-causes" in specs,
        has_quarantine_chart="chart-quarantine" in specs,
        specs_json=_script_json(specs),
        vega_js=vega_bundle(),
    )


def _script_json(obj) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(obj, separators=(",", ":"), default=str).replace("</", "<\\/").replace("<!--", "<\\!--")


@functools.lru_cache(maxsize=1)
def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed in one script (from vl-convert, matching Altair's
    Vega-Lite version): about 0.9 MB, included once per page."""
    return vlc.javascript_bundle(vl_version=vl_version_for_vl_convert())
