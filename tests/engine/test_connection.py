"""The engine's connection: DuckDB settings from `[engine]`, and all-or-nothing writes."""

from __future__ import annotations

import ibis
import pytest

from pipeline.config import load_config_from
from pipeline.engine import connect, transaction
from pipeline.errors import UserError


def _setting(con, name: str):
    return con.con.execute(f"select current_setting('{name}')").fetchone()[0]


def test_memory_threads_spill_folder_and_compression_come_from_the_config(tmp_path):
    engine = {"memory_limit": "1GB", "threads": 1, "temp_directory": str(tmp_path / "spill")}
    cfg = load_config_from({"engine": {**engine, "disabled_compression_methods": "fsst"}})
    con = connect(tmp_path / "w.duckdb", engine=cfg.engine)
    assert _setting(con, "threads") == 1 and _setting(con, "temp_directory") == str(tmp_path / "spill")
    assert _setting(con, "memory_limit").startswith("953")  # 1 GB shown in MiB
    assert _setting(con, "disabled_compression_methods").lower() == "fsst"


def test_the_defaults_leave_duckdb_alone(tmp_path):
    plain = connect(tmp_path / "a.duckdb")
    configured = connect(tmp_path / "b.duckdb", engine=load_config_from({}).engine)
    assert _setting(configured, "threads") == _setting(plain, "threads")
    same = _setting(configured, "disabled_compression_methods") == _setting(plain, "disabled_compression_methods")
    assert same, "the default keeps every compression method (the smaller warehouse)"


def test_a_setting_duckdb_refuses_is_one_line_naming_the_key(tmp_path):
    with pytest.raises(UserError, match=r"\[engine\] memory_limit = 'lots' is refused by DuckDB"):
        connect(tmp_path / "w.duckdb", engine=load_config_from({"engine": {"memory_limit": "lots"}}).engine)


def test_a_failed_transaction_leaves_the_warehouse_as_it_was(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    con.create_table("t", ibis.memtable({"a": [1]}))
    with pytest.raises(RuntimeError), transaction(con):
        con.insert("t", ibis.memtable({"a": [2]}))
        con.create_table("u", ibis.memtable({"b": [1]}))
        raise RuntimeError("stop")
    assert con.table("t").count().execute() == 1 and "u" not in con.list_tables()


def _failure_causes(episode: str) -> ibis.Table:
    """A failure_causes row with its columns in reverse order (declared order: `conform`)."""
    row = {"evidence": ["x"], "evidence_row_id": [3], "evidence_table": ["stg_prescriptions"], "cause": ["low_dose"],
           "patient_id": ["P1"], "episode_id": [episode]}  # fmt: skip
    return ibis.memtable(row)


def _warehouse_tables(con) -> list[str]:
    """The tables of the warehouse, less the views Ibis registers for in-memory frames."""
    return [t for t in con.list_tables() if not t.startswith("ibis_pandas_memtable")]


def test_step_tables_are_committed_temporary_tables_dropped_at_the_end(tmp_path):
    from pipeline.engine import StepTables, tables

    con = connect(tmp_path / "w.duckdb")
    with StepTables(con, "_t_step") as steps:
        kept = steps.keep(_failure_causes("iron-1"))
        # a temporary table: never in the warehouse file, so a killed step leaves none behind
        found = con.con.execute("SELECT temporary FROM duckdb_tables() WHERE table_name = '_t_step_1'")
        assert found.fetchall() == [(True,)]
        # committed as written: a transaction can begin (it could not inside an open one)
        con.con.execute("BEGIN TRANSACTION")
        con.con.execute("ROLLBACK")
        steps.write({"failure_causes": kept})
        assert kept.count().execute() == 1  # kept until the step ends
    assert _warehouse_tables(con) == ["failure_causes"]
    assert con.table("failure_causes").episode_id.execute().tolist() == ["iron-1"]
    assert tables.conforms("failure_causes", con.table("failure_causes"))


def test_a_released_step_table_is_gone_before_the_step_ends(tmp_path):
    from pipeline.engine import StepTables

    con = connect(tmp_path / "w.duckdb")
    with StepTables(con, "_t_step") as steps:
        first = steps.keep(_failure_causes("iron-1"), "_t_named")
        second = steps.keep(_failure_causes("iron-2"))
        assert {"_t_named", "_t_step_2"} <= set(con.list_tables())
        steps.release(first)
        steps.release(first)  # again: nothing happens
        assert "_t_named" not in con.list_tables()
        assert second.episode_id.execute().tolist() == ["iron-2"]  # the others stay
    assert _warehouse_tables(con) == []


def test_step_outputs_land_together_or_not_at_all(tmp_path):
    from pipeline.engine import StepTables

    con = connect(tmp_path / "w.duckdb")
    checks = ibis.memtable({"table_name": ["labs"], "check_id": ["c1"], "description": ["d"], "position": [0]})
    bad = _failure_causes("iron-1").mutate(evidence_row_id=ibis.literal("not a number"))  # fails when cast
    with pytest.raises(Exception, match="not a number"), StepTables(con, "_t_step") as steps:
        steps.write({"checks": steps.keep(checks), "failure_causes": bad})
    assert _warehouse_tables(con) == []  # checks was written first, and rolled back; the kept table dropped


def test_step_tables_are_dropped_and_nothing_is_committed_when_the_step_fails(tmp_path):
    from pipeline.engine import StepTables

    con = connect(tmp_path / "w.duckdb")
    with pytest.raises(RuntimeError), StepTables(con, "_t_step") as steps:
        steps.keep(_failure_causes("iron-1"))
        raise RuntimeError("a rule failed")
    assert _warehouse_tables(con) == []


def test_unfused_selects_compiles_each_select_apart_and_restores_the_option():
    from pipeline.engine import unfused_selects

    t = ibis.table({"a": "int64"}, name="t")
    e = t.mutate(b=t.a + 1).mutate(c=lambda s: s.b * 2)
    fused = ibis.to_sql(e, dialect="duckdb")
    with unfused_selects():
        apart = ibis.to_sql(e, dialect="duckdb")
    assert fused.count("SELECT") == 1 and apart.count("SELECT") == 2
    assert ibis.options.sql.fuse_selects is True
    with pytest.raises(RuntimeError), unfused_selects():
        raise RuntimeError
    assert ibis.options.sql.fuse_selects is True
