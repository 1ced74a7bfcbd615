"""The step chain as a library: load, validate, classify, audit, report, run.

The CLI, the notebook API, the demo warehouse and the tests all call these functions; each
opens the warehouse, runs one step and closes it, whatever happens. They print nothing:
progress goes to the `progress` callback as events (pipeline/progress.py: a step, its files,
tables, rules, measures or report parts; the CLI renders them, the tests drop them), and
every error a user can cause is a `UserError`.

    >>> import tempfile
    >>> from pathlib import Path
    >>> tmp = Path(tempfile.mkdtemp())
    >>> db = build_demo_warehouse(tmp / "demo.duckdb", patients=60)
    >>> sorted(classify(db, load_config()))
    ['episodes', 'failure_causes', 'iron_outcomes']
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pipeline.config import Config, load_config
from pipeline.errors import UserError
from pipeline.progress import Counted, Note, Planned, Progress, quiet, step


@contextmanager
def warehouse(db: Path, read_only: bool = False, create: bool = False, config: Config | None = None):
    """The warehouse at `db`, closed on exit. Without `create`, a missing file is a user
    error. `config` applies its `[engine]` settings (memory limit, threads, spill folder).
    `db` is a DuckDB file or a `SparkWarehouse` (`spark_warehouse`): the steps are the same."""
    from pipeline.engine import connect, warehouse_exists

    if not create and not warehouse_exists(db):
        raise UserError(f"warehouse not found: {db} (run `anemia-audit load` first, or pass --db)")
    con = connect(db, read_only=read_only, engine=None if config is None else config.engine)
    try:
        yield con
    finally:
        con.disconnect()


def spark_warehouse(warehouse: str | Path, master: str = "local[*]"):
    """The Spark warehouse at `warehouse` (Spark's spark.sql.warehouse.dir: a folder or a
    URI), run on `master`: pass it as `db` to any step to run that step on Spark."""
    from pipeline.engine import SparkWarehouse

    return SparkWarehouse(str(warehouse), master)


def exists(db) -> bool:
    """Whether the warehouse `db` (a DuckDB file or a SparkWarehouse) has been created."""
    from pipeline.engine import warehouse_exists

    return warehouse_exists(db)


def _require(con, prefix: str, db: Path, command: str) -> None:
    if not any(t.startswith(prefix) for t in con.list_tables()):
        raise UserError(f"{db}: no {prefix}* tables; run `anemia-audit {command}` first")


@dataclass
class LoadResult:
    load_id: str
    files: list[dict]
    notes: list[str]


def load(
    source: str, input_path: Path, db: Path, config: Config, progress: Progress = quiet, alone: bool = False
) -> LoadResult:
    """Read `input_path` with the adapter for `source` and append it to raw_* (one transaction).
    `alone`: the warehouse may hold this input's files only (`run` without --append); a
    warehouse holding files of another input is a UserError naming the choice, and nothing
    is loaded."""
    from pipeline.engine.raw import load_tables
    from pipeline.extract import read_source

    with step(progress, "load"):
        extract = read_source(source, input_path, config)
        for note in extract.all_notes:
            progress(Note("load", note))
        with warehouse(db, create=True, config=config) as con:
            if alone:
                _refuse_other_inputs(con, extract.tables, input_path, db)
            progress(Planned("load", len(extract.tables), "files"))
            summary = load_tables(con, extract.tables, source, progress=progress)
    return LoadResult(summary["load_id"], summary["files"], extract.all_notes)


def other_inputs(con, incoming) -> list[tuple[str, str]]:
    """(table, file) of every file in the warehouse that is not one of `incoming` (source
    tables with their content hash): what a load of `incoming` alone would mix with."""
    if "loaded_files" not in con.list_tables():
        return []
    mine = {(st.table, st.content_hash) for st in incoming}
    held = con.table("loaded_files").select("table_name", "source_file", "content_hash").distinct().to_pandas()
    others = {(r.table_name, r.source_file) for r in held.itertuples() if (r.table_name, r.content_hash) not in mine}
    return sorted(others)


def _refuse_other_inputs(con, incoming, input_path: Path, db: Path) -> None:
    others = other_inputs(con, incoming)
    if others:
        table, name = others[0]
        raise UserError(
            f"{db} already holds {len(others)} file(s) of another input (e.g. {name} in raw_{table}); "
            f"run again with --fresh to replace them with {input_path}, or --append to add {input_path} to them"
        )


def validate(db: Path, config: Config, today: date | None = None, progress: Progress = quiet) -> list[dict]:
    """raw_* -> stg_* + quarantine; returns the reconciliation per table and file."""
    from pipeline.staging.validate import validate as run

    with step(progress, "validate"), warehouse(db, config=config) as con:
        _require(con, "raw_", db, "load")
        return run(con, config, today=today, progress=progress)


def classify(db: Path, config: Config, progress: Progress = quiet) -> dict[str, int]:
    """stg_* -> episodes, iron_outcomes, failure_causes; returns their row counts."""
    from pipeline.rules.classify import classify as run

    with step(progress, "classify"), warehouse(db, config=config) as con:
        _require(con, "stg_", db, "validate")
        return run(con, config, progress=progress)


def audit(db: Path, config: Config, progress: Progress = quiet) -> dict[str, int]:
    """The classification tables -> aud_*; returns the row count of each measure table."""
    from pipeline.audit.tables import run_audit

    with step(progress, "audit"), warehouse(db, config=config) as con:
        return run_audit(con, config, progress=progress)


def report(
    db: Path,
    out: Path,
    config: Config,
    period_from: date | None = None,
    period_to: date | None = None,
    by: str | None = None,
    manifest_extra: dict | None = None,
    progress: Progress = quiet,
) -> Path:
    """aud_* -> the report folder (index.html, audit.xlsx, csv/, local-only/, manifest.json)."""
    from pipeline.explain.coverage import unmapped
    from pipeline.report import build_report

    with step(progress, "report"), warehouse(db, config=config) as con:
        names = unmapped(con, limit=config.report.top_unmapped_names)
        return build_report(con, out, config, period_from, period_to, by, manifest_extra=manifest_extra,
                            progress=progress, unmapped=names)  # fmt: skip


def synth(patients: int, seed: int, out: Path, progress: Progress = quiet, profile: str = "default") -> dict:
    """Write the synthetic cohort with planted truth to `out` (`profile` "dense": benchmark lab density)."""
    from pipeline.synth import generate

    with step(progress, "synth", patients, "patients"):
        return generate(patients, seed, out, progress=lambda done, total: progress(Counted("synth", done, total,
                                                                                           "patients")),
                        profile=profile)  # fmt: skip


@dataclass
class RunResult:
    load: LoadResult
    reconciliation: list[dict]
    classified: dict[str, int]
    audited: dict[str, int]
    report: Path | None


def run(
    input_path: Path,
    db: Path,
    out: Path | None,
    config: Config,
    source: str = "csv",
    by: str | None = None,
    today: date | None = None,
    progress: Progress = quiet,
    append: bool = False,
) -> RunResult:
    """The whole job on `input_path`: load -> validate -> classify -> audit -> report (when
    `out` is given). The warehouse holds `input_path` alone: when it already holds files of
    another input, a UserError names the choice (`fresh` first, or `append`) and nothing is
    loaded; `append=True` adds the input to them. Each step reports to `progress`."""
    if out is not None:
        check_output(out)  # a bad --out stops before the work, not after it
    loaded = load(source, input_path, db, config, progress, alone=not append)
    recon = validate(db, config, today=today, progress=progress)
    classified = classify(db, config, progress)
    audited = audit(db, config, progress)
    folder = None
    if out is not None:
        folder = report(db, out, config, None, None, by, progress=progress)
    return RunResult(loaded, recon, classified, audited, folder)


def check_output(out: Path) -> Path:
    """The report folder parent `out`, created and proven writable, or a UserError saying why not."""
    from pipeline.report.build import prepare_out_dir

    return prepare_out_dir(out)


def fresh(db: Path) -> int:
    """Empty the warehouse at `db` for a fresh run (nothing to do when it does not exist).
    Takes the write lock first: a warehouse another process has open is left untouched and
    the error says it is in use. Returns the number of tables dropped."""
    from pipeline.engine.connection import empty_warehouse, warehouse_exists

    return empty_warehouse(db) if warehouse_exists(db) else 0


def build_demo_warehouse(path: str | Path, patients: int = 300, seed: int = 1) -> Path:
    """Synthesise `patients` patients, then load, validate, classify and audit them into a
    new warehouse at `path` (which must not exist yet). Returns the path."""
    path = Path(path)
    if path.exists():
        raise UserError(f"{path} already exists; the demo warehouse is always built new")
    with tempfile.TemporaryDirectory() as tmp:
        synth(patients, seed, Path(tmp))
        run(Path(tmp), path, None, load_config())
    return path
