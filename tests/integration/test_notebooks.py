"""Notebooks: jupytext pairs in sync, committed without outputs, and executed top to bottom
on a synthetic warehouse (any error fails the suite)."""

import subprocess
import sys
from pathlib import Path

import jupytext
import nbclient
import nbformat
import pytest

from tests.conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.py"))


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_pair_is_in_sync_and_has_no_outputs(source):
    ipynb = source.with_suffix(".ipynb")
    assert ipynb.exists(), f"run: jupytext --to ipynb {source.name}"
    committed = nbformat.read(ipynb, as_version=4)
    for cell in committed.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{ipynb.name} has outputs: strip them"
    from_py = jupytext.read(source)
    assert [(c.cell_type, c.source) for c in from_py.cells] == [(c.cell_type, c.source) for c in committed.cells], (
        f"{ipynb.name} differs from {source.name}: run jupytext --sync {source.name}"
    )


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nb")
    db = tmp / "audit.duckdb"
    r = subprocess.run(
        [
            str(Path(sys.executable).parent / "anemia-audit"),
            "run",
            "--fresh",
            "--patients",
            "3000",
            "--seed",
            "3",
            "--db",
            str(db),
            "--out",
            str(tmp / "reports"),
            "--synth-out",
            str(tmp / "syn"),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=900,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return db


@pytest.mark.slow
@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(source, warehouse, monkeypatch):
    monkeypatch.setenv("ANEMIA_AUDIT_DB", str(warehouse))
    nb = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(source.parent)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    html = [o["data"]["text/html"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if "data" in o and "text/html" in o["data"] and "vega" in o["data"]["text/html"].lower()]  # fmt: skip
    assert all("cdn.jsdelivr" not in h and "https://" not in h[:20000] for h in html), "a chart loads Vega from a CDN"
