"""The `anemia-audit` command line. Every command that touches the warehouse takes --db.

User errors (bad file, bad config, bad option) print one line and exit with code 2.
"""

from __future__ import annotations

import signal
import sys
import time
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Optional

import typer

from pipeline.errors import UserError
from pipeline.paths import DEFAULT_DB

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Audit anaemia care: treatment before testing, and why iron therapy failed.",
)

DbOption = typer.Option(DEFAULT_DB, "--db", help="DuckDB warehouse file.")
ConfigOption = typer.Option(None, "--config", help="TOML file overriding pipeline/defaults.toml.")


class Engine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


EngineOption = typer.Option(Engine.duckdb, "--engine", help="duckdb: the --db file; spark: the --spark-warehouse.")
MasterOption = typer.Option("local[*]", "--spark-master", help="Spark master URL (with --engine spark).")
WarehouseOption = typer.Option(
    "data/processed/spark-warehouse",
    "--spark-warehouse",
    help="Spark warehouse folder or URI (spark.sql.warehouse.dir).",
)


def _where(engine: Engine, db: Path, master: str, warehouse: str):
    """The warehouse the steps work on: the DuckDB file, or the Spark warehouse."""
    if engine is Engine.duckdb:
        return db
    from pipeline import steps

    return steps.spark_warehouse(warehouse, master)


class Source(StrEnum):
    csv = "csv"
    omop = "omop"
    mimic = "mimic"


class GroupBy(StrEnum):
    site = "site"
    specialty = "specialty"
    sex = "sex"
    age_band = "age_band"


def say(msg: str) -> None:
    typer.echo(msg, err=False)


def _config(path: Optional[Path]):
    from pipeline.config import load_config

    return load_config(path)


def _timed(label: str):
    class _T:
        def __enter__(self):
            self.t0 = time.perf_counter()
            say(f"[{label}]")
            return self

        def __exit__(self, *exc):
            if exc[0] is None:
                say(f"[{label}] done in {time.perf_counter() - self.t0:.1f} s")

    return _T()


@app.command()
def synth(
    patients: int = typer.Option(2000, "--patients", min=1, help="Number of synthetic patients."),
    seed: int = typer.Option(42, "--seed", help="Random seed: same seed, identical files."),
    out: Path = typer.Option(Path("data/synthetic"), "--out", help="Output folder."),
):
    """Write a synthetic cohort (canonical CSVs + truth.csv) with planted labels."""
    from pipeline import steps

    with _timed(f"synth {patients} patients"):
        summary = steps.synth(patients, seed, out, progress=_progress("patients"))
    say(f"wrote {out}/: " + ", ".join(f"{k} {v}" for k, v in summary.get("rows", {}).items()))


def _progress(unit: str):
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 2 or done == total:
            last[0] = now
            say(f"  {done:,}/{total:,} {unit}")

    return report


def do_load(source: Source, input_path: Path, db: Path, cfg):
    from pipeline import steps

    return steps.load(source.value, input_path, db, cfg, progress=say)


@app.command()
def load(
    source: Source = typer.Option(Source.csv, "--source", help="Input format."),
    input: Path = typer.Option(..., "--input", help="Folder (csv, omop, mimic) or DuckDB file (omop)."),
    db: Path = DbOption,
    config: Optional[Path] = ConfigOption,
    engine: Engine = EngineOption,
    spark_master: str = MasterOption,
    spark_warehouse: str = WarehouseOption,
):
    """Load source files into raw_* tables (same file twice adds nothing)."""
    with _timed("load"):
        do_load(source, input, _where(engine, db, spark_master, spark_warehouse), _config(config))


def print_reconciliation(rows: list[dict]) -> None:
    say(f"  {'table':<14} {'file':<28} {'raw':>10} {'staged':>10} {'quarantined':>12}")
    for r in rows:
        say(
            f"  {r['table_name']:<14} {r['source_file']:<28} {r['raw_rows']:>10,} {r['staged_rows']:>10,} "
            f"{r['quarantined_rows']:>12,}"
        )
    ok = all(r["raw_rows"] == r["staged_rows"] + r["quarantined_rows"] for r in rows)
    say("  reconciliation: raw = staged + quarantined for every file" if ok else "  RECONCILIATION FAILED")


def do_validate(db: Path, cfg) -> list[dict]:
    from pipeline import steps

    rows = steps.validate(db, cfg, progress=say)
    print_reconciliation(rows)
    return rows


@app.command()
def validate(
    db: Path = DbOption,
    config: Optional[Path] = ConfigOption,
    engine: Engine = EngineOption,
    spark_master: str = MasterOption,
    spark_warehouse: str = WarehouseOption,
):
    """Validate raw rows into stg_* tables and the quarantine (with reasons); print the reconciliation."""
    with _timed("validate"):
        do_validate(_where(engine, db, spark_master, spark_warehouse), _config(config))


def do_classify(db: Path, cfg) -> dict:
    from pipeline import steps

    counts = steps.classify(db, cfg, progress=say)
    say("  " + ", ".join(f"{k}: {v:,} rows" for k, v in counts.items()))
    return counts


@app.command()
def classify(
    db: Path = DbOption,
    config: Optional[Path] = ConfigOption,
    engine: Engine = EngineOption,
    spark_master: str = MasterOption,
    spark_warehouse: str = WarehouseOption,
):
    """Build episodes, iron_outcomes and failure_causes from the staged tables."""
    with _timed("classify"):
        do_classify(_where(engine, db, spark_master, spark_warehouse), _config(config))


def do_audit(db: Path, cfg) -> dict:
    from pipeline import steps

    counts = steps.audit(db, cfg, progress=say)
    say(f"  {len(counts)} measures written to aud_* tables")
    return counts


@app.command()
def audit(
    db: Path = DbOption,
    config: Optional[Path] = ConfigOption,
    engine: Engine = EngineOption,
    spark_master: str = MasterOption,
    spark_warehouse: str = WarehouseOption,
):
    """Compute the audit measures (rates, Wilson CIs, disclosure control) into aud_* tables."""
    with _timed("audit"):
        do_audit(_where(engine, db, spark_master, spark_warehouse), _config(config))


def do_report(db: Path, out: Path, cfg, period_from, period_to, by, manifest_extra=None) -> Path:
    from pipeline import steps

    return steps.report(db, out, cfg, period_from, period_to, by, manifest_extra=manifest_extra)


def _date(value: Optional[str], name: str) -> Optional[date]:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{name} must be a date YYYY-MM-DD, got {value!r}") from None


@app.command()
def report(
    out: Path = typer.Option(Path("reports"), "--out", help="Folder that receives the dated report folder."),
    period_from: Optional[str] = typer.Option(None, "--from", help="First day of the period (YYYY-MM-DD)."),
    period_to: Optional[str] = typer.Option(None, "--to", help="Last day of the period (YYYY-MM-DD)."),
    by: Optional[GroupBy] = typer.Option(None, "--by", help="Group measures by this field."),
    db: Path = DbOption,
    config: Optional[Path] = ConfigOption,
    engine: Engine = EngineOption,
    spark_master: str = MasterOption,
    spark_warehouse: str = WarehouseOption,
):
    """Write the report folder: index.html, audit.xlsx, csv/, local-only case lists, manifest.json."""
    with _timed("report"):
        folder = do_report(
            _where(engine, db, spark_master, spark_warehouse),
            out,
            _config(config),
            _date(period_from, "--from"),
            _date(period_to, "--to"),
            by.value if by else None,
        )
    say(f"report: {folder}/index.html")


@app.command()
def run(
    input: Optional[Path] = typer.Option(None, "--input", help="Input folder; default: a synthetic cohort."),
    source: Source = typer.Option(Source.csv, "--source", help="Input format."),
    patients: int = typer.Option(2000, "--patients", help="Synthetic patients when no --input is given."),
    seed: int = typer.Option(42, "--seed", help="Seed of the synthetic cohort."),
    out: Path = typer.Option(Path("reports"), "--out", help="Report folder parent."),
    by: Optional[GroupBy] = typer.Option(GroupBy.site, "--by", help="Group measures by this field."),
    synth_out: Path = typer.Option(
        Path("data/synthetic"), "--synth-out", help="Where the synthetic cohort is written."
    ),
    fresh: bool = typer.Option(
        False, "--fresh", help="Start from an empty warehouse (drops every table of --db; refused while it is in use)."
    ),
    db: Path = DbOption,
    config: Optional[Path] = ConfigOption,
    engine: Engine = EngineOption,
    spark_master: str = MasterOption,
    spark_warehouse: str = WarehouseOption,
):
    """The whole job: (synth) -> load -> validate -> classify -> audit -> report."""
    from pipeline import steps

    cfg = _config(config)
    t0 = time.perf_counter()
    steps.check_output(out)
    db = _where(engine, db, spark_master, spark_warehouse)
    if fresh and steps.exists(db):
        say(f"[fresh] emptying the previous warehouse {db}")
        steps.fresh(db)
    if input is None:
        input = synth_out
        with _timed(f"synth {patients} patients (no --input given)"):
            steps.synth(patients, seed, input, progress=_progress("patients"))
    result = steps.run(input, db, out, cfg, source=source.value, by=by.value if by else None, progress=say,
                       stage=_timed)  # fmt: skip
    print_reconciliation(result.reconciliation)
    say("  " + ", ".join(f"{k}: {v:,} rows" for k, v in result.classified.items()))
    say(f"done in {time.perf_counter() - t0:.1f} s")
    print_headline(result.report)
    print_outputs(result.report, result.reconciliation)


def print_headline(folder: Path) -> None:
    """The released headline figures (csv/headline.csv): both questions in a few lines."""
    import csv

    path = folder / "csv" / "headline.csv"
    if not path.exists():
        return
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if rows:
        say(f"headline, {rows[0]['period_start']} to {rows[0]['period_end']} (released figures):")
    for r in rows:
        if r["item"].startswith("cause_") or r["item"].endswith("_tested_after_only"):
            continue
        if r["suppressed"] == "true" or not r["rate"]:
            figure = "withheld (small numbers)"
        else:
            figure = f"{float(r['rate']) * 100:5.1f} %  ({r['numerator']} of {r['denominator']})"
        standard = f"  standard: {r['standard']}" if r["standard"] else ""
        say(f"  {r['label']:<74} {figure}{standard}")
    causes = [r for r in rows if r["item"].startswith("cause_")]
    if causes:
        shares = [f"{r['label'].lower()} {float(r['rate']) * 100:.0f} %" if r["rate"] else f"{r['label'].lower()} *"
                  for r in causes]  # fmt: skip
        say("  why iron failed (share of failed episodes, common causes first): " + "; ".join(shares))


def print_outputs(folder: Path, reconciliation: list[dict]) -> None:
    quarantined = sum(r["quarantined_rows"] for r in reconciliation)
    raw = sum(r["raw_rows"] for r in reconciliation)
    say(f"report: {folder}/index.html")
    say(f"excel:       {folder}/audit.xlsx")
    say(f"csv:         {folder}/csv/")
    say(f"local-only:  {folder}/local-only/  (case lists: not for release)")
    say(f"quarantine:  {quarantined:,} of {raw:,} rows; reasons in {folder}/csv/data_quality_quarantine.csv")


@app.command()
def explain(
    patient: str = typer.Option(..., "--patient", help="Pseudonymous patient id."),
    all_rows: bool = typer.Option(False, "--all", help="Also show rows the code lists do not map."),
    db: Path = DbOption,
    config: Optional[Path] = ConfigOption,
):
    """Print one patient's timeline and each episode's classification with the rows behind it (local use only)."""
    from pipeline.explain.patient import explain_patient
    from pipeline.steps import warehouse

    cfg = _config(config)
    with warehouse(db, read_only=True) as con:
        say(explain_patient(con, patient, cfg, everything=all_rows))


@app.command()
def codes(
    unmapped: bool = typer.Option(
        True, "--unmapped/--all", help="--unmapped: names in the anaemia domains; --all: every unmapped name."
    ),
    limit: int = typer.Option(50, "--limit", help="At most this many rows."),
    db: Path = DbOption,
):
    """Code-list coverage: source codes and names in the audited domains that no list maps."""
    from pipeline.explain.coverage import unmapped as find_unmapped
    from pipeline.steps import warehouse

    with warehouse(db, read_only=True) as con:
        df = find_unmapped(con, limit=limit, everything=not unmapped)
    say("no unmapped codes in the audited domains" if df.empty else df.to_string(index=False))


def _exit_on_sigterm(signum, frame) -> None:
    # SIGTERM as SystemExit: cleanup (the report's temporary folder, open transactions) runs.
    sys.exit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        app()
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
