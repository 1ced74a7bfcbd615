"""anemia-audit: audit anaemia care from de-identified data.

The public API for notebooks:

- `open_warehouse(path)` -> `Warehouse`: the audit tables as Ibis tables
  (`wh.episodes.to_pandas()`, `wh.table("stg_labs").to_polars()`).
- `classify_with(overrides, path)`: the classification tables recomputed with changed
  thresholds, without touching the warehouse's own results.
- `pipeline.charts`: the chart functions the report uses.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["Warehouse", "build_demo_warehouse", "classify_with", "open_warehouse"]


class Warehouse:
    """Read-only view of the audit warehouse; tables are Ibis expressions evaluated in DuckDB.

    >>> import tempfile, duckdb
    >>> path = Path(tempfile.mkdtemp()) / "w.duckdb"
    >>> duckdb.connect(str(path)).execute("create table episodes as select 1 as n").close()
    >>> wh = open_warehouse(path)
    >>> wh.tables()
    ['episodes']
    >>> int(wh.episodes.n.sum().to_pandas())
    1
    """

    def __init__(self, path: str | Path):
        from pipeline.engine import connect

        self.path = Path(path)
        self.con = connect(self.path, read_only=True)

    def tables(self) -> list[str]:
        return sorted(t for t in self.con.list_tables() if not t.startswith("_"))

    def table(self, name: str):
        return self.con.table(name)

    def __getattr__(self, name: str):
        if name.startswith("_") or name in ("con", "path"):
            raise AttributeError(name)
        if name in self.con.list_tables():
            return self.con.table(name)
        raise AttributeError(f"no table {name!r} in {self.path}; tables: {', '.join(self.tables())}")

    def sql(self, query: str):
        """Run a read-only SQL query; returns an Ibis table."""
        return self.con.sql(query)

    def close(self) -> None:
        self.con.disconnect()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"Warehouse({str(self.path)!r}, tables={self.tables()})"


def open_warehouse(path: str | Path = "data/processed/audit.duckdb") -> Warehouse:
    """Open the warehouse read-only (see `Warehouse`)."""
    return Warehouse(path)


def build_demo_warehouse(path: str | Path, patients: int = 300, seed: int = 1) -> Path:
    """A new synthetic warehouse (synth, load, validate, classify, audit) at `path`."""
    from pipeline.steps import build_demo_warehouse as _build

    return _build(path, patients, seed)


def classify_with(overrides: dict, path: str | Path = "data/processed/audit.duckdb") -> dict:
    """Episodes, iron outcomes and failure causes recomputed with `overrides` (e.g.
    `{"testing": {"lookback_days": 180}}`), as Ibis tables; nothing is written.

        >>> import tempfile
        >>> demo = build_demo_warehouse(Path(tempfile.mkdtemp()) / "demo.duckdb", patients=120)
        >>> strict = classify_with({"testing": {"lookback_days": 1}}, demo)
        >>> sorted(strict)
        ['episodes', 'failure_causes', 'iron_outcomes']
        >>> def tested(episodes):
        ...     return int((episodes.testing_status == "tested_before").sum().to_pandas())
        >>> tested(strict["episodes"]) < tested(open_warehouse(demo).episodes)
        True
    """
    from pipeline.rules.classify import classify_with as _classify_with

    return _classify_with(overrides, open_warehouse(path).con)
