"""The engine layer: the only package that knows DuckDB (or, later, Spark).

Reads nothing and writes nothing on its own; the steps call it to
- open the warehouse and group writes in a transaction (`connection`),
- append source tables to raw_* (`raw`),
- create, write and append warehouse tables shaped by the registry (`tables`),
- look up any table's declaration: grain, columns, types, units (`registry`).

Everything above this package speaks Ibis: no duckdb import, no SQL text, no dialect name.
"""

from pipeline.engine.connection import connect, transaction

__all__ = ["connect", "transaction"]
