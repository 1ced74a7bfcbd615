"""Reading and writing warehouse tables, shaped by the registry.

`write(con, name, expr)` replaces table `name` with `expr` conformed to its declaration:
the registry's columns in the registry's order and types, and an error when the expression
lacks a declared column or carries an undeclared one (so code and registry cannot drift).
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

from pipeline.engine.registry import ibis_schema, spec

__all__ = [
    "RegistryError",
    "append",
    "as_read_back",
    "conform",
    "conforms",
    "count",
    "create_empty",
    "drop",
    "exists",
    "ibis_schema",
    "joined_in_order",
    "replace_empty",
    "write",
    "write_frame",
]


class RegistryError(RuntimeError):
    """A step produced a table that does not match its declaration: a bug, not user input."""


def conform(name: str, expr: ibis.Table) -> ibis.Table:
    """`expr` with exactly the declared columns of `name`, in order, cast to their types."""
    declared = spec(name)
    missing = [c for c in declared.names if c not in expr.columns]
    extra = [c for c in expr.columns if c not in declared.names]
    if missing or extra:
        raise RegistryError(
            f"{name}: columns differ from pipeline/engine/registry.py (missing {missing}, extra {extra})"
        )
    cols = []
    for c in declared.columns:
        col = expr[c.name]
        cols.append(col if col.type().copy(nullable=True) == c.ibis_type else col.cast(c.ibis_type).name(c.name))
    return expr.select(*cols)


def conforms(name: str, expr: ibis.Table) -> bool:
    """Whether `expr` already has exactly the declared columns of `name`, in order and type
    (`conform` would leave it as it is)."""
    declared = spec(name)
    return tuple(expr.columns) == tuple(declared.names) and all(
        expr[c.name].type().copy(nullable=True) == c.ibis_type for c in declared.columns
    )


def as_read_back(dtype: dt.DataType, engine: str) -> dt.DataType:
    """The type a column declared as `dtype` has when read back from `engine`: Spark stores
    timestamps to the microsecond, as DuckDB does, but reports them without a scale."""
    if engine == "pyspark" and dtype.is_timestamp():
        return dt.Timestamp(timezone=dtype.timezone, nullable=dtype.nullable)
    return dtype


def joined_in_order(value: ibis.Value, order_by: ibis.Value, sep: str) -> ibis.Value:
    """Aggregate: the group's non-null `value`s joined by `sep`, in the order of `order_by`
    (ties by value). Spark refuses group_concat(order_by=...); a sorted array of (order,
    value) pairs gives the same text on every engine."""
    pairs = ibis.struct({"k": order_by, "v": value}).collect(where=value.notnull())
    return pairs.sort().map(lambda p: p.v).join(sep)


def write(con, name: str, expr: ibis.Table) -> None:
    """Replace `name` with `expr` (conformed to the registry)."""
    con.create_table(name, conform(name, expr), overwrite=True)


def write_frame(con, name: str, frame) -> None:
    """Replace `name` with a pandas frame typed by the registry."""
    write(con, name, ibis.memtable(frame, schema=ibis_schema(name)))


def create_empty(con, name: str, table_name: str | None = None) -> None:
    """Create `name` (or `table_name`, declared as `name`) with no rows when it is absent."""
    target = table_name or name
    if target not in con.list_tables():
        con.create_table(target, schema=ibis_schema(name))


def replace_empty(con, name: str) -> None:
    """Replace `name` with an empty table of its declared columns."""
    con.drop_table(name, force=True)
    con.create_table(name, schema=ibis_schema(name))


def append(con, name: str, expr: ibis.Table) -> None:
    """Append the rows of `expr` (conformed to the registry) to the existing table `name`."""
    con.insert(name, conform(name, expr))


def exists(con, name: str) -> bool:
    return name in con.list_tables()


def count(con, name: str) -> int:
    return int(con.table(name).count().execute())


def drop(con, name: str) -> None:
    con.drop_table(name, force=True)
