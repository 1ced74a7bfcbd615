"""The core rule in plain pandas, as a data scientist would write it: each patient's first
iron start, whether a ferritin was taken in the look-back before it, and the first Hb in the
follow-up window after it. Reading the CSV files is included. A reference for the benchmark,
not an implementation of the audit (no validation, units, wash-out or tie rules):

    python -m pipeline.benchmark.reference INPUT_DIR

prints the counts as JSON. Windows come from the config ([testing] lookback_days,
[response] followup_from_day / followup_to_day), codes from data/codelists/.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from pipeline.codes import load_drug_codes, load_lab_codes
from pipeline.config import Config, load_config


def _day(text: pd.Series) -> pd.Series:
    return pd.to_datetime(text.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")


def _labs(input_dir: Path, analyte: str) -> pd.DataFrame:
    codes = load_lab_codes()
    mine = codes[codes.analyte == analyte]
    labs = pd.read_csv(input_dir / "labs.csv", usecols=["patient_id", "taken_at", "loinc", "test_name"], dtype=str)
    hit = labs.loinc.isin(mine[mine.code_system == "LOINC"].code) | labs.test_name.str.strip().str.lower().isin(
        mine[mine.code_system == "NAME"].match_key
    )
    return pd.DataFrame({"patient_id": labs.patient_id[hit], "day": _day(labs.taken_at[hit])})


def _iron_starts(input_dir: Path) -> pd.DataFrame:
    drugs = load_drug_codes()
    iron = drugs[drugs.has_iron]
    rx = pd.read_csv(input_dir / "prescriptions.csv", usecols=["patient_id", "start_at", "drug_code", "drug_name"],
                     dtype=str)  # fmt: skip
    by_code = rx.drug_code.fillna("").str.upper().str.startswith(tuple(iron[iron.code_system == "ATC"].code_norm))
    by_name = rx.drug_name.fillna("").str.lower().str.contains("|".join(iron.pattern.dropna()), regex=True)
    rx = rx[by_code | by_name]
    return rx.assign(start=_day(rx.start_at)).groupby("patient_id", as_index=False).start.min()


def core_rule(input_dir: Path, cfg: Config) -> dict[str, int]:
    starts = _iron_starts(input_dir)
    ferritin = _labs(input_dir, "ferritin").merge(starts, on="patient_id")
    before = (ferritin.start - ferritin.day).dt.days
    tested = ferritin[(before >= 0) & (before <= cfg.testing.lookback_days)].patient_id.nunique()
    hb = _labs(input_dir, "hb").merge(starts, on="patient_id")
    after = (hb.day - hb.start).dt.days
    window = hb[(after >= cfg.response.followup_from_day) & (after <= cfg.response.followup_to_day)]
    followed = window.groupby("patient_id").day.min()
    return {"iron_starts": len(starts), "ferritin_before": int(tested), "followup_hb": len(followed)}


if __name__ == "__main__":
    print(json.dumps(core_rule(Path(sys.argv[1]), load_config())))
