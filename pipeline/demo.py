"""A small synthetic warehouse to try the API and the notebooks without real data."""

from __future__ import annotations

import tempfile
from pathlib import Path


def build_demo_warehouse(path: str | Path, patients: int = 300, seed: int = 1) -> Path:
    """Synthesise `patients` patients, then load, validate, classify and audit them into a
    new warehouse at `path` (which must not exist yet). Returns the path."""
    from pipeline.audit import run_audit
    from pipeline.classify import classify
    from pipeline.config import load_config
    from pipeline.errors import UserError
    from pipeline.extract import csv as csv_source
    from pipeline.synth import generate
    from pipeline.validate import validate
    from pipeline.warehouse import connect, load_tables

    path = Path(path)
    if path.exists():
        raise UserError(f"{path} already exists; the demo warehouse is always built new")
    cfg = load_config()
    with tempfile.TemporaryDirectory() as tmp:
        generate(patients, seed, Path(tmp))
        con = connect(path)
        try:
            tables, _ = csv_source.read(Path(tmp), cfg)
            load_tables(con, tables, "csv", progress=lambda m: None)
            validate(con, cfg, progress=lambda m: None)
            classify(con, cfg)
            run_audit(con, cfg)
        finally:
            con.disconnect()
    return path
