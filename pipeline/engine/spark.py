"""The Spark warehouse: the same Ibis steps on Apache Spark (Ibis' PySpark backend).

A `SparkWarehouse` names where the tables live: Spark's `spark.sql.warehouse.dir`, one
Parquet folder per table, and the master to run on. With a local master the table catalog
is an embedded Derby metastore inside the warehouse folder, so the tables outlive the
process like the DuckDB file does (one process at a time, as DuckDB). On a cluster
(`spark://`, `yarn`, `k8s://`, Databricks) the session's own catalog is used (Hive, Glue,
Unity): only the connection changes, never a step (docs/scaling.md).

One SparkSession serves a whole process: a step "closing" the warehouse leaves it running
(starting the JVM costs seconds), and Spark stops it when the process exits.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import UserError

if TYPE_CHECKING:
    import ibis

DEFAULT_MASTER = "local[*]"
LOCAL_CONF = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false", "spark.driver.memory": "2g"}


def _local_cores(master: str) -> int:
    """Cores of a local master: local, local[2], local[*], local[2,3] (retries)."""
    inside = master.partition("[")[2].partition("]")[0].split(",")[0]
    if inside in ("", "*"):
        return 1 if not inside and master == "local" else os.cpu_count() or 1
    return max(1, int(inside)) if inside.isdigit() else 1


@dataclass(frozen=True)
class SparkWarehouse:
    """Where the Spark warehouse lives (a folder, or a URI such as s3a://bucket/warehouse)
    and which master runs it. `conf` adds Spark settings."""

    warehouse: str
    master: str = DEFAULT_MASTER
    conf: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self):
        object.__setattr__(self, "warehouse", str(self.warehouse))  # a Path is welcome too

    @property
    def is_local(self) -> bool:
        return self.master.startswith("local")

    @property
    def location(self) -> str:
        """The warehouse as Spark is given it: a URI unchanged, a local folder made absolute."""
        return self.warehouse if "://" in self.warehouse else str(Path(self.warehouse).absolute())

    def exists(self) -> bool:
        """A local warehouse exists once load made its catalog; a cluster's catalog always does."""
        return not self.is_local or (Path(self.location) / "metastore_db").exists()

    def __str__(self) -> str:
        return f"{self.warehouse} (spark {self.master})"


def _builder_conf(target: SparkWarehouse) -> dict[str, str]:
    wh = target.location
    conf = {"spark.sql.warehouse.dir": wh, "spark.sql.session.timeZone": "UTC"}
    if target.is_local:
        # Spark's 200 shuffle partitions would be 200 tiny tasks per join on one machine.
        conf |= LOCAL_CONF | {"spark.sql.shuffle.partitions": str(2 * _local_cores(target.master))}
        conf |= {
            "spark.sql.catalogImplementation": "hive",
            "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={wh}/metastore_db;create=true",
            # derby.log goes to the warehouse, not the working folder
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={wh}",
        }
    return conf | dict(target.conf)


def session(target: SparkWarehouse):
    """The process's SparkSession for `target` (started on first use). A second, different
    warehouse in the same process is refused: Spark fixes the warehouse when it starts."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UserError("--engine spark needs the spark extra: uv sync --extra spark "
                        "(or pip install 'anemia-audit[spark]')") from None  # fmt: skip

    active = SparkSession.getActiveSession()
    if active is not None and not target.is_local:
        return active  # a cluster's session (Databricks, spark-submit) with its own catalog
    if active is not None:
        have = active.conf.get("spark.sql.warehouse.dir", "").removeprefix("file:")
        if have != target.location:
            raise UserError(f"a Spark session with warehouse {have} is already running in this process; "
                            f"cannot switch to {target.location}")  # fmt: skip
        return active
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise UserError("--engine spark needs Java 17 (apt-get install openjdk-17-jre-headless, or set JAVA_HOME)")
    if target.is_local:
        Path(target.location).mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.master(target.master).appName("anemia-audit")
    for key, value in _builder_conf(target).items():
        builder = builder.config(key, value)
    spark = builder.enableHiveSupport().getOrCreate() if target.is_local else builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _backend_class():
    import ibis
    import ibis.expr.operations as ops
    import sqlglot.expressions as sge
    from ibis.backends.pyspark import Backend
    from ibis.backends.pyspark.datatypes import PySparkSchema
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler

    ibis.pyspark  # noqa: B018  (loading the backend registers its options, ibis.options.pyspark)

    class Compiler(PySparkCompiler):
        """Ibis 12 compiles strip() to TRIM(x, ' \t\n\r\v\f'), and Spark reads '\v' and
        '\f' in a literal as the letters v and f: 'fL' was trimmed to 'L' and 'iv' to 'i'.
        Strip Java's whitespace class instead, the same characters DuckDB strips."""

        SIMPLE_OPS = {k: v for k, v in PySparkCompiler.SIMPLE_OPS.items() if k not in (ops.LStrip, ops.RStrip)}  # noqa: RUF012

        def _strip(self, arg, pattern: str):
            return self.f.regexp_replace(arg, sge.convert(pattern), sge.convert(""))

        def visit_Strip(self, op, *, arg):
            return self._strip(arg, r"^\s+|\s+$")

        def visit_LStrip(self, op, *, arg):
            return self._strip(arg, r"^\s+")

        def visit_RStrip(self, op, *, arg):
            return self._strip(arg, r"\s+$")

    class SparkBackend(Backend):
        """Ibis' PySpark backend whose `disconnect` leaves the process's session running."""

        compiler = Compiler()

        def disconnect(self) -> None:
            pass

        def _register_in_memory_table(self, op) -> None:
            # In-memory tables (code lists, the aud_* frames) reach Spark through Arrow:
            # from pandas a NaN arrives as NaN, not null, and Spark's NaN is a value.
            # Arrow reads it as missing, as DuckDB does.
            table = op.data.to_pyarrow(op.schema)
            df = self._session.createDataFrame(table, schema=PySparkSchema.from_ibis(op.schema))
            df.createOrReplaceTempView(op.name)

        def _create_cached_table(self, name, expr):
            # `.cache()` (classify's intermediate steps, audit's population) as a local
            # checkpoint: computed once and cut from its lineage. A cached DataFrame keeps the
            # whole plan, and each later step re-analyses every plan below it: the plans
            # grew until the driver ran out of memory.
            self._run_pre_execute_hooks(expr)
            df = self._session.sql(self.compile(expr))
            want = PySparkSchema.from_ibis(expr.schema())
            if [f.dataType for f in df.schema] != [f.dataType for f in want]:
                # Spark types a literal by its value (an int8 literal reads back as INT):
                # keep Ibis' types, or a later union with the same literal is refused.
                df = df.select([df[f.name].cast(f.dataType).alias(f.name) for f in want])
            df = df.localCheckpoint(eager=True)
            df.createOrReplaceTempView(name)
            self._cached_dataframes[name] = df
            return self.table(name)

    return SparkBackend


def connect(target: SparkWarehouse, read_only: bool = False) -> ibis.BaseBackend:
    """An Ibis PySpark connection to the warehouse (created when missing unless read_only)."""
    if read_only and not target.exists():
        raise UserError(f"Spark warehouse not found: {target} (run `anemia-audit load --engine spark` first)")
    return _backend_class()().connect(session(target))


def empty_warehouse(target: SparkWarehouse) -> int:
    """Drop the pipeline's tables (registered names, aud_*, scratch tables that earlier
    versions left) from the warehouse's current database; returns how many. Other tables of
    a shared catalog stay."""
    from pipeline.engine.registry import REGISTRY

    con = connect(target)
    names = [t for t in con.list_tables() if t in REGISTRY or t.startswith(("aud_", "_cand_", "_stg_", "_quarantine_"))]
    for name in names:
        con.drop_table(name, force=True)
    return len(names)


def load_tables(con, tables: list, source: str, progress) -> dict:
    """Append the source tables to raw_* through Parquet (see `stage_arrow`); the same
    row ids, provenance and `loaded_files` rows as the DuckDB load. Spark has no
    transaction: every file is read, screened and written to a local Parquet folder before
    the first append, so a fault in any file appends nothing; a failure between appends
    leaves the files appended so far (run again with --fresh)."""
    import ibis

    from pipeline.engine.raw import new_load_id
    from pipeline.engine.registry import TABLES, spec
    from pipeline.engine.tables import append, create_empty, ibis_schema
    from pipeline.progress import item

    load_id = new_load_id()
    summary = {"load_id": load_id, "files": []}
    for name in ["loaded_files", *(f"raw_{t}" for t in TABLES)]:
        create_empty(con, name)
    lf = con.table("loaded_files").select("content_hash", "table_name", "load_id").to_pandas()
    seen = {(r.content_hash, r.table_name): r.load_id for r in lf.itertuples()}
    maxima = ibis.union(*(con.table(f"raw_{t}").aggregate(m=ibis._.row_id.max()) for t in TABLES))
    base = maxima.m.max().execute()
    base = 0 if base is None or base != base else int(base)  # no rows: null, or NaN through pandas
    staged = []  # (Parquet folder, raw table, rows, loaded_files row) per file to append
    try:
        for st in tables:
            if (st.content_hash, st.table) in seen:
                status = f"already loaded (load {seen[st.content_hash, st.table]})"
                summary["files"].append({"table": st.table, "file": st.source_file, "rows": 0, "status": status})
                continue
            provenance = {"load_id": load_id, "source_file": st.source_file}
            with item(progress, "load", f"{st.source_file} -> raw_{st.table}") as done:
                folder, n, last = stage_arrow(st.frame, list(spec(f"raw_{st.table}").names[4:]), provenance, base)
                done.rows = n
            row = {"load_id": load_id, "table_name": st.table, "source_file": st.source_file,
                   "content_hash": st.content_hash, "source": source, "n_rows": n, "loaded_at": _now()}  # fmt: skip
            staged.append((folder, f"raw_{st.table}", n, row))
            base = max(base, last)
            seen[st.content_hash, st.table] = load_id
            summary["files"].append({"table": st.table, "file": st.source_file, "rows": n, "status": "loaded"})
        for folder, table, n, row in staged:
            if n:
                con._session.read.parquet(str(folder)).select(*spec(table).names).write.insertInto(table)
            append(con, "loaded_files", ibis.memtable([row], schema=ibis_schema("loaded_files")))
    finally:
        for folder, *_ in staged:
            shutil.rmtree(folder, ignore_errors=True)
    return summary


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(tzinfo=None)


def stage_arrow(batches, columns: list[str], provenance: dict, row_base: int) -> tuple[Path, int, int]:
    """Write a source table (Arrow record batches: contract columns as text and
    `source_row`) to a local Parquet folder, as Spark reads it best: row_id is
    `row_base + source_row`, the provenance columns are added and contract columns the
    source lacks are null. Returns the folder (the caller removes it), the number of rows
    and the largest row_id written."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if isinstance(batches, pa.Table):
        batches = batches.to_reader()
    schema = pa.schema([("row_id", pa.int64()), ("load_id", pa.string()), ("source_file", pa.string()),
                        ("source_row", pa.int64())] + [(c, pa.string()) for c in columns])  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="anemia-incoming-"))
    n, last = 0, row_base
    try:
        with pq.ParquetWriter(folder / f"{uuid.uuid4().hex}.parquet", schema) as writer:
            for batch in batches:
                raw = _raw_batch(batch, schema, provenance, row_base)
                writer.write_batch(raw)
                n += raw.num_rows
                if raw.num_rows:
                    last = max(last, pc.max(raw.column(0)).as_py())
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder, n, last


def _raw_batch(batch, schema, provenance: dict, row_base: int):
    import pyarrow as pa
    import pyarrow.compute as pc

    source_row = batch.column("source_row").cast(pa.int64())
    arrays = {
        "row_id": pc.add(source_row, pa.scalar(row_base, pa.int64())),
        "load_id": pa.array([provenance["load_id"]] * batch.num_rows, pa.string()),
        "source_file": pa.array([provenance["source_file"]] * batch.num_rows, pa.string()),
        "source_row": source_row,
    }
    names = set(batch.schema.names)
    for c in schema.names[4:]:
        arrays[c] = batch.column(c).cast(pa.string()) if c in names else pa.nulls(batch.num_rows, pa.string())
    return pa.RecordBatch.from_arrays([arrays[c] for c in schema.names], schema=schema)
