# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 — Threshold sensitivity
#
# How much do the headline measures move when a clinical setting changes? Each scenario
# re-runs the classification with `pipeline.classify_with(overrides)`: the warehouse's own
# results (made with `pipeline/defaults.toml`) are not touched. Set `ANEMIA_AUDIT_DB` to use
# another warehouse file.

# %%
import os

import altair as alt
import pandas as pd

import pipeline
from pipeline import charts

charts.enable_offline()  # charts render without internet

DB = os.environ.get("ANEMIA_AUDIT_DB", "../data/processed/audit.duckdb")
wh = pipeline.open_warehouse(DB)
before = wh.episodes.count().to_pandas()

# %% [markdown]
# ## The scenarios
# Each is a set of overrides in the same shape as a `--config` file.

# %%
SCENARIOS = {
    "defaults": {},
    "look-back 7 days": {"testing": {"lookback_days": 7}},
    "look-back 180 days": {"testing": {"lookback_days": 180}},
    "response: rise of 30 g/L": {"response": {"min_rise_g_l": 30.0}},
    "response: rise of 5 g/L": {"response": {"min_rise_g_l": 5.0}},
    "adherence cut-off 0.5": {"causes": {"adherence_pdc_min": 0.5}},
    "adherence cut-off 0.95": {"causes": {"adherence_pdc_min": 0.95}},
}


# %%
def headline(tables) -> dict:
    """Headline rates (percent) from classification tables (Ibis), computed in the database."""
    ep, io, fc = tables["episodes"], tables["iron_outcomes"], tables["failure_causes"]
    audited = ep.filter(ep.excluded_reason.isnull())
    out = {}
    for agent in ("iron", "b12", "folate"):
        a = audited.filter(audited.agent == agent)
        out[f"{agent}: started without prior test"] = (a.testing_status != "tested_before").mean()
    out["B12/folate just in case"] = audited.filter(audited.agent != "iron").is_just_in_case.mean()
    assessable = io.filter(io.outcome.isin(["responded", "failed"]))
    out["iron failure (assessable)"] = (assessable.outcome == "failed").mean()
    row = {k: v.to_pandas() for k, v in out.items()}
    failed = fc.episode_id.nunique().to_pandas()
    row["failures: non-adherence"] = fc.filter(fc.cause == "non_adherence").episode_id.nunique().to_pandas() / max(
        failed, 1
    )
    return {k: round(100 * float(v), 1) if v is not None and v == v else None for k, v in row.items()}


results = {name: headline(pipeline.classify_with(over, DB)) for name, over in SCENARIOS.items()}
table = pd.DataFrame(results)
table

# %% [markdown]
# ## Change from the defaults (percentage points)

# %%
delta = table.sub(table["defaults"], axis=0).drop(columns="defaults").round(1)
delta

# %%
long = table.reset_index(names="measure").melt("measure", var_name="scenario", value_name="percent")
alt.Chart(long).mark_circle(size=80).encode(
    x=alt.X("percent:Q", title="percent"),
    y=alt.Y("measure:N", title=None),
    color=alt.Color("scenario:N"),
    tooltip=["measure", "scenario", "percent"],
).properties(width=520, title="Headline measures under each setting")

# %% [markdown]
# The warehouse itself is unchanged: its `episodes` table still holds the default results.

# %%
assert wh.episodes.count().to_pandas() == before
