"""The engine layer: the only package that knows DuckDB or Spark.

Reads nothing and writes nothing on its own; the steps call it to
- open the warehouse and group writes in a transaction (`connection`; Spark in `spark`),
- append source tables to raw_* (`raw`),
- create, write and append warehouse tables shaped by the registry (`tables`),
- look up any table's declaration: grain, columns, types, units (`registry`).

Everything above this package speaks Ibis: no duckdb import, no SQL text, no dialect name.
"""

from pipeline.engine.connection import connect, scratch_table, transaction, warehouse_exists
from pipeline.engine.spark import SparkWarehouse

__all__ = ["SparkWarehouse", "connect", "scratch_table", "transaction", "warehouse_exists"]
