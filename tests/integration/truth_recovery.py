"""Compare the classification of a synthetic cohort with its planted truth (shared by the
truth-recovery test and the benchmark)."""

from __future__ import annotations

import pandas as pd

KEY = ["patient_id", "agent", "start_date"]
LABELS = [
    "route",
    "testing_status",
    "is_just_in_case",
    "excluded_reason",
    "outcome",
    "not_assessable_reason",
    "primary_cause",
    "causes",
]


def classified(con) -> pd.DataFrame:
    ep = con.table("episodes").execute()
    out = con.table("iron_outcomes").execute()
    fc = con.table("failure_causes").execute()
    causes = fc.groupby("episode_id").cause.apply(lambda s: "|".join(sorted(s))).rename("causes")
    df = ep.merge(out[["episode_id", "outcome", "not_assessable_reason", "primary_cause"]], on="episode_id", how="left")
    df = df.merge(causes, on="episode_id", how="left")
    df["start_date"] = pd.to_datetime(df.start_at).dt.strftime("%Y-%m-%d")
    df["is_just_in_case"] = df.is_just_in_case.map({True: "true", False: "false"})
    return df[["episode_id", *KEY, *LABELS]].fillna("")


def compare(truth: pd.DataFrame, got: pd.DataFrame) -> pd.DataFrame:
    """Rows whose labels differ, plus episodes present on one side only."""
    truth = truth.fillna("").astype(str)
    m = truth.merge(got.astype(str), on=KEY, how="outer", suffixes=("_truth", "_got"), indicator=True)
    bad = m["_merge"] != "both"
    for col in LABELS:
        bad |= m[f"{col}_truth"].fillna("") != m[f"{col}_got"].fillna("")
    return m[bad]
