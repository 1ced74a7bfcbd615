"""Extract: source files -> raw_* (every value as text, exactly as read, with its file and row).

One module per source format, all with the same interface, `read(input_path, config) ->
Extract` (pipeline/extract/base.py):

- `csv`: the canonical folder (docs/data-contract.md), CSV, CSV.gz or Parquet;
- `omop`: an OMOP CDM v5.4 folder or DuckDB file;
- `mimic`: a MIMIC-IV `hosp` folder.

The loader (`pipeline.engine.raw.load_tables`) appends what they read to raw_*.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

SOURCES = ("csv", "omop", "mimic")


def read_source(source: str, input_path: Path, config):
    """The `Extract` of `input_path` read by the adapter for `source`, its free-text values
    screened for identifiers (privacy.screen_tables) whatever the adapter."""
    from pipeline.extract.privacy import screen_tables

    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    extract = import_module(f"pipeline.extract.{source}").read(Path(input_path), config)
    screen_tables(extract.tables)
    return extract
