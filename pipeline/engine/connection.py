"""Connections and transactions: the only module that opens a database.

`connect(path)` opens the DuckDB warehouse file through Ibis; every step above receives
the Ibis backend and speaks Ibis. `transaction(con)` makes a group of writes all-or-nothing
on DuckDB (other engines write in turn). `empty_warehouse(path)` is `run --fresh`: it takes
the warehouse's write lock before removing anything, so it can never pull a warehouse from
under another process that is writing it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb
import ibis

from pipeline.engine import spark
from pipeline.engine.spark import SparkWarehouse
from pipeline.errors import UserError


def warehouse_exists(target: str | Path | SparkWarehouse) -> bool:
    """Whether the warehouse (a DuckDB file or a Spark warehouse) has been created."""
    return target.exists() if isinstance(target, SparkWarehouse) else Path(target).exists()


def connect(db_path: str | Path | SparkWarehouse, read_only: bool = False, engine=None) -> ibis.BaseBackend:
    """An Ibis DuckDB connection to the warehouse file (created when missing unless read_only).
    `engine` (the config's `[engine]` section) sets DuckDB's memory limit, threads and spill
    folder, so a large cohort spills to disk instead of running out of memory. Given a
    `SparkWarehouse`, the Ibis PySpark connection to it (pipeline/engine/spark.py)."""
    if isinstance(db_path, SparkWarehouse):
        return spark.connect(db_path, read_only=read_only)
    db_path = Path(db_path)
    if read_only and not db_path.exists():
        raise UserError(f"warehouse not found: {db_path} (run `anemia-audit load` first)")
    _check_is_duckdb(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = ibis.duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.IOException as exc:
        raise UserError(f"{db_path}: cannot open the warehouse ({str(exc).splitlines()[0]})") from None
    if engine is not None:
        _apply_settings(con, engine)
    return con


def _check_is_duckdb(db_path: Path) -> None:
    """DuckDB opens a non-empty file shorter than its header (a small CSV passed as --db) as a
    new database and may overwrite it later; refuse anything that is not a DuckDB file."""
    try:
        with open(db_path, "rb") as fh:
            head = fh.read(12)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UserError(f"{db_path}: cannot open the warehouse ({exc.strerror})") from None
    if head and head[8:12] != b"DUCK":
        raise UserError(f"{db_path}: is not a DuckDB warehouse file; pass --db a .duckdb file (it is left untouched)")


def _apply_settings(con, engine) -> None:
    settings = {
        "memory_limit": engine.memory_limit,
        "threads": engine.threads,
        "temp_directory": engine.temp_directory,
        "disabled_compression_methods": engine.disabled_compression_methods,
    }
    for name, value in settings.items():
        if value in ("", 0):  # DuckDB's own default
            continue
        try:
            con.con.execute(f"SET {name} = ?", [value])
        except duckdb.Error as exc:
            raise UserError(f"[engine] {name} = {value!r} is refused by DuckDB ({str(exc).splitlines()[0]})") from None


@contextmanager
def transaction(con: ibis.BaseBackend) -> Iterator[None]:
    """All writes inside the block land together or not at all (DuckDB). Nested use joins
    the outer transaction."""
    if con.name != "duckdb" or getattr(con, "_anemia_in_transaction", False):
        yield
        return
    db = con.con
    db.execute("BEGIN TRANSACTION")
    con._anemia_in_transaction = True
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    else:
        db.execute("COMMIT")
    finally:
        con._anemia_in_transaction = False


def scratch_table(con: ibis.BaseBackend, name: str, expr: ibis.Table) -> ibis.Table:
    """`expr` materialised as the DuckDB temporary table `name` for the rest of a step (the
    caller drops it: `StepTables`). Spark has no temporary tables: StepTables uses Ibis'
    cache there."""
    # Not `overwrite=True`: for a temporary table Ibis then writes it under another name and
    # copies it whole (1.6 s for the 5.3 M-row labs candidate at 1 M patients, issue 11).
    con.con.execute(f'DROP TABLE IF EXISTS temp.main."{name}"')
    return con.create_table(name, expr, temp=True)


@contextmanager
def unfused_selects() -> Iterator[None]:
    """Ibis compiles each select of the block as its own subquery instead of merging
    consecutive selects into one (Ibis' `options.sql.fuse_selects`, restored on exit). For
    validate's long chains of typing steps the merged form repeated expressions and took
    longer to compile: measured twice each, validate at 1,000,000 patients 24.5-24.7 ->
    22.7-23.7 s and at 200,000 patients 9.4-9.9 -> 8.0-8.3 s (issue 11). Classify and audit
    gained less than the noise, and audit used more memory, so they keep Ibis' default."""
    before = ibis.options.sql.fuse_selects
    ibis.options.sql.fuse_selects = False
    try:
        yield
    finally:
        ibis.options.sql.fuse_selects = before


@contextmanager
def cached(expr: ibis.Table) -> Iterator[ibis.Table]:
    """`expr` computed once for the block (Ibis `.cache()`: a temporary table on DuckDB, a
    local checkpoint on Spark) and released on exit, also on an error, while the connection
    is still open. Left to Ibis, a cached table is dropped when Python collects it, which can
    be at exit after the connection closed: a traceback after the step's own message."""
    table = expr.cache()
    try:
        yield table
    finally:
        with suppress(Exception):  # a failed transaction may have taken it already
            table.release()


def empty_warehouse(db_path: str | Path | SparkWarehouse) -> int:
    """Drop every table and view of the warehouse at `db_path`, in one transaction, while
    holding DuckDB's write lock; returns how many were dropped. When another process has
    the warehouse open, opening it read-write fails and nothing is touched (a UserError);
    a file that is not a DuckDB database is refused the same way, never deleted. A Spark
    warehouse has its tables dropped (Parquet folders and catalog entries)."""
    if isinstance(db_path, SparkWarehouse):
        return spark.empty_warehouse(db_path)
    con = connect(db_path)
    try:
        db = con.con
        objects = db.execute(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_catalog = current_database()"
            " AND table_schema = 'main'"
        ).fetchall()
        with transaction(con):
            for name, kind in objects:
                db.execute(f'DROP {"VIEW" if kind == "VIEW" else "TABLE"} IF EXISTS "{name}"')
        db.execute("CHECKPOINT")  # the freed blocks are reused by the next load
        return len(objects)
    finally:
        con.disconnect()
