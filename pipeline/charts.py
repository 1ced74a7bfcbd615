"""The chart functions of the report, for notebooks: the same code draws both.

>>> import pandas as pd
>>> spc = pd.DataFrame({"period_start": pd.to_datetime(["2024-01-01", "2024-02-01"]), "numerator": [3, 5],
...                     "denominator": [20, 25], "rate": [0.15, 0.2], "centre": [0.178, 0.178],
...                     "lcl": [0.0, 0.0], "ucl": [0.44, 0.41], "signal": ["", ""]})
>>> spc_chart(spc, "Iron started without a prior test").to_dict()["title"]
'Iron started without a prior test'
"""

from pipeline.explain.timeline import patient_timeline, timeline_chart
from pipeline.report.charts import (
    causes_chart,
    funnel_chart,
    funnel_flags,
    funnel_limit_curves,
    quarantine_chart,
    spc_chart,
    spc_status,
)

__all__ = [
    "causes_chart",
    "enable_offline",
    "funnel_chart",
    "funnel_flags",
    "funnel_limit_curves",
    "patient_timeline",
    "quarantine_chart",
    "spc_chart",
    "spc_status",
    "timeline_chart",
]


def enable_offline() -> None:
    """Render Altair charts in notebooks with the Vega libraries inlined, so they show
    without internet (about 0.9 MB per chart output; the committed notebooks hold none)."""
    import altair as alt

    alt.renderers.enable("html", template="inline")
