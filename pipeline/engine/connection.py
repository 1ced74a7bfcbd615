"""Connections and transactions: the only module that opens a database.

`connect(path)` opens the DuckDB warehouse file through Ibis; every step above receives
the Ibis backend and speaks Ibis. `transaction(con)` makes a group of writes all-or-nothing
on DuckDB (other engines write in turn). `empty_warehouse(path)` is `run --fresh`: it takes
the warehouse's write lock before removing anything, so it can never pull a warehouse from
under another process that is writing it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
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


@contextmanager
def scratch_tables(con: ibis.BaseBackend, prefix: str) -> Iterator[Callable[[ibis.Table], ibis.Table]]:
    """Yields `keep(expr)`, which materialises `expr` for the rest of the block as a table
    committed when it is written, so that reading it uses every core; open it before the
    step's `transaction(con)`. On DuckDB the tables (`<prefix>_1`, `<prefix>_2`, ...) are
    in the step's scratch database (`scratch_database`); on Spark they are Ibis `.cache()`
    local checkpoints (`cached`). Either way they are gone when the block ends."""
    if con.name != "duckdb":
        with ExitStack() as stack:
            yield lambda expr: stack.enter_context(cached(expr))
        return
    numbers = itertools.count(1)
    with scratch_database(con) as database:
        yield lambda expr: con.create_table(f"{prefix}_{next(numbers)}", expr, database=database)


SCRATCH = "anemia_scratch"


@contextmanager
def scratch_database(con: ibis.BaseBackend) -> Iterator[tuple[str, str]]:
    """A DuckDB database attached for a step's intermediate tables; yields the Ibis `database`
    to create and read them in. Its tables are committed as they are written, outside the
    step's transaction: DuckDB reads a committed table in parallel, but one written inside a
    still-open transaction at about half the speed (copying 5.3 M lab rows: 2.3 s against
    4.7 s, issue 11). It is a file beside the warehouse (`<warehouse>.scratch`), never the
    warehouse itself, so a failed or killed step leaves the warehouse as it was, and DuckDB
    can move its blocks out of memory (temporary tables ran out of memory at 10,000,000
    patients). The file is removed on exit; one left by a killed step is replaced. (Classify
    keeps its steps inside its transaction instead, `StepTables`: with committed step tables
    its "iron response" query ran out of memory at 10,000,000 patients under the 3GB default.)"""
    db = con.con
    path = db.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    target = f"{path}.scratch" if path else ":memory:"
    _remove_database_file(target)
    db.execute(f"ATTACH '{target.replace(chr(39), chr(39) * 2)}' AS {SCRATCH}")
    try:
        yield (SCRATCH, "main")
    finally:
        with suppress(duckdb.Error):
            db.execute(f"DETACH {SCRATCH}")
        _remove_database_file(target)


def _remove_database_file(target: str) -> None:
    if target != ":memory:":
        for leftover in (Path(target), Path(f"{target}.wal")):
            leftover.unlink(missing_ok=True)


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
