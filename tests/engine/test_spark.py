"""The Spark engine: the same audit on local Apache Spark as on DuckDB.

The parity test runs the synthetic cohort (with its dirty rows) through `anemia-audit run
--engine spark` on local[2] and through the DuckDB chain, then compares every table the
audit writes. It is one test on purpose: a SparkSession starts a JVM (tens of seconds on a
busy machine) and lives for the whole worker process, so the Spark run happens once.
Select it with `-m spark`; it is skipped when PySpark or Java is missing (`make spark`).
"""

from __future__ import annotations

import os
import shutil
from collections import Counter

import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from pipeline import steps
from pipeline.cli import app
from pipeline.config import load_config
from pipeline.engine.spark import SparkWarehouse, _backend_class, _local_cores, _raw_batch
from pipeline.errors import UserError
from pipeline.extract import csv as csv_source

PATIENTS = 300
SEED = 11


def _spark_available() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))


needs_spark = pytest.mark.skipif(not _spark_available(), reason="needs the spark extra and Java (make spark)")


# --- without a SparkSession ---------------------------------------------------------------


def test_a_source_batch_gets_row_ids_provenance_and_nulls_for_absent_columns():
    batch = pa.RecordBatch.from_pydict(
        {"patient_id": ["P1", None], "value": ["10.5", "NA"], "source_row": pa.array([1, 2], pa.int64())}
    )
    schema = pa.schema([("row_id", pa.int64()), ("load_id", pa.string()), ("source_file", pa.string()),
                        ("source_row", pa.int64()), ("patient_id", pa.string()), ("unit", pa.string()),
                        ("value", pa.string())])  # fmt: skip
    out = _raw_batch(batch, schema, {"load_id": "L1", "source_file": "labs.csv"}, row_base=100).to_pydict()
    assert out == {
        "row_id": [101, 102],
        "load_id": ["L1", "L1"],
        "source_file": ["labs.csv", "labs.csv"],
        "source_row": [1, 2],
        "patient_id": ["P1", None],  # a null stays null (Parquet carries it; a pandas None would not)
        "unit": [None, None],  # not in the source: null, as the DuckDB load
        "value": ["10.5", "NA"],  # a missing-value marker stays text until staging
    }


@pytest.mark.parametrize(
    ("master", "cores"), [("local", 1), ("local[2]", 2), ("local[2,3]", 2), ("local[*]", os.cpu_count() or 1)]
)
def test_local_cores_are_read_from_the_master(master, cores):
    assert _local_cores(master) == cores


@needs_spark
def test_strip_on_spark_removes_whitespace_only_not_the_letters_v_and_f():
    # ibis 12 sent TRIM(x, ' \t\n\r\v\f') and Spark read '\v' '\f' as v and f ('fL' -> 'L', 'iv' -> 'i')
    import ibis

    t = ibis.table({"unit": "string"}, name="t")
    sql = _backend_class().compiler.to_sqlglot(t.select(u=t.unit.strip())).sql("spark")
    assert "TRIM" not in sql.upper()
    assert r"'^\\s+|\\s+$'" in sql  # Java's \s: space, tab, newline, CR, vertical tab, form feed


def test_a_step_on_a_spark_warehouse_that_was_never_loaded_is_one_line(tmp_path):
    result = CliRunner().invoke(app, ["validate", "--engine", "spark", "--spark-warehouse", str(tmp_path / "wh")])
    assert result.exit_code != 0
    assert "warehouse not found" in str(result.exception)
    assert not (tmp_path / "wh").exists()  # nothing started, nothing created


def test_a_cluster_warehouse_exists_in_its_catalog_a_local_one_once_loaded(tmp_path):
    assert SparkWarehouse(tmp_path, "spark://head:7077").exists()
    assert not SparkWarehouse(tmp_path, "local[2]").exists()


# --- on local Spark ----------------------------------------------------------------------


def _plain(v):
    """A cell as a plain Python value: None for every kind of missing (NaN, NaT, None),
    floats to 9 decimals, timestamps as datetime."""
    if v is None or (not isinstance(v, list | tuple | dict) and pd.isna(v)):
        return None
    if isinstance(v, float):
        return round(v, 9)
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    return v


def _rows(con, name: str) -> tuple[list[str], Counter]:
    df = con.table(name).to_pandas()
    return list(df.columns), Counter(tuple(_plain(v) for v in r) for r in df.itertuples(index=False))


def _differences(duck, spark, name: str) -> list[str]:
    """Every row of `name` on both engines, compared as multisets of plain values."""
    (cols_a, a), (cols_b, b) = _rows(duck, name), _rows(spark, name)
    if cols_a != cols_b:
        return [f"{name}: columns {cols_a} != {cols_b}"]
    only_a, only_b = a - b, b - a
    if not only_a and not only_b:
        return []
    return [f"{name}: {sum(only_a.values())} rows only on DuckDB, {sum(only_b.values())} only on Spark, "
            f"e.g. {sorted(only_a, key=repr)[:1]} / {sorted(only_b, key=repr)[:1]}"]  # fmt: skip


@pytest.mark.spark
@pytest.mark.slow
@needs_spark
def test_the_audit_on_spark_equals_the_audit_on_duckdb(tmp_path, monkeypatch):
    cohort = tmp_path / "in"
    steps.synth(PATIENTS, SEED, cohort)
    config = load_config()
    duck_db = tmp_path / "audit.duckdb"
    steps.run(cohort, duck_db, tmp_path / "duck-report", config, by="site")

    warehouse = tmp_path / "spark-warehouse"
    args = ["run", "--engine", "spark", "--spark-master", "local[2]", "--spark-warehouse", str(warehouse),
            "--input", str(cohort), "--out", str(tmp_path / "spark-report")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "reconciliation: raw = staged + quarantined for every file" in result.output

    # one Parquet folder per table in the warehouse
    assert (warehouse / "stg_labs").is_dir() and list((warehouse / "stg_labs").glob("*.parquet"))

    with steps.warehouse(duck_db) as duck, steps.warehouse(steps.spark_warehouse(warehouse, "local[2]")) as spark:
        names = sorted(t for t in duck.list_tables() if t.startswith(("stg_", "aud_")))
        assert len([n for n in names if n.startswith("aud_")]) >= 5
        assert set(names) <= set(spark.list_tables())
        problems = []
        for name in names:
            if name.startswith("stg_"):
                n_duck, n_spark = duck.table(name).count().execute(), spark.table(name).count().execute()
                if n_duck != n_spark:
                    problems.append(f"{name}: {n_duck} rows on DuckDB, {n_spark} on Spark")
        for name in ["quarantine", "episodes", "iron_outcomes", "failure_causes", *[n for n in names if "aud_" in n]]:
            problems += _differences(duck, spark, name)
        q = duck.table("quarantine")
        assert q.count().execute() > 0, "the cohort must carry dirty rows for the quarantine to be compared"
    assert not problems, "\n".join(problems)

    # the same report: every released CSV is identical
    duck_csv = next((tmp_path / "duck-report").glob("*/csv"))
    spark_csv = next((tmp_path / "spark-report").glob("*/csv"))
    files = sorted(p.name for p in duck_csv.glob("*.csv"))
    assert files == sorted(p.name for p in spark_csv.glob("*.csv"))
    differ = [f for f in files if (duck_csv / f).read_bytes() != (spark_csv / f).read_bytes()]
    assert not differ, f"report CSVs differ between engines: {differ}"

    # Spark has no transaction: a fault at the end of a later file (prescriptions.csv, read
    # after labs.csv) must append nothing, not even the changed labs.csv read before it
    bad = tmp_path / "bad"
    shutil.copytree(cohort, bad)
    labs = (bad / "labs.csv").read_text().splitlines()
    (bad / "labs.csv").write_text("\n".join([*labs, labs[-1]]) + "\n")  # a new file: it would load
    with open(bad / "prescriptions.csv", "a") as fh:
        fh.write("x," * 40 + "x\n")
    target = steps.spark_warehouse(warehouse, "local[2]")
    monkeypatch.setattr(csv_source, "_BATCH_BYTES", 4096)  # the fault is many blocks in, met while staging

    def held():
        with steps.warehouse(target) as con:
            return {t: con.table(t).count().execute() for t in con.list_tables() if t.startswith(("raw_", "loaded_"))}

    before = held()
    with pytest.raises(UserError, match=r"prescriptions.csv: cannot be read: line \d+ has 41 fields"):
        steps.load("csv", bad, target, config)
    assert held() == before
