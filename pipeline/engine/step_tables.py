"""The intermediate tables of a step, kept until its outputs are written.

`StepTables(con, prefix)` is a context manager; `keep(expr)` materialises an expression for
the rest of the step (or until `release`) and `write(outputs)` writes the step's output
tables, all in one transaction. On exit, also when the step fails, every kept table is
dropped while the connection is open. Classify and validate use it.

Use it outside `transaction(con)`: only `write` opens one. On DuckDB a kept table is a
temporary table (`scratch_table`), committed as it is written. DuckDB scans a committed
table in parallel but rows written inside a still-open transaction on one thread, and a
temporary table is neither compressed nor written to the warehouse file: classify at
1,000,000 patients 14.2-17.0 -> 11.3-13.5 s (issue 11, docs/performance.md). A temporary
table lives in the connection, never in the warehouse file, so a killed step leaves none
behind; DuckDB moves it to `temp_directory` beyond `memory_limit`. On Spark, Ibis'
`.cache()` (a local checkpoint, pipeline/engine/spark.py).
"""

from __future__ import annotations

import contextlib

import ibis

from pipeline.engine import tables
from pipeline.engine.connection import scratch_table, transaction


class StepTables(contextlib.ExitStack):
    def __init__(self, con: ibis.BaseBackend, prefix: str) -> None:
        super().__init__()
        self.con = con
        self.prefix = prefix
        self.kept = 0

    def keep(self, expr: ibis.Table, name: str | None = None) -> ibis.Table:
        """`expr` materialised until `release` or the end of the step. On DuckDB `name` names
        the temporary table (default `<prefix>_<n>`); on Spark it is Ibis' cache."""
        if self.con.name != "duckdb":
            table = expr.cache()
            self.callback(self.release, table)
            return table
        self.kept += 1
        name = name or f"{self.prefix}_{self.kept}"
        self.callback(self._drop, name)  # before it is written: a failed write leaves no table either
        return scratch_table(self.con, name, expr)

    def release(self, table: ibis.Table) -> None:
        """Drop a kept table now, before the step ends, to give its memory back (validate holds
        one table's typed candidate at a time: at 10,000,000 patients that matters). Releasing
        a table again, as the exit does, changes nothing."""
        if self.con.name == "duckdb":
            self._drop(table.op().name)  # get_name() is qualified (temp.main.name)
            return
        with contextlib.suppress(Exception):  # already released, or the session is failing
            table.release()

    def _drop(self, name: str) -> None:
        with contextlib.suppress(Exception):  # the connection may be failing already
            self.con.drop_table(name, force=True)

    def write(self, outputs: dict[str, ibis.Table]) -> None:
        """Write the output tables (conformed to the registry), together or not at all."""
        with transaction(self.con):
            for name, t in outputs.items():
                tables.write(self.con, name, t)
