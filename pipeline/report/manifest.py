"""manifest.json: what the report was made from, so a reader can reproduce or trust it.

Input files with their SHA-256 (as recorded at load), the effective config and its hash,
the code-list and reference-table versions, package versions, the git commit, row counts
of every warehouse step, the files written and the run time.
"""

from __future__ import annotations

import csv
import hashlib
import json
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from pipeline.paths import CODELISTS_DIR, PROJECT_DIR, REFERENCE_DIR

PACKAGES = (
    "anemia-audit",
    "duckdb",
    "ibis-framework",
    "sqlglot",
    "pandera",
    "pandas",
    "polars",
    "pyarrow",
    "altair",
    "vl-convert-python",
    "openpyxl",
    "jinja2",
    "typer",
    "rich",
)
STEP_PREFIXES = ("raw_", "stg_", "aud_")
STEP_TABLES = ("quarantine", "load_log", "episodes", "iron_outcomes", "failure_causes")


def write(
    path: Path,
    folder: str,
    con,
    config,
    data,
    outputs: dict[str, int],
    started: datetime,
    seconds: float,
    extra: dict | None,
) -> None:
    outputs = {
        **outputs,
        "local-only/row_counts.json": write_local_counts(path.parent / "local-only" / LOCAL_COUNTS, con),
    }
    doc = {
        "report": {
            "folder": folder,
            "period_from": _iso(data.period_from),
            "period_to": _iso(data.period_to),
            "by": data.by,
            "latest_period": None if data.latest is None else data.latest.strftime("%Y-%m-%d"),
            "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finished_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "run_seconds": round(seconds, 2),
        },
        "inputs": input_files(con),
        "config": {"origin": config.origin, "hash": config.hash(), "values": config.as_dict()},
        "audit_run": audit_run(con, config),
        "disclosure": {"threshold": data.threshold, "rounding": data.rounding},
        "code_lists": file_versions(CODELISTS_DIR),
        "reference_tables": file_versions(REFERENCE_DIR),
        "software": {"python": platform.python_version(), "packages": package_versions()},
        "git": git_state(),
        # Rows of source-row tables only: the exact counts of episodes, iron_outcomes,
        # failure_causes and aud_* add equations an attacker can solve for withheld cells
        # (docs/measures.md); they are in local-only/row_counts.json.
        "row_counts": released_row_counts(con),
        "outputs": outputs,
        "extra": extra or {},
    }
    path.write_text(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")


def _iso(d) -> str | None:
    return None if d is None else d.isoformat()


def input_files(con) -> list[dict]:
    """One entry per file of every load (the load register `loaded_files`): table, file,
    source, sha256, load id and time, and that file's own reconciliation from `load_log`
    (raw, staged and quarantined rows of that load of that file; a file loaded twice under
    one name, from two folders, is two entries). Staged and quarantined are null before
    validation."""
    tables = set(con.list_tables())
    if "loaded_files" not in tables:
        return []
    files = con.table("loaded_files").to_pandas()
    counts = {}
    if "load_log" in tables:
        log = con.table("load_log").to_pandas()
        counts = {(r.table_name, r.source_file, r.load_id): r for r in log.itertuples()}
    out = []
    for r in files.sort_values(["table_name", "source_file", "loaded_at", "load_id"]).itertuples():
        rec = counts.get((r.table_name, r.source_file, r.load_id))
        out.append(
            {
                "table_name": r.table_name,
                "source_file": r.source_file,
                "source": r.source,
                "sha256": r.content_hash,
                "load_id": r.load_id,
                "loaded_at": str(r.loaded_at),
                "raw_rows": int(rec.raw_rows) if rec is not None else int(r.n_rows),
                "staged_rows": int(rec.staged_rows) if rec is not None else None,
                "quarantined_rows": int(rec.quarantined_rows) if rec is not None else None,
            }
        )
    return out


def audit_run(con, config) -> dict | None:
    """When and with which config the aud_* tables were computed; `same_config` is false
    when the report is built with a different config than the audit was."""
    if "audit_run" not in con.list_tables():
        return None
    run = con.table("audit_run").to_pandas()
    if run.empty:
        return None
    row = {k: (v.item() if hasattr(v, "item") else v) for k, v in run.iloc[0].to_dict().items()}
    row["run_at"] = str(row.get("run_at"))
    row["same_config"] = row.get("config_hash") == config.hash()
    return row


def file_versions(folder: Path) -> dict[str, dict]:
    """For each committed CSV: its versions (the `version` column) and SHA-256."""
    out = {}
    for path in sorted(folder.glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        versions = sorted({r["version"] for r in rows if r.get("version")}) if rows and "version" in rows[0] else []
        out[path.name] = {
            "versions": versions,
            "rows": len(rows),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
    return out


def package_versions() -> dict[str, str | None]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state() -> dict:
    """The commit of the code that made the report (null outside a git checkout) and
    whether the working tree had uncommitted changes."""

    def git(*args: str) -> str | None:
        try:
            r = subprocess.run(["git", "-C", str(PROJECT_DIR), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


LOCAL_COUNTS = "row_counts.json"
RELEASED_COUNT_PREFIXES = ("raw_", "stg_")
RELEASED_COUNT_TABLES = ("quarantine", "load_log")


def released_row_counts(con) -> dict[str, int]:
    """Row counts that may be released: tables of source rows (raw, staged, quarantine,
    load_log), not of episodes or measure cells."""
    return {k: v for k, v in row_counts(con).items()
            if k.startswith(RELEASED_COUNT_PREFIXES) or k in RELEASED_COUNT_TABLES}  # fmt: skip


def write_local_counts(path: Path, con) -> int:
    """Every table's exact row count, for local-only/ (not for release)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(row_counts(con), indent=2) + "\n", encoding="utf-8")
    return 1


def row_counts(con) -> dict[str, int]:
    """Rows in every pipeline table of the warehouse (raw, staged, quarantine, classification, audit)."""
    out = {}
    for name in sorted(con.list_tables()):
        if name.startswith(STEP_PREFIXES) or name in STEP_TABLES:
            out[name] = int(con.table(name).count().execute())
    return out
