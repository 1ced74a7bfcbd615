"""The fixed cost of a command: `--help` and `synth` load none of the heavy libraries they do
not use (Ibis, DuckDB, Pandera, Altair). Checked in a fresh interpreter, by module names."""

import json
import subprocess
import sys

import pytest

HEAVY = ("ibis", "duckdb", "pandera", "altair", "pyspark")

PROBE = """
import json, sys
from pipeline.cli import app
try:
    app(args=sys.argv[1:], standalone_mode=False)
except (SystemExit, Exception):
    pass
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def _top_modules(*args: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [("--help",), ("synth", "--help"), ("load", "--help"), ("bench", "--help")])
def test_help_loads_no_heavy_library(args):
    assert not _top_modules(*args) & set(HEAVY)


def test_synth_loads_no_heavy_library(tmp_path):
    loaded = _top_modules("synth", "--patients", "30", "--out", str(tmp_path / "s"))
    assert (tmp_path / "s" / "labs.csv").exists()
    assert not loaded & set(HEAVY)


def test_the_probe_sees_a_heavy_library_when_one_is_needed(tmp_path):
    # a command that needs the warehouse does load DuckDB: the probe can fail
    loaded = _top_modules("classify", "--db", str(tmp_path / "missing.duckdb"))
    assert "duckdb" in loaded or "ibis" in loaded


def test_validate_loads_neither_hypothesis_nor_pyspark_for_pandera(tmp_path):
    """pandera loads Hypothesis and PySpark's pandas API when they are installed (both are, in
    the development environment); `validate` on DuckDB uses neither (schemas/staged.py)."""
    from pipeline.synth import generate

    generate(30, 1, tmp_path / "in")
    db = str(tmp_path / "w.duckdb")
    subprocess.run([sys.executable, "-m", "pipeline.cli", "load", "--input", str(tmp_path / "in"), "--db", db],
                   check=True, capture_output=True)  # fmt: skip
    loaded = _top_modules("validate", "--db", db)
    assert "pandera" in loaded  # the staged tables were checked
    assert not loaded & {"hypothesis", "pyspark"}
