"""Reading source files with SQL in a private in-memory DuckDB (the OMOP and MIMIC adapters).

The adapters describe their mapping as SQL over the source files; these helpers run it on
a scratch database (never the warehouse) and hand back Arrow tables for the raw load.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

DatabaseError = duckdb.Error


def scratch() -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB for reading source files."""
    return duckdb.connect()


def sql_path(path: Path) -> str:
    """`path` as the body of an SQL string literal."""
    return str(path).replace("'", "''")


def column_names(con: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    """Column names of a table or view on the scratch database."""
    return {row[0] for row in con.execute(f"DESCRIBE {relation}").fetchall()}


def text_columns(con: duckdb.DuckDBPyConnection, sql: str, columns: tuple[str, ...]) -> pa.Table:
    """Run `sql` (which yields `source_row` and some of `columns`) into an Arrow table holding
    every one of `columns` as text (null when the query lacks it), in source order."""
    present = set(con.sql(sql).columns)
    cols = ", ".join(
        f"CAST({c} AS VARCHAR) AS {c}" if c in present else f"CAST(NULL AS VARCHAR) AS {c}" for c in columns
    )
    return con.sql(
        f"SELECT {cols}, CAST(source_row AS BIGINT) AS source_row FROM ({sql}) ORDER BY source_row"
    ).to_arrow_table()
