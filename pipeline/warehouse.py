"""The DuckDB warehouse file: connection, raw tables, and the transactional load.

Raw tables keep every contract column as text, exactly as read, plus `row_id` (unique in
the warehouse), `source_file`, `source_row` and `load_id`. A file whose SHA-256 was already
loaded into the same table adds nothing; a load runs in one transaction, so a failure leaves
the warehouse as it was.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import ibis

from pipeline.errors import UserError
from pipeline.extract.base import COLUMNS, SourceTable

LOADED_FILES_DDL = """CREATE TABLE IF NOT EXISTS loaded_files (
    load_id VARCHAR, table_name VARCHAR, source_file VARCHAR, content_hash VARCHAR,
    source VARCHAR, n_rows BIGINT, loaded_at TIMESTAMP)"""


def connect(db_path: str | Path, read_only: bool = False) -> ibis.BaseBackend:
    """An Ibis DuckDB connection to the warehouse file (created when missing unless read_only)."""
    db_path = Path(db_path)
    if read_only and not db_path.exists():
        raise UserError(f"warehouse not found: {db_path} (run `anemia-audit load` first)")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return ibis.duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.IOException as exc:
        raise UserError(f"{db_path}: cannot open the warehouse ({str(exc).splitlines()[0]})") from None


def raw_ddl(table: str) -> str:
    cols = ", ".join(f'"{c}" VARCHAR' for c in COLUMNS[table])
    return (f"CREATE TABLE IF NOT EXISTS raw_{table} (row_id BIGINT PRIMARY KEY, load_id VARCHAR, "
            f"source_file VARCHAR, source_row BIGINT, {cols})")


def _next_row_id(db: duckdb.DuckDBPyConnection) -> int:
    parts = [f"SELECT max(row_id) AS m FROM raw_{t}" for t in COLUMNS]
    return int(db.execute(f"SELECT coalesce(max(m), 0) FROM ({' UNION ALL '.join(parts)})").fetchone()[0])


def _insert(db: duckdb.DuckDBPyConnection, st: SourceTable, load_id: str, base: int) -> int:
    db.register("_incoming", st.frame)
    try:
        present = {c[0] for c in db.execute("DESCRIBE _incoming").fetchall()}
        select = ", ".join(f'"{c}"' if c in present else f"NULL::VARCHAR AS \"{c}\"" for c in COLUMNS[st.table])
        cols = ", ".join(f'"{c}"' for c in COLUMNS[st.table])
        db.execute(f"INSERT INTO raw_{st.table} (row_id, load_id, source_file, source_row, {cols}) "
                   f"SELECT ? + source_row, ?, ?, source_row, {select} FROM _incoming",
                   [base, load_id, st.source_file])
        return int(db.execute(f"SELECT count(*) FROM raw_{st.table} WHERE load_id = ? AND source_file = ?",
                              [load_id, st.source_file]).fetchone()[0])
    finally:
        db.unregister("_incoming")


def load_tables(con: ibis.BaseBackend, tables: list[SourceTable], source: str, progress=print) -> dict:
    """Append the source tables to raw_* in one transaction; returns a summary per file."""
    db: duckdb.DuckDBPyConnection = con.con
    load_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    summary = {"load_id": load_id, "files": []}
    db.execute("BEGIN TRANSACTION")
    try:
        db.execute(LOADED_FILES_DDL)
        for table in COLUMNS:
            db.execute(raw_ddl(table))
        for st in tables:
            seen = db.execute("SELECT load_id FROM loaded_files WHERE content_hash = ? AND table_name = ?",
                              [st.content_hash, st.table]).fetchone()
            if seen:
                summary["files"].append({"table": st.table, "file": st.source_file, "rows": 0,
                                         "status": f"already loaded (load {seen[0]})"})
                continue
            progress(f"  loading {st.source_file} -> raw_{st.table} ...")
            n = _insert(db, st, load_id, _next_row_id(db))
            db.execute("INSERT INTO loaded_files VALUES (?, ?, ?, ?, ?, ?, current_timestamp)",
                       [load_id, st.table, st.source_file, st.content_hash, source, n])
            summary["files"].append({"table": st.table, "file": st.source_file, "rows": n, "status": "loaded"})
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return summary
