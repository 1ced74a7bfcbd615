"""Validate raw rows into staged tables and the quarantine, then reconcile.

For each raw table present: type and map the rows (pipeline/staging/<table>.py), evaluate
every row-level check in the database, write each failing row x check to `quarantine` with a
reason a person can act on, write the rows that pass every check to `stg_<table>`, and check
the staged table against its Pandera model (schemas/staged.py, from the table registry) in
the database. The checks themselves are written to the `checks` table. Finally, per table
and file (per load: two loads of a same-named file stay apart), raw rows = staged rows +
quarantined rows (a row failing several checks counts once) is stored in `load_log`; a
mismatch is a bug and stops the run.

Everything the step writes lands in one transaction, and it rebuilds stg_* and quarantine
from all raw rows, so running it twice gives the same result. Each table's staged and
quarantined rows are first built as the step's kept tables (`engine.StepTables`: temporary
tables on DuckDB, committed as they are written, outside that transaction; a killed step
leaves none behind), then the transaction copies them into place. DuckDB scans rows
written inside a still-open transaction on one thread only, so building them inside it
left a core idle: validate at 1,000,000 patients 24.8-26.5 -> 19.3-22.9 s (issue 11,
docs/performance.md).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import ModuleType

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import pandas as pd
from ibis import _

from pipeline.engine import StepTables, tables, transaction, unfused_selects
from pipeline.engine.registry import COLUMNS, TABLES
from pipeline.progress import Planned, Progress, item, quiet
from pipeline.staging import diagnoses, dispensings, labs, patients, prescriptions
from pipeline.staging.common import (
    DUP_HASH,
    FIRST_ROW,
    Check,
    Context,
    duplicate_keys,
    first_row_ids,
    raw_values,
    with_first_row_id,
    with_known_patient,
)
from schemas.staged import check_staged

MODULES: dict[str, ModuleType] = {
    "patients": patients,
    "labs": labs,
    "prescriptions": prescriptions,
    "dispensings": dispensings,
    "diagnoses": diagnoses,
}


class ReconciliationError(RuntimeError):
    """raw != staged + quarantined: a bug in the pipeline, never the user's fault."""


def checks_frame(ctx: Context) -> pd.DataFrame:
    """The `checks` table: every row-level check of every table, in the order they run."""
    rows = [
        {"table_name": table, "check_id": c.check_id, "description": c.description, "position": i}
        for table, module in MODULES.items()
        for i, c in enumerate(module.checks(ctx), start=1)
    ]
    return pd.DataFrame(rows)


_FAILURE = dt.Struct({"check_id": dt.string, "reason": dt.string})


def _failures(cand: ibis.Table, table: str, ctx: Context) -> ibis.Table:
    """Every failing row x check in one pass over the table: each check is an element of
    one array column (its id and reason when it fails, else null), and the failing
    elements are unnested into quarantine rows. No per-check scan."""
    entries = []
    for check in MODULES[table].checks(ctx):
        found = ibis.struct({"check_id": ibis.literal(check.check_id),
                             "reason": check.reason(cand).fill_null(check.description)})  # fmt: skip
        entries.append(ibis.ifelse(check.fails(cand).fill_null(False), found, ibis.null(_FAILURE)))
    flagged = cand.mutate(_failed=ibis.array(entries).filter(lambda f: f.notnull()))
    flagged = flagged.filter(flagged._failed.length() > 0)
    rows = flagged.mutate(_f=flagged._failed.unnest())
    return rows.select(
        table_name=ibis.literal(table),
        row_id=rows.row_id,
        source_file=rows.source_file,
        source_row=rows.source_row,
        check_id=rows._f.check_id,
        reason=rows._f.reason,
        raw_values=raw_values(rows, COLUMNS[table]),
    )


def _fields(values, rel: ibis.Table) -> set[str]:
    """The columns of `rel` that the value expressions read."""
    return {f.name for v in values for f in v.op().find(ops.Field) if f.rel == rel.op()}


def _probe(typed: ibis.Table, table: str) -> ibis.Table:
    """An unbound table of the candidate's columns, to see which columns an expression reads."""
    return ibis.table({**typed.schema(), FIRST_ROW: dt.int64}, name=f"_probe_{table}")


def _layout(con, typed: ibis.Table, table: str, ctx: Context) -> tuple[list[str], list[str]]:
    """(the columns of `typed` the candidate table keeps, the raw columns the quarantine reads
    back from raw_<table> by row_id). The candidate keeps what the checks and the staged table
    read; the raw text that only the reasons and `raw_values` show is read back for the failing
    rows alone (about 1 %): a narrower candidate is cheaper to write, to scan and to hold in
    memory (issue 11: at 30 M lab rows the wide one spilled to disk)."""
    probe = _probe(typed, table)
    checks = MODULES[table].checks(ctx)
    staged = MODULES[table].staged(probe).op()
    if not (isinstance(staged, ops.Project) and staged.parent == probe.op()):
        return list(typed.columns), []
    # the duplicate search (`first_row_ids`) reads the cleaned values and their hash
    keep = {"row_id", DUP_HASH, *duplicate_keys(COLUMNS[table])} | _fields([c.fails(probe) for c in checks], probe)
    keep |= _fields([v.to_expr() for v in staged.values.values()], probe)
    shown = _fields([c.reason(probe) for c in checks] + [raw_values(probe, COLUMNS[table])], probe) - keep
    shown |= {"source_file", "source_row"} - keep
    # only the file's own text and provenance are read back: staging never rewrites them
    raw = set(con.table(f"raw_{table}").columns) & {*COLUMNS[table], "source_file", "source_row"}
    back = [c for c in typed.columns if c in shown and c in raw]
    keep |= shown - raw
    return [c for c in typed.columns if c in keep], back


def _quarantine(con, cand: ibis.Table, back: list[str], table: str, ctx: Context) -> ibis.Table:
    """The failing rows x checks: the rows failing any check, with the raw text their reasons
    show read back from raw_<table>."""
    failing = cand.filter(cand._failing)
    if back:
        raw = con.table(f"raw_{table}").select("row_id", *back)
        failing = failing.drop(*back).join(raw, "row_id")
    return _failures(failing, table, ctx)


def _any_fails(t: ibis.Table, checks: list[Check]) -> ibis.BooleanValue:
    """Whether the row fails any of `checks` (a check that cannot tell, null, does not fail it)."""
    return ibis.or_(*[c.fails(t).fill_null(False) for c in checks], ibis.literal(False))


def _split_checks(typed: ibis.Table, table: str, ctx: Context) -> tuple[list[Check], list[Check]]:
    """(the checks the candidate table evaluates, the checks that read `_first_row_id`, which
    is known only once the candidate is written: `first_row_ids` searches it)."""
    probe = _probe(typed, table)
    checks = MODULES[table].checks(ctx)
    later = [c for c in checks if FIRST_ROW in _fields([c.fails(probe)], probe)]
    return [c for c in checks if c not in later], later


def _named(cand: ibis.Table, back: list[str], typed: ibis.Table) -> ibis.Table:
    """The candidate with the raw columns it does not hold as typed nulls: the checks and the
    staged table name them (`clean(t.patient_id)`) but read the prepared `_c_` column instead
    (`_layout` keeps every column they read)."""
    return cand.mutate(**{c: ibis.null(typed.schema()[c]) for c in back})


def _stage_table(con, table: str, ctx: Context, progress: Progress, steps: StepTables) -> tuple[ibis.Table, ibis.Table]:
    """Type and check raw_<table>; returns (its staged rows, its quarantine rows) as kept
    tables, already checked against the Pandera model of stg_<table>. The typed candidate is
    released as soon as they are built: one table's candidate in memory at a time."""
    with item(progress, "validate", f"raw_{table}") as done:
        typed = MODULES[table].typed(con.table(f"raw_{table}"), ctx)
        if ctx.patients is not None:
            typed = with_known_patient(typed, ctx.patients)
        columns, back = _layout(con, typed, table, ctx)
        now, later = _split_checks(typed, table, ctx)
        checked = steps.keep(typed.select(*columns, _failing=_any_fails(typed, now)), f"_cand_{table}")
        dups = steps.keep(first_row_ids(checked, COLUMNS[table]), f"_cand_{table}_dups")
        cand = with_first_row_id(_named(checked, back, typed), dups)
        cand = cand.mutate(_failing=cand._failing | _any_fails(cand, later))
        failures = tables.conform("quarantine", _quarantine(con, cand, back, table, ctx))
        quarantined = steps.keep(failures, f"_quarantine_{table}")
        # a filter, not an anti-join with the quarantine, and no sort: DuckDB then writes in
        # parallel (the anti-join made the 5 M-row write serial, the sort took 1.8 s; issue 11)
        passing = tables.conform(f"stg_{table}", MODULES[table].staged(cand.filter(~cand._failing)))
        staged = steps.keep(passing, f"_stg_{table}")
        steps.release(checked)
        steps.release(dups)
        check_staged(table, staged, ctx.config)
        done.rows = tables.count(con, f"raw_{table}")
    return staged, quarantined


def _reconcile_table(con, table: str) -> ibis.Table:
    raw = con.table(f"raw_{table}").select("row_id", "load_id", "source_file")
    staged = con.table(f"stg_{table}").select(_staged=_.row_id)
    q = con.table("quarantine")
    bad = q.filter(q.table_name == table).select(_quarantined=q.row_id).distinct()
    j = raw.left_join(staged, raw.row_id == staged._staged)
    j = j.left_join(bad, j.row_id == bad._quarantined)
    # per load and file: two loads of files with the same name (labs.csv of two folders) stay apart
    return j.group_by("load_id", "source_file").aggregate(
        table_name=ibis.literal(table),
        raw_rows=j.count(),
        staged_rows=j._staged.count(),
        quarantined_rows=j._quarantined.count(),
    )


def reconcile(con, present: list[str]) -> list[dict]:
    """Raw, staged and quarantined rows per table, load and file; a mismatch raises."""
    parts = [_reconcile_table(con, t) for t in present]
    df = ibis.union(*parts).order_by(["table_name", "source_file", "load_id"]).to_pandas()
    cols = ["table_name", "source_file", "load_id", "raw_rows", "staged_rows", "quarantined_rows"]
    out = [{k: (int(v) if k.endswith("_rows") else v) for k, v in r.items()} for r in df[cols].to_dict("records")]
    for r in out:
        if r["raw_rows"] != r["staged_rows"] + r["quarantined_rows"]:
            raise ReconciliationError(
                f"{r['table_name']}/{r['source_file']}: raw {r['raw_rows']} != staged "
                f"{r['staged_rows']} + quarantined {r['quarantined_rows']}"
            )
    return out


def _write_load_log(con, result: list[dict]) -> None:
    files = con.table("loaded_files")
    loads = files.group_by("table_name", "source_file", "load_id").aggregate(loaded_at=files.loaded_at.max())
    now = datetime.now(UTC).replace(tzinfo=None)
    rec = ibis.memtable(pd.DataFrame(result))
    joined = rec.left_join(loads, ["table_name", "source_file", "load_id"])
    log = joined.select(*rec.columns, "loaded_at", validated_at=ibis.literal(now))
    tables.write(con, "load_log", log.order_by(["table_name", "source_file", "load_id"]))


def present_tables(con) -> list[str]:
    """The canonical tables with raw rows."""
    return [t for t in TABLES if tables.exists(con, f"raw_{t}") and tables.count(con, f"raw_{t}") > 0]


def validate(con, config, today: date | None = None, progress: Progress = quiet) -> list[dict]:
    """Rebuild stg_* and quarantine from raw_*; return the reconciliation per table and file.
    `progress` hears one item per table, then one for the writes (pipeline/progress.py)."""
    present = present_tables(con)
    order = ["patients", *[t for t in present if t != "patients"]]
    progress(Planned("validate", len(order) + 1, "tables"))
    ctx = Context(config=config, con=con, today=today or date.today())
    built: dict[str, tuple[ibis.Table, ibis.Table]] = {}
    with unfused_selects(), StepTables(con, "_validate") as steps:
        for table in order:
            built[table] = _stage_table(con, table, ctx, progress, steps)
            if table == "patients":
                ctx = Context(config=config, con=con, today=ctx.today, patients=built["patients"][0])
        with item(progress, "validate", "write stg_*, quarantine, checks, load_log") as done, transaction(con):
            tables.write_frame(con, "checks", checks_frame(ctx))
            tables.write(con, "quarantine", ibis.union(*[quarantined for _, quarantined in built.values()]))
            for t in TABLES:
                tables.drop(con, f"stg_{t}")
            for table, (staged, _) in built.items():
                tables.write(con, f"stg_{table}", staged)
            result = reconcile(con, present)
            _write_load_log(con, result)
            done.rows = sum(r["raw_rows"] for r in result)
    return result
