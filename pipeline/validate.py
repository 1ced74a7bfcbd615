"""Validate raw rows into staged tables and the quarantine, then reconcile.

For each raw table present: type and map the rows (pipeline/staging/<table>.py), evaluate
every row-level check in the database, write each failing row x check to `quarantine` with a
reason a person can act on, write the rows that pass every check to `stg_<table>`, and check
the staged table against its Pandera model (schemas/<table>.py) in the database. Finally,
per table and file, raw rows = staged rows + quarantined rows (a row failing several checks
counts once) is stored in `load_log`; a mismatch is a bug and stops the run.

The whole step runs in one transaction and rebuilds stg_* and quarantine from all raw rows,
so running it twice gives the same result.
"""

from __future__ import annotations

from datetime import date
from types import ModuleType

import ibis
import pandas as pd

from pipeline.extract.base import COLUMNS, TABLES
from pipeline.staging import diagnoses, dispensings, labs, patients, prescriptions
from pipeline.staging.common import Context, raw_values
from schemas import contracts

MODULES: dict[str, ModuleType] = {"patients": patients, "labs": labs, "prescriptions": prescriptions,
                                  "dispensings": dispensings, "diagnoses": diagnoses}
QUARANTINE_COLUMNS = ("table_name", "row_id", "source_file", "source_row", "check_id", "reason", "raw_values")


class ReconciliationError(RuntimeError):
    """raw != staged + quarantined: a bug in the pipeline, never the user's fault."""


def _failures(cand: ibis.Table, table: str, ctx: Context) -> ibis.Table | None:
    parts = []
    for check in MODULES[table].checks(ctx):
        bad = cand.filter(check.fails(cand).fill_null(False))
        parts.append(bad.select(table_name=ibis.literal(table), row_id=bad.row_id, source_file=bad.source_file,
                                source_row=bad.source_row, check_id=ibis.literal(check.check_id),
                                reason=check.reason(bad).fill_null(check.description),
                                raw_values=raw_values(bad, COLUMNS[table])))
    return ibis.union(*parts, distinct=False) if parts else None


def _stage_table(con, table: str, ctx: Context, progress) -> None:
    db = con.con
    progress(f"  validating raw_{table} ...")
    cand = MODULES[table].typed(con.table(f"raw_{table}"), ctx)
    con.create_table(f"_cand_{table}", cand, overwrite=True)
    cand = con.table(f"_cand_{table}")
    failed = _failures(cand, table, ctx)
    db.execute(f"INSERT INTO quarantine {ibis.to_sql(failed, dialect='duckdb')}")
    bad_ids = con.table("quarantine").filter(lambda q: q.table_name == table).select("row_id")
    good = cand.anti_join(bad_ids, "row_id")
    con.create_table(f"stg_{table}", MODULES[table].staged(good).order_by("row_id"), overwrite=True)
    con.drop_table(f"_cand_{table}")
    contracts.check_staged(table, con.table(f"stg_{table}"))


def _reconcile(con, tables: list[str]) -> list[dict]:
    db = con.con
    rows = db.execute(" UNION ALL ".join(
        f"""SELECT '{t}' AS table_name, r.source_file, count(*) AS raw_rows,
                   count(s.row_id) AS staged_rows, count(q.row_id) AS quarantined_rows
            FROM raw_{t} r
            LEFT JOIN stg_{t} s USING (row_id)
            LEFT JOIN (SELECT DISTINCT row_id FROM quarantine WHERE table_name = '{t}') q USING (row_id)
            GROUP BY r.source_file""" for t in tables) + " ORDER BY 1, 2").fetchall()
    out = [dict(zip(("table_name", "source_file", "raw_rows", "staged_rows", "quarantined_rows"), r)) for r in rows]
    for r in out:
        if r["raw_rows"] != r["staged_rows"] + r["quarantined_rows"]:
            raise ReconciliationError(f"{r['table_name']}/{r['source_file']}: raw {r['raw_rows']} != staged "
                                      f"{r['staged_rows']} + quarantined {r['quarantined_rows']}")
    return out


def _write_load_log(con) -> None:
    con.con.execute("""CREATE OR REPLACE TABLE load_log AS
        SELECT f.load_id, r.table_name, r.source_file, r.raw_rows, r.staged_rows, r.quarantined_rows,
               f.loaded_at, current_timestamp AS validated_at
        FROM _reconciliation r
        LEFT JOIN (SELECT table_name, source_file, max(load_id) AS load_id, max(loaded_at) AS loaded_at
                   FROM loaded_files GROUP BY ALL) f USING (table_name, source_file)
        ORDER BY r.table_name, r.source_file""")


def present_tables(con) -> list[str]:
    existing = set(con.list_tables())
    return [t for t in TABLES if f"raw_{t}" in existing
            and con.con.execute(f"SELECT count(*) FROM raw_{t}").fetchone()[0] > 0]


def validate(con, config, today: date | None = None, progress=print) -> list[dict]:
    """Rebuild stg_* and quarantine from raw_*; return the reconciliation per table and file."""
    tables = present_tables(con)
    db = con.con
    db.execute("BEGIN TRANSACTION")
    try:
        db.execute("CREATE OR REPLACE TABLE quarantine (table_name VARCHAR, row_id BIGINT, source_file VARCHAR, "
                   "source_row BIGINT, check_id VARCHAR, reason VARCHAR, raw_values VARCHAR)")
        for t in TABLES:
            db.execute(f"DROP TABLE IF EXISTS stg_{t}")
        ctx = Context(config=config, con=con, today=today or date.today())
        _stage_table(con, "patients", ctx, progress)
        ctx = Context(config=config, con=con, today=ctx.today, patients=con.table("stg_patients"))
        for table in tables:
            if table != "patients":
                _stage_table(con, table, ctx, progress)
        result = _reconcile(con, tables)
        db.register("_reconciliation_df", pd.DataFrame(result))
        db.execute("CREATE OR REPLACE TEMP TABLE _reconciliation AS SELECT * FROM _reconciliation_df")
        db.unregister("_reconciliation_df")
        _write_load_log(con)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return result
