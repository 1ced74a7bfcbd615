"""The engine's connection: DuckDB settings from `[engine]`, and all-or-nothing writes."""

from __future__ import annotations

import ibis
import pytest

from pipeline.config import load_config_from
from pipeline.engine import connect, transaction
from pipeline.errors import UserError


def _setting(con, name: str):
    return con.con.execute(f"select current_setting('{name}')").fetchone()[0]


def test_memory_threads_and_spill_folder_come_from_the_config(tmp_path):
    cfg = load_config_from({"engine": {"memory_limit": "1GB", "threads": 1, "temp_directory": str(tmp_path / "spill")}})
    con = connect(tmp_path / "w.duckdb", engine=cfg.engine)
    assert _setting(con, "threads") == 1 and _setting(con, "temp_directory") == str(tmp_path / "spill")
    assert _setting(con, "memory_limit").startswith("953")  # 1 GB shown in MiB


def test_the_defaults_leave_duckdb_alone(tmp_path):
    plain = connect(tmp_path / "a.duckdb")
    configured = connect(tmp_path / "b.duckdb", engine=load_config_from({}).engine)
    assert _setting(configured, "threads") == _setting(plain, "threads")


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
