"""Connections and transactions: the only module that opens a database.

`connect(path)` opens the DuckDB warehouse file through Ibis; every step above receives
the Ibis backend and speaks Ibis. `transaction(con)` makes a group of writes all-or-nothing
on DuckDB (other engines write in turn).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import ibis

from pipeline.errors import UserError


def connect(db_path: str | Path, read_only: bool = False, engine=None) -> ibis.BaseBackend:
    """An Ibis DuckDB connection to the warehouse file (created when missing unless read_only).
    `engine` (the config's `[engine]` section) sets DuckDB's memory limit, threads and spill
    folder, so a large cohort spills to disk instead of running out of memory."""
    db_path = Path(db_path)
    if read_only and not db_path.exists():
        raise UserError(f"warehouse not found: {db_path} (run `anemia-audit load` first)")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = ibis.duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.IOException as exc:
        raise UserError(f"{db_path}: cannot open the warehouse ({str(exc).splitlines()[0]})") from None
    if engine is not None:
        _apply_settings(con, engine)
    return con


def _apply_settings(con, engine) -> None:
    settings = {"memory_limit": engine.memory_limit, "threads": engine.threads, "temp_directory": engine.temp_directory}
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
