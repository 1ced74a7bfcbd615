"""Appending source tables to raw_*: the transactional load.

Raw tables keep every contract column as text, exactly as read, plus `row_id` (unique in
the warehouse), `source_file`, `source_row` and `load_id` (pipeline/engine/registry.py). A
file whose SHA-256 was already loaded into the same table adds nothing; a load runs in one
transaction, so a failure leaves the warehouse as it was.
"""

from __future__ import annotations

import uuid
from contextlib import suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb
import ibis

from pipeline.engine.connection import transaction
from pipeline.engine.registry import TABLES, spec
from pipeline.progress import Progress, item, quiet

if TYPE_CHECKING:  # the adapters' type, not a dependency: the engine imports nothing above it
    from pipeline.extract.base import SourceTable

SQL_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "float64": "DOUBLE", "boolean": "BOOLEAN",
              "timestamp(6)": "TIMESTAMP", "date": "DATE"}  # fmt: skip


def ddl(name: str) -> str:
    """CREATE TABLE IF NOT EXISTS for a registered table. row_id is the key of raw tables but
    not declared as one: it is unique by construction (`_insert`: the warehouse's highest
    row_id plus the file's row number, in a transaction that holds DuckDB's only write lock),
    and the index DuckDB builds for a PRIMARY KEY cost 2.6 s of the 17.1 s load of 1,000,000
    patients (issue 11)."""
    cols = [f'"{c.name}" {SQL_TYPES[c.dtype]}' for c in spec(name).columns]
    return f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(cols)})"


def _next_row_id(db: duckdb.DuckDBPyConnection) -> int:
    parts = [f"SELECT max(row_id) AS m FROM raw_{t}" for t in TABLES]
    return int(db.execute(f"SELECT coalesce(max(m), 0) FROM ({' UNION ALL '.join(parts)})").fetchone()[0])


def _insert(db: duckdb.DuckDBPyConnection, st: SourceTable, load_id: str, base: int) -> int:
    db.register("_incoming", st.frame)
    columns = spec(f"raw_{st.table}").names[4:]  # after the provenance columns
    try:
        present = {c[0] for c in db.execute("DESCRIBE _incoming").fetchall()}
        select = ", ".join(f'"{c}"' if c in present else f'NULL::VARCHAR AS "{c}"' for c in columns)
        cols = ", ".join(f'"{c}"' for c in columns)
        # DuckDB returns the number of rows the INSERT wrote: no count read back from rows
        # inside the open transaction (DuckDB scans those on one thread; issue 11)
        inserted = db.execute(
            f"INSERT INTO raw_{st.table} (row_id, load_id, source_file, source_row, {cols}) "
            f"SELECT ? + source_row, ?, ?, source_row, {select} FROM _incoming",
            [base, load_id, st.source_file],
        ).fetchone()
        return int(inserted[0])
    except duckdb.Error:
        if st.failures:  # DuckDB wraps what the stream raised: the adapter's one-line message
            raise st.failures[0] from None
        raise
    finally:
        db.unregister("_incoming")


def new_load_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def load_tables(con: ibis.BaseBackend, tables: list[SourceTable], source: str, progress: Progress = quiet) -> dict:
    """Append the source tables to raw_* in one transaction; returns a summary per file.
    `progress` hears one item per file (its rows and time: pipeline/progress.py)."""
    if con.name != "duckdb":
        from pipeline.engine.spark import load_tables as load_through_parquet

        return load_through_parquet(con, tables, source, progress)
    db: duckdb.DuckDBPyConnection = con.con
    load_id = new_load_id()
    summary = {"load_id": load_id, "files": []}
    # The file's order is kept in source_row (and row_id), not in where DuckDB stores the rows:
    # without preserve_insertion_order DuckDB appends in parallel (load at 1,000,000 patients
    # 14.6 -> 11.9 s wall, 22.7 -> 16.6 s CPU; issue 11). Reset after the transaction has
    # ended: an aborted one refuses every statement but ROLLBACK.
    db.execute("SET preserve_insertion_order = false")
    try:
        with transaction(con):
            db.execute(ddl("loaded_files"))
            for table in TABLES:
                db.execute(ddl(f"raw_{table}"))
            for st in tables:
                with item(progress, "load", f"{st.source_file} -> raw_{st.table}") as done:
                    summary["files"].append(_load_one(db, st, source, load_id))
                    done.rows, done.detail = summary["files"][-1]["rows"], summary["files"][-1]["status"]
    finally:
        with suppress(duckdb.TransactionException):  # inside an outer transaction that failed
            db.execute("RESET preserve_insertion_order")
    return summary


def _load_one(db: duckdb.DuckDBPyConnection, st: SourceTable, source: str, load_id: str) -> dict:
    seen = db.execute("SELECT load_id FROM loaded_files WHERE content_hash = ? AND table_name = ?",
                      [st.content_hash, st.table]).fetchone()  # fmt: skip
    if seen:
        return {"table": st.table, "file": st.source_file, "rows": 0, "status": f"already loaded (load {seen[0]})"}
    n = _insert(db, st, load_id, _next_row_id(db))
    db.execute("INSERT INTO loaded_files VALUES (?, ?, ?, ?, ?, ?, current_timestamp::TIMESTAMP)",
               [load_id, st.table, st.source_file, st.content_hash, source, n])  # fmt: skip
    return {"table": st.table, "file": st.source_file, "rows": n, "status": "loaded"}
