"""Pandera models of the `stg_*` tables, declared from the table registry and run in the
database (`pandera.ibis`: nothing is pulled into pandas).

Each model is the registry's declaration of the table (pipeline/engine/registry.py): its
columns in order (strict: no other column), their types, nullability, uniqueness, allowed
values and bounds. A bound that is policy (`birth_year` from `[validation] min_year`) is read
from the config, so the row checks and the model agree.

    >>> from pipeline.config import load_config
    >>> sorted(staged_model("patients", load_config()).columns)[:3]
    ['age_band', 'birth_year', 'patient_id']
"""

from __future__ import annotations

import sys


def _import_pandera():
    """pandera.ibis without the optional integrations the pipeline never uses. When they are
    installed, `import pandera` loads Hypothesis (for its data-synthesis strategies) and
    PySpark's pandas API: about 0.4 s of every `validate` start (docs/performance.md). Both are
    kept out while pandera loads; a process that has loaded them already (the test suite's
    Hypothesis plugin, a Spark session) keeps them, and pandera then uses them as usual.
    Pandera 0.35 has no switch for this (its issue #1644 made the other integrations lazy,
    not these two); when it gains one, use it instead of this."""
    kept_out = [m for m in ("hypothesis", "pyspark") if m not in sys.modules]
    for m in kept_out:
        sys.modules[m] = None  # an import of it raises ImportError, which pandera expects
    try:
        import pandera.backends.ibis.builtin_checks  # loaded by pandera when it first validates
        import pandera.errors
        import pandera.ibis
    finally:
        for m in kept_out:
            if sys.modules.get(m, 0) is None:
                del sys.modules[m]
    return pandera.errors, pandera.ibis


_errors, pa = _import_pandera()

from pipeline.engine.registry import STAGED  # noqa: E402
from pipeline.engine.tables import as_read_back  # noqa: E402


class StagedContractError(RuntimeError):
    """A staged table broke its model after the row checks: a bug in staging, not in the data."""


def _checks(column, config) -> list:
    checks = []
    if column.isin:
        checks.append(pa.Check.isin(list(column.isin)))
    if column.ge is not None:
        checks.append(pa.Check.ge(column.ge))
    if column.ge_config:
        section, key = column.ge_config.split(".")
        checks.append(pa.Check.ge(getattr(getattr(config, section), key)))
    return checks


def staged_model(table: str, config, engine: str = "duckdb") -> pa.DataFrameSchema:
    """The Pandera model of `stg_<table>` under `config`, as `engine` reports its types."""
    declared = STAGED[table]
    columns = {
        c.name: pa.Column(as_read_back(c.ibis_type, engine), checks=_checks(c, config), nullable=c.nullable,
                          unique=c.unique, description=c.description)
        for c in declared.columns
    }  # fmt: skip
    return pa.DataFrameSchema(columns, strict=True, ordered=True, name=declared.name)


def check_staged(table: str, expr, config) -> None:
    """Validate `stg_<table>` in the database; a violation is a staging bug. An empty table
    (every row quarantined) has nothing to check: pandera.ibis reports every not-null check as
    failed on it."""
    if not expr.count().execute():
        return
    try:
        staged_model(table, config, expr.get_backend().name).validate(expr, lazy=True)
    except _errors.SchemaErrors as exc:
        raise StagedContractError(f"stg_{table} breaks its Pandera model:\n{exc.failure_cases}") from None
