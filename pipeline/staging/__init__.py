"""Staging: type, map and harmonise raw rows, and the row-level checks that quarantine them.

Each table module exposes `typed(raw, ctx) -> Table` (raw columns kept, typed columns added),
`CHECKS` (a list of `Check`, the checks as data) and `STAGED_COLUMNS`.
"""
