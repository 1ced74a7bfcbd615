"""The documentation lists every validation check the code runs."""

from datetime import date
from pathlib import Path

from pipeline.config import load_config
from pipeline.staging.common import Context
from pipeline.staging.validate import MODULES

DOC = Path(__file__).resolve().parents[2] / "docs" / "validation.md"


def test_every_check_is_documented():
    ctx = Context(config=load_config(), con=None, today=date.today(), patients=None)
    text = DOC.read_text()
    for table, module in MODULES.items():
        section = text.split(f"### {table}\n", 1)[1].split("###", 1)[0]
        for check in module.checks(ctx):
            assert f"`{check.check_id}`" in section, f"{table}.{check.check_id} missing from docs/validation.md"
