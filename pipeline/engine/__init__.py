"""The engine layer: the only package that knows DuckDB or Spark.

Reads nothing and writes nothing on its own; the steps call it to
- open the warehouse and group writes in a transaction (`connection`; Spark in `spark`),
- keep a step's intermediate tables until its outputs are written (`step_tables`),
- append source tables to raw_* (`raw`),
- create, write and append warehouse tables shaped by the registry (`tables`),
- look up any table's declaration: grain, columns, types, units (`registry`).

Everything above this package speaks Ibis: no duckdb import, no SQL text, no dialect name.
"""

__all__ = [
    "SparkWarehouse",
    "StepTables",
    "cached",
    "connect",
    "scratch_table",
    "transaction",
    "unfused_selects",
    "warehouse_exists",
]


def __getattr__(name: str):
    # Imported on first use, so that reading the registry (the synthetic generator, `--help`)
    # does not load DuckDB, Ibis or PySpark.
    if name == "SparkWarehouse":
        from pipeline.engine.spark import SparkWarehouse

        return SparkWarehouse
    if name == "StepTables":
        from pipeline.engine.step_tables import StepTables

        return StepTables
    if name in __all__:
        from pipeline.engine import connection

        return getattr(connection, name)
    raise AttributeError(f"module 'pipeline.engine' has no attribute {name!r}")
