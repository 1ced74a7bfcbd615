"""How validate writes (issue 11): each table's staged and quarantined rows are built first, as
scratch tables outside the step's transaction, then copied into place in one transaction.
A failure at any point leaves the warehouse as it was and no scratch table behind. A real
DuckDB file and a synthetic cohort."""

from __future__ import annotations

import duckdb
import pytest

from pipeline import steps
from pipeline.config import load_config
from pipeline.engine import connect
from pipeline.staging import validate as validate_module


def _rows(db) -> dict[str, list]:
    """Every table's rows, sorted (the validation time of load_log left out)."""
    out = {}
    with duckdb.connect(str(db), read_only=True) as con:
        for (name,) in con.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall():
            found = con.execute(f"SELECT column_name FROM information_schema.columns WHERE table_name = '{name}'")
            cols = [c for (c,) in found.fetchall() if c != "validated_at"]
            out[name] = sorted(map(repr, con.execute(f'SELECT {", ".join(cols)} FROM "{name}"').fetchall()))
    return out


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("validate_writes")
    steps.synth(120, 5, tmp / "in")
    db = tmp / "w.duckdb"
    config = load_config()
    steps.load("csv", tmp / "in", db, config)
    steps.validate(db, config)
    return db, config


@pytest.mark.parametrize("failing", ["patients", "prescriptions"])
def test_a_failure_midway_leaves_the_warehouse_as_it_was_and_no_scratch_table(validated, monkeypatch, failing):
    db, config = validated
    before = _rows(db)
    checked = validate_module.check_staged

    def check(table, staged, cfg):
        if table == failing:
            raise RuntimeError(f"planted: stg_{table} failed its model")
        return checked(table, staged, cfg)

    monkeypatch.setattr(validate_module, "check_staged", check)
    con = connect(db)
    try:
        with pytest.raises(RuntimeError, match="planted"):
            validate_module.validate(con, config)
        left = [t for t in con.list_tables() if t.startswith(("_cand_", "_stg_", "_quarantine_"))]
        assert left == []
    finally:
        con.disconnect()
    assert _rows(db) == before


def test_each_typed_candidate_is_dropped_once_its_table_is_built(validated, monkeypatch):
    """One table's candidate in memory at a time (at 10,000,000 patients that matters)."""
    db, config = validated
    checked = validate_module.check_staged
    seen = {}

    def check(table, staged, cfg):
        seen[table] = [t for t in staged._find_backend().list_tables() if t.startswith("_cand_")]
        return checked(table, staged, cfg)

    monkeypatch.setattr(validate_module, "check_staged", check)
    steps.validate(db, config)
    assert set(seen) == {"patients", "labs", "prescriptions", "dispensings", "diagnoses"}
    assert all(left == [] for left in seen.values()), seen


def test_a_failure_while_writing_rolls_back_every_table(validated, monkeypatch):
    db, config = validated
    before = _rows(db)

    def fail(con, result):
        raise RuntimeError("planted: the load log could not be written")

    monkeypatch.setattr(validate_module, "_write_load_log", fail)  # the last write of the transaction
    con = connect(db)
    try:
        with pytest.raises(RuntimeError, match="planted"):
            validate_module.validate(con, config)
    finally:
        con.disconnect()
    assert _rows(db) == before


def test_a_second_run_gives_the_same_tables(validated):
    db, config = validated
    before = _rows(db)
    steps.validate(db, config)
    assert _rows(db) == before
