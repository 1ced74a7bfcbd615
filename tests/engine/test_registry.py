"""The table registry is the one declaration of every warehouse table: the docs, the
Pandera models and what the steps write all follow it, and a drift fails here."""

from __future__ import annotations

import re
from pathlib import Path

import ibis
import pytest

from pipeline.config import load_config
from pipeline.engine import registry, tables
from pipeline.engine.tables import RegistryError
from schemas.staged import StagedContractError, check_staged

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_docs_tables_md_is_generated_from_the_registry():
    assert (DOCS / "tables.md").read_text(encoding="utf-8") == registry.render_markdown(), (
        "docs/tables.md is stale: run `python -m pipeline.engine.registry`"
    )


@pytest.mark.parametrize("table", registry.TABLES)
def test_data_contract_lists_the_contract_columns_in_order(table):
    text = (DOCS / "data-contract.md").read_text(encoding="utf-8")
    section = re.split(rf"^### `{table}`.*$", text, flags=re.M)[1].split("\n### ", 1)[0]
    documented = re.findall(r"^\| (\w+) \|", section, flags=re.M)
    assert [c for c in documented if c != "column"] == list(registry.COLUMNS[table])


@pytest.mark.parametrize("table", ["episodes", "iron_outcomes"])
def test_rules_md_column_tables_match_the_registry(table):
    text = (DOCS / "rules.md").read_text(encoding="utf-8")
    blocks = text.split("| column | type | meaning |")[1:]  # episodes first, then iron_outcomes
    block = blocks[0] if table == "episodes" else blocks[1]
    names = []
    for line in block.split("\n")[2:]:  # after the heading row and the |---| row
        if not line.startswith("|"):
            break
        names += [c.strip() for c in line.split("|")[1].split(",")]
    assert names == list(registry.spec(table).names)


def test_conform_refuses_an_undeclared_or_missing_column():
    t = ibis.memtable({"episode_id": ["iron-1"], "surprise": [1]})
    with pytest.raises(RegistryError, match="surprise"):
        tables.conform("episodes", t)


def test_conform_orders_and_casts_to_the_declared_types():
    t = ibis.memtable({"cause": ["low_dose"], "episode_id": ["iron-1"], "patient_id": ["P1"],
                       "evidence_table": [None], "evidence_row_id": [3], "evidence": ["x"]})  # fmt: skip
    out = tables.conform("failure_causes", t)
    assert tuple(out.columns) == registry.spec("failure_causes").names
    assert out.schema()["evidence_table"].is_string() and out.schema()["evidence_row_id"].is_int64()


def test_conforms_only_when_conform_would_change_nothing():
    # classify renames a kept step into its output table only when this holds (no copy)
    t = ibis.memtable({"cause": ["low_dose"], "episode_id": ["iron-1"], "patient_id": ["P1"],
                       "evidence_table": [None], "evidence_row_id": [3], "evidence": ["x"]})  # fmt: skip
    assert not tables.conforms("failure_causes", t)  # order and types differ
    out = tables.conform("failure_causes", t)
    assert tables.conforms("failure_causes", out)
    assert not tables.conforms("failure_causes", out.mutate(evidence_row_id=out.evidence_row_id.cast("int32")))
    assert not tables.conforms("failure_causes", out.select(*reversed(out.columns)))


def test_every_table_the_pipeline_writes_has_its_declared_shape(tmp_path):
    from pipeline.steps import build_demo_warehouse

    con = ibis.duckdb.connect(str(build_demo_warehouse(tmp_path / "w.duckdb", patients=80)))
    written = sorted(con.list_tables())
    assert {"checks", "quarantine", "load_log", "loaded_files", "episodes", "audit_run"} <= set(written)
    for name in written:
        declared = registry.ibis_schema(name)
        actual = con.table(name).schema()
        assert list(actual.names) == list(declared.names), name
        for col in declared.names:
            assert actual[col].copy(nullable=True) == declared[col], (name, col, actual[col], declared[col])


def test_the_birth_year_bound_of_the_model_is_the_config_minimum_year():
    con = ibis.duckdb.connect()
    row = {"row_id": [1], "patient_id": ["P1"], "sex": ["F"], "birth_year": [1860], "age_band": [None],
           "site": [None], "pregnancy_start": [None], "pregnancy_end": [None]}  # fmt: skip
    t = con.create_table("p", ibis.memtable(row, schema=registry.ibis_schema("stg_patients")))
    with pytest.raises(StagedContractError):
        check_staged("patients", t, load_config())  # default min_year 1900
    check_staged("patients", t, load_config().with_overrides({"validation": {"min_year": 1850}}))
