"""A small warehouse for the audit and report tests: literal classification tables
(episodes, iron_outcomes, failure_causes), stg_patients, load_log, loaded_files and
quarantine, with exactly the column types the classify and validate steps write.

`episode()`, `outcome()`, `cause()` and `patient()` build one literal row with defaults;
`demo_cohort()` is a deterministic cohort (two sites, January to June 2024) large enough for
released (unsuppressed) cells, funnel plots and failure-cause bars.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.engine import registry
from pipeline.engine.raw import SQL_TYPES

# Column types from the table registry (the DDL the pipeline itself would produce).
SCHEMAS = {
    name: {c.name: SQL_TYPES[c.dtype] for c in registry.spec(name).columns}
    for name in ("episodes", "iron_outcomes", "failure_causes", "stg_patients", "load_log", "loaded_files",
                 "quarantine")
}  # fmt: skip

_row_ids = iter(range(1, 10**9))


def episode(patient_id: str, start: str, agent: str = "iron", **kw) -> dict:
    """One episodes row; tested before with a deficient result unless told otherwise."""
    start_at = datetime.fromisoformat(start)
    row_id = kw.pop("first_row_id", next(_row_ids))
    row = {
        "episode_id": f"{agent}-{row_id}",
        "patient_id": patient_id,
        "agent": agent,
        "route": "oral" if agent != "b12" else "im",
        "start_at": start_at,
        "start_has_time": False,
        "end_at": start_at + timedelta(days=27),
        "testing_status": "tested_before",
        "prior_test_at": start_at - timedelta(days=3),
        "prior_test_analyte": {"iron": "ferritin"}.get(agent, agent),
        "prior_result_class": "deficient",
        "is_just_in_case": False,
        "excluded_reason": None,
        "site": "SITE-A",
        "prescriber_specialty": "general practice",
        "first_row_id": row_id,
    }
    if kw.get("testing_status", "tested_before") != "tested_before":
        row.update(prior_test_at=None, prior_test_analyte=None, prior_result_class="unknown")
    row.update(kw)
    return row


def outcome(ep: dict, result: str, **kw) -> dict:
    """The iron_outcomes row of an iron episode: responded, failed or not_assessable."""
    start = ep["start_at"]
    row = {
        "episode_id": ep["episode_id"],
        "patient_id": ep["patient_id"],
        "baseline_hb_g_l": 95.0,
        "baseline_at": start - timedelta(days=2),
        "followup_hb_g_l": 120.0 if result == "responded" else 97.0,
        "followup_at": start + timedelta(days=28),
        "hb_change_g_l": None,
        "outcome": result,
        "not_assessable_reason": None,
        "escalated_to_iv": False,
        "primary_cause": None,
    }
    if result == "not_assessable":
        row.update(followup_hb_g_l=None, followup_at=None, not_assessable_reason="no_followup_hb")
    row.update(kw)
    if row["followup_hb_g_l"] is not None and row["baseline_hb_g_l"] is not None:
        row["hb_change_g_l"] = row["followup_hb_g_l"] - row["baseline_hb_g_l"]
    return row


def cause(ep: dict, name: str, evidence: str | None = None) -> dict:
    return {
        "episode_id": ep["episode_id"],
        "patient_id": ep["patient_id"],
        "cause": name,
        "evidence_table": None if name in ("unexplained", "adherence_unknown") else "stg_prescriptions",
        "evidence_row_id": None if name in ("unexplained", "adherence_unknown") else ep["first_row_id"],
        "evidence": evidence or f"{name} evidence for {ep['episode_id']}",
    }


def patient(
    patient_id: str,
    sex: str = "F",
    birth_year: int | None = 1960,
    site: str | None = "SITE-A",
    age_band: str | None = None,
) -> dict:
    return {
        "row_id": next(_row_ids),
        "patient_id": patient_id,
        "sex": sex,
        "birth_year": birth_year,
        "age_band": age_band,
        "site": site,
        "pregnancy_start": None,
        "pregnancy_end": None,
    }


def load_log_rows() -> list[dict]:
    at = datetime(2024, 7, 1, 9, 0)
    return [
        {
            "load_id": "L1",
            "table_name": t,
            "source_file": f"{t}.csv",
            "raw_rows": raw,
            "staged_rows": raw - q,
            "quarantined_rows": q,
            "loaded_at": at,
        }
        for t, raw, q in (("labs", 5000, 12), ("patients", 700, 0), ("prescriptions", 900, 3))
    ]


def loaded_files_rows() -> list[dict]:
    return [
        {
            "load_id": r["load_id"],
            "table_name": r["table_name"],
            "source_file": r["source_file"],
            "content_hash": f"{i:064x}",
            "source": "csv",
            "n_rows": r["raw_rows"],
            "loaded_at": r["loaded_at"],
        }
        for i, r in enumerate(load_log_rows(), start=1)
    ]


def quarantine_rows() -> list[dict]:
    rows = []
    for i in range(12):
        check = "unconvertible_unit" if i < 9 else "implausible_value"
        rows.append(
            {
                "table_name": "labs",
                "row_id": 100 + i,
                "source_file": "labs.csv",
                "source_row": i + 2,
                "check_id": check,
                "reason": f"unit 'xx' for row {i}",
                "raw_values": "{}",
            }
        )
    for i in range(3):
        rows.append(
            {
                "table_name": "prescriptions",
                "row_id": 900 + i,
                "source_file": "prescriptions.csv",
                "source_row": i + 2,
                "check_id": "end_before_start",
                "reason": "end before start",
                "raw_values": "{}",
            }
        )
    return rows


def demo_cohort() -> dict[str, list[dict]]:
    """Two sites x six months (2024-01 to 2024-06) x 40 iron, 20 B12 and 20 folate
    episodes, each for its own patient. Patterns by position k within a site-month:
    iron k % 5 == 0 never tested, == 1 tested only after; k % 7 == 2 normal prior result;
    k % 4 == 0 failed (causes by k % 8: low_dose + blood_loss, or unexplained; one episode,
    June site A k 4, marrow instead), == 1 not assessable; B12 / folate k % 3 == 0 just in
    case, folate k % 10 == 9 excluded."""
    t = {name: [] for name in ("episodes", "iron_outcomes", "failure_causes", "stg_patients")}
    for month in range(1, 7):
        for s, site in enumerate(("SITE-A", "SITE-B")):
            for k in range(40):
                _demo_iron(t, month, site, s, k)
            for agent in ("b12", "folate"):
                for k in range(20):
                    _demo_other(t, month, site, s, k, agent)
    t["load_log"], t["loaded_files"], t["quarantine"] = load_log_rows(), loaded_files_rows(), quarantine_rows()
    return t


def _demo_iron(t, month: int, site: str, s: int, k: int) -> None:
    pid = f"P-I-{month}-{s}-{k}"
    t["stg_patients"].append(patient(pid, sex="FM"[k % 2], birth_year=1940 + k, site=site))
    status = {0: "never_tested", 1: "tested_after_only"}.get(k % 5, "tested_before")
    ep = episode(
        pid,
        f"2024-{month:02d}-{1 + k % 27:02d}",
        "iron",
        testing_status=status,
        site=site,
        prescriber_specialty=("general practice", "haematology")[k % 2],
    )
    if status == "tested_before" and k % 7 == 2:
        ep["prior_result_class"] = "not_deficient"
    t["episodes"].append(ep)
    result = {0: "failed", 1: "not_assessable"}.get(k % 4, "responded")
    causes = (["low_dose", "blood_loss"] if k % 8 == 0 else ["unexplained"]) if result == "failed" else []
    if (month, s, k) == (6, 0, 4):
        causes = ["marrow"]  # one rare cause: a cell that must be withheld
    t["iron_outcomes"].append(outcome(ep, result, primary_cause=causes[0] if causes else None))
    t["failure_causes"] += [cause(ep, c) for c in causes]


def _demo_other(t, month: int, site: str, s: int, k: int, agent: str) -> None:
    pid = f"P-{agent}-{month}-{s}-{k}"
    t["stg_patients"].append(patient(pid, sex="FM"[k % 2], birth_year=1950 + k, site=site))
    excluded = "pregnancy_folate_prophylaxis" if agent == "folate" and k % 10 == 9 else None
    jic = k % 3 == 0 and excluded is None
    status = "never_tested" if jic else "tested_before"
    t["episodes"].append(
        episode(
            pid,
            f"2024-{month:02d}-{1 + k % 27:02d}",
            agent,
            testing_status=status,
            site=site,
            is_just_in_case=jic,
            excluded_reason=excluded,
        )
    )


def write_warehouse(path: Path, tables: dict[str, list[dict]]) -> Path:
    """Create the DuckDB file with every table of SCHEMAS that `tables` names (missing
    classification tables are created empty; other tables are left out when not given)."""
    db = duckdb.connect(str(path))
    try:
        for name, schema in SCHEMAS.items():
            if name not in tables and name not in ("episodes", "iron_outcomes", "failure_causes"):
                continue
            cols = ", ".join(f'"{c}" {typ}' for c, typ in schema.items())
            db.execute(f"CREATE OR REPLACE TABLE {name} ({cols})")
            rows = tables.get(name, [])
            if rows:
                frame = pd.DataFrame(rows, columns=list(schema)).astype(object)
                frame = frame.where(frame.notna(), None)
                db.register("_rows", frame)
                casts = ", ".join(f'CAST("{c}" AS {typ}) AS "{c}"' for c, typ in schema.items())
                db.execute(f"INSERT INTO {name} SELECT {casts} FROM _rows")
                db.unregister("_rows")
    finally:
        db.close()
    return path


def connect(path: Path):
    import ibis

    return ibis.duckdb.connect(str(path))
