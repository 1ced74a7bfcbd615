"""docs/rules.md documents every output column and every rule setting."""

from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.rules.causes import CAUSES
from pipeline.rules.classify import EPISODE_COLUMNS, OUTCOME_COLUMNS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "rules.md").read_text()
SECTIONS = ("episodes", "testing", "deficiency", "anaemia", "coprescribing", "response", "causes")


def _section(table: str) -> str:
    return DOC.split(f"## `{table}`", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize(
    "table, columns",
    [
        ("episodes", EPISODE_COLUMNS),
        ("iron_outcomes", OUTCOME_COLUMNS),
        ("failure_causes", ("episode_id", "patient_id", "cause", "evidence_table", "evidence_row_id", "evidence")),
    ],
)
def test_every_column_is_documented(table, columns):
    text = _section(table)
    for col in columns:
        assert col in text, f"{table}.{col} missing from docs/rules.md"


def test_every_rule_setting_is_documented():
    cfg = load_config()
    for section in SECTIONS:
        for key in cfg.as_dict()[section]:
            assert key in DOC, f"[{section}] {key} missing from docs/rules.md"


def test_every_cause_is_documented():
    for cause in CAUSES:
        assert f"`{cause}`" in _section("failure_causes")
