"""The staged tables the rules read, with the optional ones explicitly absent.

`stg_dispensings` and `stg_diagnoses` are optional inputs (docs/data-contract.md). When the
user supplied no such file the table is absent from the warehouse and the field is `None`;
every rule that would read it says what it does instead (adherence is `adherence_unknown`,
diagnosis-based causes and exclusions are not found).
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis

from pipeline.engine.registry import REQUIRED_TABLES, TABLES
from pipeline.errors import UserError
from pipeline.rules.rows import first_per_group


@dataclass(frozen=True)
class Staged:
    patients: ibis.Table
    labs: ibis.Table
    prescriptions: ibis.Table
    dispensings: ibis.Table | None
    diagnoses: ibis.Table | None


def read_staged(con) -> Staged:
    """The `stg_*` tables of the warehouse behind `con`; a missing required table is a user
    error (validation has not run), a missing optional table is `None`."""
    present = set(con.list_tables())
    missing = [f"stg_{t}" for t in REQUIRED_TABLES if f"stg_{t}" not in present]
    if missing:
        raise UserError(f"warehouse has no {', '.join(missing)}: run `anemia-audit validate` first")
    tables = {t: con.table(f"stg_{t}") if f"stg_{t}" in present else None for t in TABLES}
    return Staged(**tables)


def one_row_per_patient(patients: ibis.Table) -> ibis.Table:
    """stg_patients reduced to one row per patient_id (the lowest row_id), so that a
    duplicated patient row can never multiply episodes in a join."""
    return first_per_group(patients, "patient_id", "row_id")


def attach(left: ibis.Table, right: ibis.Table, key: str | list[str]) -> ibis.Table:
    """Left join that keeps every left row and a single copy of the key column(s): a
    missing match leaves the right-hand columns null (never drops the left row)."""
    keys = [key] if isinstance(key, str) else list(key)
    joined = left.join(right, keys, how="left")
    return joined.select(*left.columns, *[c for c in right.columns if c not in keys])
