"""Staging: raw_* -> stg_* + quarantine (+ checks, load_log).

Reads the raw tables (every value as text) and writes, per canonical table, the rows that
pass every check to `stg_<table>` (typed, codes mapped, units harmonised) and each failing
row x check to `quarantine` with a reason a person can act on. The checks are data
(`Check`: id, description, failing predicate, reason) and are written to the `checks` table;
`load_log` holds raw = staged + quarantined per file. `validate.py` runs the step.

Each table module exposes `typed(raw, ctx) -> Table` (raw columns kept, typed columns added),
`checks(ctx) -> list[Check]` and `staged(t) -> Table` (the stg_ columns, shaped by the
registry when written).
"""
