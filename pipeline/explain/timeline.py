"""One patient's timeline as a chart: lab results and treatments on one time axis, with the
follow-up window of each iron episode shaded. For local case review only (it shows one
patient's data): never put it in a report meant for release.

    >>> import pandas as pd
    >>> labs = pd.DataFrame({"taken_at": pd.to_datetime(["2024-01-01", "2024-02-01"]),
    ...                      "analyte": ["hb", "hb"], "value_num": [95.0, 118.0]})
    >>> rx = pd.DataFrame({"start_at": pd.to_datetime(["2024-01-03"]), "end_at": pd.to_datetime(["2024-03-01"]),
    ...                    "label": ["iron (oral)"]})
    >>> windows = pd.DataFrame({"from_at": pd.to_datetime(["2024-01-17"]), "to_at": pd.to_datetime(["2024-02-28"]),
    ...                         "label": ["iron-1 follow-up window"]})
    >>> chart = timeline_chart(labs, rx, windows)
    >>> chart.to_dict()["vconcat"][0]["layer"][0]["mark"]["opacity"]
    0.15
"""

from __future__ import annotations

import altair as alt
import pandas as pd

TIMELINE_ANALYTES = ("hb", "ferritin", "tsat", "b12", "folate", "crp", "mcv")


def timeline_chart(
    labs: pd.DataFrame, treatments: pd.DataFrame, windows: pd.DataFrame, width: int = 640
) -> alt.VConcatChart:
    """labs: taken_at, analyte, value_num; treatments: start_at, end_at, label;
    windows: from_at, to_at, label (shaded follow-up windows)."""
    x = alt.X("t:T", title=None)
    shade = (
        alt.Chart(windows.rename(columns={"from_at": "t"}))
        .mark_rect(opacity=0.15, color="#4c78a8")
        .encode(x=x, x2="to_at:T", tooltip=["label:N"])
    )
    points = (
        alt.Chart(labs.rename(columns={"taken_at": "t"}))
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("value_num:Q", title="result (canonical unit)"),
            color=alt.Color("analyte:N"),
            tooltip=["analyte:N", "value_num:Q", alt.Tooltip("t:T", title="taken")],
        )
    )
    bars = (
        alt.Chart(treatments.rename(columns={"start_at": "t"}))
        .mark_bar(height=12)
        .encode(
            x=x,
            x2="end_at:T",
            y=alt.Y("label:N", title=None),
            color=alt.value("#e45756"),
            tooltip=["label:N", alt.Tooltip("t:T", title="start"), alt.Tooltip("end_at:T", title="end")],
        )
    )
    top = alt.layer(shade, points).properties(width=width, height=220, title="Labs (shaded: follow-up window)")
    bottom = alt.layer(shade, bars).properties(width=width, height=90, title="Treatments")
    return alt.vconcat(top, bottom).resolve_scale(x="shared")


def patient_timeline(con, patient_id: str, config) -> alt.VConcatChart:
    """The timeline chart of one patient, read from the warehouse (Ibis connection)."""
    labs = con.table("stg_labs")
    labs = (
        labs.filter((labs.patient_id == patient_id) & labs.analyte.isin(TIMELINE_ANALYTES))
        .select("taken_at", "analyte", "value_num")
        .to_pandas()
    )
    ep = con.table("episodes").filter(lambda t: t.patient_id == patient_id).to_pandas()
    treatments = pd.DataFrame(
        {"start_at": ep.start_at, "end_at": ep.end_at, "label": ep.agent + " (" + ep.route + ") " + ep.episode_id}
    )
    r = config.response
    iron = ep[ep.agent == "iron"]
    windows = pd.DataFrame(
        {
            "from_at": iron.start_at + pd.to_timedelta(r.followup_from_day, "D"),
            "to_at": iron.start_at + pd.to_timedelta(r.followup_to_day, "D"),
            "label": iron.episode_id + " follow-up window",
        }
    )
    return timeline_chart(labs, treatments, windows)
