"""The benchmark's floor: DuckDB reading the canonical CSV files into tables, nothing else
(no row ids, no text typing, no checks). `anemia-audit bench` runs it as its own process:

    python -m pipeline.engine.bare_ingest INPUT_DIR DB_FILE COUNTS_JSON

It writes the rows read per file to COUNTS_JSON (the benchmark's row count).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb

from pipeline.engine.files import sql_path
from pipeline.engine.registry import TABLES


def ingest(input_dir: Path, db: Path) -> dict[str, int]:
    """Each `<table>.csv` of `input_dir` into table `<table>` of a new DuckDB file `db`
    (DuckDB's own `read_csv`, types sniffed); the rows of each."""
    con = duckdb.connect(str(db))
    try:
        counts = {}
        for table in TABLES:
            path = input_dir / f"{table}.csv"
            if path.exists():
                con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv('{sql_path(path)}')")
                counts[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return counts
    finally:
        con.close()


if __name__ == "__main__":
    source, target, counts_file = map(Path, sys.argv[1:4])
    counts_file.write_text(json.dumps(ingest(source, target)), encoding="utf-8")
