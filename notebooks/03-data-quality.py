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
# # 03 — Data quality
#
# What the validation step kept out and why, which source codes the code lists do not map,
# and how complete each staged table is. Run `make run` (or `anemia-audit run --input ...`)
# first; set `ANEMIA_AUDIT_DB` to use another warehouse file.

# %%
import os

import altair as alt
import pandas as pd

import pipeline
from pipeline import charts
from pipeline.explain.coverage import unmapped

charts.enable_offline()  # charts render without internet

wh = pipeline.open_warehouse(os.environ.get("ANEMIA_AUDIT_DB", "../data/processed/audit.duckdb"))
wh

# %% [markdown]
# ## Reconciliation: raw = staged + quarantined, per file

# %%
load_log = wh.load_log.to_pandas()
assert (load_log.raw_rows == load_log.staged_rows + load_log.quarantined_rows).all()
load_log[["table_name", "source_file", "raw_rows", "staged_rows", "quarantined_rows"]]

# %% [markdown]
# ## Quarantine reasons
# One row per failed check; a row failing several checks appears once per check.

# %%
q = wh.quarantine
reasons = (
    q.group_by(["table_name", "check_id"])
    .agg(rows=q.row_id.nunique(), example=q.reason.arbitrary())
    .to_pandas()
    .sort_values("rows", ascending=False)
)
reasons

# %%
alt.Chart(reasons).mark_bar().encode(
    x=alt.X("rows:Q", title="quarantined rows"),
    y=alt.Y("check_id:N", sort="-x", title=None),
    color="table_name:N",
    tooltip=["table_name", "check_id", "rows", "example"],
).properties(width=520, title="Why rows were quarantined")

# %% [markdown]
# ## Source names the code lists do not map
# Every lab and drug name that no code list maps, with its row count, most frequent first:
# whatever the name says (a brand such as "Galfer" mentions no keyword). Extend
# `data/codelists/` with the ones that belong in the audit; `keywords_only=True` narrows the
# list to names that mention ferritin, B12, folate, haemoglobin, iron or transferrin.

# %%
names = unmapped(wh.con)
print(f"{len(names)} unmapped names in {names.n_rows.sum():,} rows")
names.head(30)

# %%
names.groupby("domain").agg(names=("n_rows", "size"), rows=("n_rows", "sum"))

# %% [markdown]
# ## Completeness of the staged tables
# Share of non-empty values per column.


# %%
def completeness(table: str) -> pd.DataFrame:
    t = wh.table(table)
    n = t.count().to_pandas()
    filled = t.aggregate(**{c: t[c].count() for c in t.columns}).to_pandas().T[0]
    return pd.DataFrame({"table": table, "column": filled.index, "filled_pct": (100 * filled / max(n, 1)).round(1)})


tables = [t for t in wh.tables() if t.startswith("stg_")]
complete = pd.concat([completeness(t) for t in tables], ignore_index=True)
complete.pivot_table(index="column", columns="table", values="filled_pct")
