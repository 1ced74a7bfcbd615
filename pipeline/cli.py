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


class SynthProfile(StrEnum):
    default = "default"
    dense = "dense"


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


class Terminal:
    """Shows the steps' progress events (pipeline/progress.py): rich progress bars on a
    terminal (a bar per step, advanced per file, table, rule, measure or report part), plain
    non-animated lines otherwise (CI, cron, a pipe). Either way each finished item gets a
    line with its rows and time (load: rows per second too), and each step its duration.
    The steps know nothing of this: they only call the callback."""

    def __init__(self, console=None, live: bool | None = None):
        from rich.console import Console

        self.console = console or Console(highlight=False, soft_wrap=True)
        self.live = self.console.is_terminal and not self.console.is_dumb_terminal if live is None else live
        self.bars = None
        self.tasks: dict[str, int] = {}
        self.units: dict[str, str] = {}
        self.counted_at = 0.0

    def __enter__(self):
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bars = Progress(
                TextColumn("{task.description:<48}"),
                BarColumn(bar_width=30),
                MofNCompleteColumn(),
                TextColumn("{task.fields[unit]}"),
                TimeElapsedColumn(),
                console=self.console,
            )
            self.bars.start()
        return self

    def __exit__(self, *exc):
        if self.bars is not None:
            self.bars.stop()
            self.bars = None

    def line(self, text: str) -> None:
        (self.bars.console if self.bars is not None else self.console).print(text, markup=False, highlight=False)

    def __call__(self, event) -> None:
        from pipeline import progress as p

        match event:
            case p.StepStarted(step=step, total=total, unit=unit):
                self.units[step] = unit
                self.line(f"[{step}]")
                if self.bars is not None:
                    self.tasks[step] = self.bars.add_task(step, total=total, unit=unit)
            case p.Planned(step=step, total=total, unit=unit):
                self.units[step] = unit
                if self.bars is not None and step in self.tasks:
                    self.bars.update(self.tasks[step], total=total, unit=unit)
            case p.ItemStarted(step=step, item=item):
                if self.bars is not None and step in self.tasks:
                    from rich.markup import escape

                    # a file name is text, never rich markup
                    self.bars.update(self.tasks[step], description=escape(f"{step}: {item}"))
            case p.ItemDone():
                self.line(item_line(event))
                if self.bars is not None and event.step in self.tasks:
                    self.bars.advance(self.tasks[event.step])
            case p.Counted(step=step, done=done, total=total, unit=unit):
                if self.bars is not None and step in self.tasks:
                    self.bars.update(self.tasks[step], completed=done, total=total)
                elif time.perf_counter() - self.counted_at > 2 or done == total:
                    self.counted_at = time.perf_counter()
                    self.line(f"  {done:,}/{total:,} {unit}")
            case p.StepDone(step=step, seconds=seconds):
                if self.bars is not None and step in self.tasks:
                    task = self.tasks.pop(step)
                    total = next((t.total for t in self.bars.tasks if t.id == task), None)
                    self.bars.update(task, description=f"{step}: done", completed=total)
                self.line(f"[{step}] done in {seconds:.1f} s")
            case p.Note(text=text):
                self.line(f"  note: {text}")


def item_line(event) -> str:
    """One finished item as a plain line: name, rows, seconds (rows per second for a load)."""
    rows = "" if event.rows is None else f"{event.rows:>10,} rows"
    text = f"  {event.item:<48} {rows:>15} {event.seconds:6.1f} s"
    if event.step == "load" and event.rows_per_second is not None and event.rows:
        text += f"  {event.rows_per_second:>10,.0f} rows/s"
    if event.detail:
        text += f"  {event.detail}"
    return text


@app.command()
def synth(
    patients: int = typer.Option(2000, "--patients", min=1, help="Number of synthetic patients."),
    seed: int = typer.Option(42, "--seed", help="Random seed: same seed, identical files."),
    out: Path = typer.Option(Path("data/synthetic"), "--out", help="Output folder."),
    profile: SynthProfile = typer.Option(
        SynthProfile.default, "--profile", help="dense: add background lab panels (~30 labs per patient)."
    ),
):
    """Write a synthetic cohort (canonical CSVs + truth.csv) with planted labels."""
    from pipeline import steps

    with Terminal() as show:
        summary = steps.synth(patients, seed, out, progress=show, profile=profile.value)
    say(f"wrote {out}/: " + ", ".join(f"{k} {v}" for k, v in summary.get("rows", {}).items()))


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
    from pipeline import steps

    cfg = _config(config)
    with Terminal() as show:
        steps.load(source.value, input, _where(engine, db, spark_master, spark_warehouse), cfg, progress=show)


def print_reconciliation(rows: list[dict]) -> None:
    say(f"  {'table':<14} {'file':<28} {'raw':>10} {'staged':>10} {'quarantined':>12}")
    for r in rows:
        say(
            f"  {r['table_name']:<14} {r['source_file']:<28} {r['raw_rows']:>10,} {r['staged_rows']:>10,} "
            f"{r['quarantined_rows']:>12,}"
        )
    ok = all(r["raw_rows"] == r["staged_rows"] + r["quarantined_rows"] for r in rows)
    say("  reconciliation: raw = staged + quarantined for every file" if ok else "  RECONCILIATION FAILED")


def _run_step(name: str, config, engine, db, spark_master, spark_warehouse):
    """Run the step `name` of pipeline.steps on the warehouse the options name, with progress."""
    from pipeline import steps

    cfg = _config(config)
    with Terminal() as show:
        return getattr(steps, name)(_where(engine, db, spark_master, spark_warehouse), cfg, progress=show)


@app.command()
def validate(
    db: Path = DbOption,
    config: Optional[Path] = ConfigOption,
    engine: Engine = EngineOption,
    spark_master: str = MasterOption,
    spark_warehouse: str = WarehouseOption,
):
    """Validate raw rows into stg_* tables and the quarantine (with reasons); print the reconciliation."""
    rows = _run_step("validate", config, engine, db, spark_master, spark_warehouse)
    print_reconciliation(rows)


@app.command()
def classify(
    db: Path = DbOption,
    config: Optional[Path] = ConfigOption,
    engine: Engine = EngineOption,
    spark_master: str = MasterOption,
    spark_warehouse: str = WarehouseOption,
):
    """Build episodes, iron_outcomes and failure_causes from the staged tables."""
    counts = _run_step("classify", config, engine, db, spark_master, spark_warehouse)
    say("  " + ", ".join(f"{k}: {v:,} rows" for k, v in counts.items()))


@app.command()
def audit(
    db: Path = DbOption,
    config: Optional[Path] = ConfigOption,
    engine: Engine = EngineOption,
    spark_master: str = MasterOption,
    spark_warehouse: str = WarehouseOption,
):
    """Compute the audit measures (rates, Wilson CIs, disclosure control) into aud_* tables."""
    counts = _run_step("audit", config, engine, db, spark_master, spark_warehouse)
    say(f"  {len(counts)} measures written to aud_* tables")


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
    from pipeline import steps

    cfg, start, end = _config(config), _date(period_from, "--from"), _date(period_to, "--to")
    with Terminal() as show:
        folder = steps.report(
            _where(engine, db, spark_master, spark_warehouse),
            out,
            cfg,
            start,
            end,
            by.value if by else None,
            progress=show,
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
    append: bool = typer.Option(
        False, "--append", help="Add the input to the files already in --db (default: refuse to mix inputs)."
    ),
    db: Path = DbOption,
    config: Optional[Path] = ConfigOption,
    engine: Engine = EngineOption,
    spark_master: str = MasterOption,
    spark_warehouse: str = WarehouseOption,
):
    """The whole job: (synth) -> load -> validate -> classify -> audit -> report.

    The warehouse holds one input: when --db already holds files of another input, run
    stops (exit 2) and asks for --fresh (replace them) or --append (add to them)."""
    from pipeline import steps

    if fresh and append:
        raise UserError("--fresh and --append contradict each other: choose one")
    cfg = _config(config)
    t0 = time.perf_counter()
    steps.check_output(out)
    db = _where(engine, db, spark_master, spark_warehouse)
    if fresh and steps.exists(db):
        say(f"[fresh] emptying the previous warehouse {db}")
        steps.fresh(db)
    with Terminal() as show:
        if input is None:
            input = synth_out
            steps.synth(patients, seed, input, progress=show)
        result = steps.run(input, db, out, cfg, source=source.value, by=by.value if by else None, progress=show,
                           append=append)  # fmt: skip
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
        shares = [f"{r['label'].lower()} {_share(float(r['rate']))} %" if r["rate"] else f"{r['label'].lower()} *"
                  for r in causes]  # fmt: skip
        say("  why iron failed (share of failed episodes, common causes first): " + "; ".join(shares))


def _share(rate: float) -> str:
    """A percentage for a line of text: whole numbers, one decimal below 1 % (a rare cause is not 0 %)."""
    return f"{rate * 100:.1f}" if 0 < rate < 0.01 else f"{rate * 100:.0f}"


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
        True, "--unmapped", help="Every lab and drug name no code list maps, with its row count, most frequent first."
    ),
    keywords: bool = typer.Option(
        False, "--keywords", help="Only names that mention an anaemia keyword (data/codelists/coverage_keywords.csv)."
    ),
    limit: int = typer.Option(50, "--limit", help="At most this many rows."),
    db: Path = DbOption,
):
    """Code-list coverage: source lab and drug names that no code list maps."""
    from pipeline.explain.coverage import unmapped as find_unmapped
    from pipeline.steps import warehouse

    with warehouse(db, read_only=True) as con:
        df = find_unmapped(con, limit=limit, keywords_only=keywords)
    say("no unmapped lab or drug names" if df.empty else df.to_string(index=False))


@app.command()
def bench(
    patients: int = typer.Option(200_000, "--patients", min=1, help="Cohort size."),
    profile: SynthProfile = typer.Option(SynthProfile.default, "--profile", help="Synthetic lab density."),
    seed: int = typer.Option(1, "--seed", help="Seed of the synthetic cohort."),
    work: Optional[Path] = typer.Option(
        None, "--work", help="Keep the cohort and warehouse here (a matching cohort is reused); default: a temp folder."
    ),
    results: Optional[Path] = typer.Option(None, "--results", help="Results JSON; default bench/results-<N>.json."),
    config: Optional[Path] = ConfigOption,
):
    """Benchmark: bare DuckDB ingest vs load, validate, classify, audit (one process each) vs pandas."""
    from pipeline.benchmark.run import run_bench, table

    result, path = run_bench(
        patients, profile.value, seed, work, config, results, progress=lambda m: say(f"[bench] {m}")
    )
    say(table(result))
    say(f"results: {path}")


def _exit_on_sigterm(signum, frame) -> None:
    # SIGTERM as SystemExit: cleanup (the report's temporary folder, open transactions) runs.
    sys.exit(128 + signum)


def _out_of_memory(exc: BaseException) -> bool:
    """DuckDB's OutOfMemoryException, recognised without importing DuckDB (`--help` does not)."""
    kind = type(exc)
    return kind.__name__ == "OutOfMemoryException" and kind.__module__.lstrip("_").startswith("duckdb")


def main() -> None:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        app()
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:
        if not _out_of_memory(exc):
            raise
        # each step writes in one transaction, rolled back here: nothing is half-written
        typer.echo(
            "error: DuckDB ran out of memory within [engine] memory_limit and could not spill to disk; "
            "the step that failed wrote nothing. Raise memory_limit in a config file (--config; docs/performance.md "
            "gives what each cohort size needed) or close other work on the machine",
            err=True,
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
