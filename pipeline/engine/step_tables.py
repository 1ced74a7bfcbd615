"""The intermediate tables of a step, kept until its outputs are written.

`StepTables(con, prefix)` is a context manager; `keep(expr)` materialises an expression for
the rest of the step and `write(outputs)` writes the step's output tables. On exit, also
when the step fails, every kept table is dropped while the connection is open.

On DuckDB a kept table is a warehouse table created inside the step's transaction and
dropped before it commits: DuckDB can move its blocks out of memory, which it could not do
with temporary tables, so 10,000,000 patients classify within the 3GB default memory_limit
(docs/performance.md), and a killed or failed step leaves none behind. Use it inside
`transaction(con)`. On Spark, Ibis' `.cache()` (a local checkpoint, pipeline/engine/spark.py)
through `cached`.
"""

from __future__ import annotations

import contextlib

import ibis
import ibis.expr.operations as ops

from pipeline.engine import tables
from pipeline.engine.connection import cached


class StepTables(contextlib.ExitStack):
    def __init__(self, con: ibis.BaseBackend, prefix: str) -> None:
        super().__init__()
        self.con = con
        self.prefix = prefix
        self.names: set[str] = set()

    def keep(self, expr: ibis.Table) -> ibis.Table:
        """`expr` materialised for the rest of the step."""
        if self.con.name != "duckdb":
            return self.enter_context(cached(expr))
        name = f"{self.prefix}_{len(self.names) + 1}"
        self.names.add(name)
        self.callback(self._drop, name)
        return self.con.create_table(name, expr, overwrite=True)

    def write(self, outputs: dict[str, ibis.Table]) -> None:
        """Write the output tables. A kept table that has exactly an output's declared columns
        becomes that output by a rename, not a copy (classify's episodes and failure_causes:
        1.8 s at 1,000,000 patients, issue 11); the others go through `tables.write` first,
        as they may read the kept tables that are renamed."""
        renamed = {name: t.op().name for name, t in outputs.items() if self._is_output(name, t)}
        for name, t in outputs.items():
            if name not in renamed:
                tables.write(self.con, name, t)
        for name, kept in renamed.items():
            tables.drop(self.con, name)
            tables.rename(self.con, kept, name)
            self.names.discard(kept)

    def _is_output(self, name: str, t: ibis.Table) -> bool:
        op = t.op()
        return isinstance(op, ops.DatabaseTable) and op.name in self.names and tables.conforms(name, t)

    def _drop(self, name: str) -> None:
        with contextlib.suppress(Exception):  # a failed transaction rolls them back anyway
            self.con.drop_table(name, force=True)
