# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 — Explore the audit
#
# Open the warehouse, look at each measure over time on the same SPC p-charts as the
# report, compare sites on a funnel plot, then drill down from one measure cell to its
# episodes and to one patient's timeline. The drill-down shows patient-level rows: keep this
# notebook's outputs local, never share them. Set `ANEMIA_AUDIT_DB` to use another warehouse.

# %%
import os

import pandas as pd

import pipeline
from pipeline import charts
from pipeline.audit.measures import BY_ID, MEASURES, audit_population, predicate
from pipeline.config import load_config
from pipeline.explain.timeline import patient_timeline
from pipeline.report.frames import funnel_frame, funnel_shows_something, headline_frame, read_release, spc_frame

charts.enable_offline()  # charts render without internet
cfg = load_config()
wh = pipeline.open_warehouse(os.environ.get("ANEMIA_AUDIT_DB", "../data/processed/audit.duckdb"))

# %% [markdown]
# ## The headline
# Both questions for the whole span of the data, as on the report's first screen
# (released figures: small numbers withheld, counts rounded).

# %%
head = headline_frame(wh.con, cfg, None, None)
head[["label", "numerator", "denominator", "rate", "ci_low", "ci_high", "standard"]]

# %%
pd.DataFrame([(m.id, m.title, m.unit) for m in MEASURES], columns=["measure", "title", "unit of analysis"])

# %% [markdown]
# ## Measures over time
# Monthly p-charts of the released (disclosure-controlled) counts: centre line, 3-sigma
# limits that vary with each month's denominator, special-cause months in colour.

# %%
MEASURE = "iron_untested"
release = read_release(wh.con, BY_ID[MEASURE], None, None, "site")
spc = spc_frame(release, cfg.report)
charts.spc_chart(spc, BY_ID[MEASURE].title)

# %%
charts.spc_chart(
    spc_frame(read_release(wh.con, BY_ID["iron_failed"], None, None, None), cfg.report), BY_ID["iron_failed"].title
)

# %% [markdown]
# ## Breakdown by site
# The latest quarter, one row per site, and the funnel plot around the rate of all sites.

# %%
quarters = release[(release.period_type == "quarter") & (release.group_by == "all")]
latest = quarters.period_start.max()
by_site = release[(release.period_type == "quarter") & (release.period_start == latest) & (release.group_by == "site")]
by_site[["group_value", "numerator", "denominator", "rate", "ci_low", "ci_high", "suppressed"]]

# %%
rep = cfg.report
flags = charts.funnel_flags(rep.funnel_inner, rep.funnel_outer)
total = release[(release.period_type == "quarter") & (release.period_start == latest) & (release.group_by == "all")]
shown = funnel_shows_something(total, by_site, rep)  # the overall rate and enough sites released
groups, curves = funnel_frame(total, by_site, rep, flags) if shown else (None, None)
charts.funnel_chart(
    groups, curves, f"{BY_ID[MEASURE].title}, {latest:%Y} Q{(latest.month - 1) // 3 + 1}", "site", flags
) if shown else "too much withheld by disclosure control in the latest quarter"

# %% [markdown]
# ## Drill-down: from one cell to its episodes (local only)
# The audit population has one row per episode with its group values; the measure's own
# conditions select the cell. Pick the site with the most episodes in the latest quarter.

# %%
m = BY_ID[MEASURE]
pop = audit_population(wh.con, cfg)
in_quarter = pop.filter((pop.quarter_start == latest.date()) & predicate(pop, m.denominator_where))
site = in_quarter.group_by("site").agg(n=in_quarter.count()).to_pandas()
site = site.sort_values("n", ascending=False).site.iloc[0]
cell = in_quarter.filter(in_quarter.site == site)
numerator = cell.filter(predicate(cell, m.numerator_where))
print(
    f"{m.title}: {site}, quarter from {latest:%Y-%m-%d}: "
    f"{numerator.count().to_pandas()} of {cell.count().to_pandas()} episodes"
)
cases = numerator.select("episode_id", "patient_id", "start_at", "testing_status", "prior_result_class").to_pandas()
cases.head(10)

# %% [markdown]
# ## One patient's timeline (local only)
# Labs and treatments on one time axis; the follow-up window of each iron episode shaded.

# %%
patient = cases.patient_id.iloc[0] if len(cases) else pop.select("patient_id").limit(1).to_pandas().patient_id[0]
patient_timeline(wh.con, patient, cfg)
