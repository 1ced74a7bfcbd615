"""What every source adapter hands to the warehouse loader.

An adapter (csv, omop, mimic) is a module with `read(input_path, config) -> Extract`: a list
of `SourceTable`s and notes. Each `SourceTable` holds: for one canonical table
(`patients`, `labs`, `prescriptions`, `dispensings`, `diagnoses`), the rows read from one
source file, with the contract's column names (docs/data-contract.md), every value as text
(or null), and a 1-based `source_row` column giving the row's position in that source file.
Columns the contract does not name must not be present. The loader adds `row_id` and
`load_id` and writes `raw_<table>`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The contract is declared once, in the table registry; adapters import it from here.
from pipeline.engine.registry import COLUMNS, OPTIONAL_TABLES, REQUIRED_COLUMNS, REQUIRED_TABLES, TABLES

__all__ = ["COLUMNS", "OPTIONAL_TABLES", "REQUIRED_COLUMNS", "REQUIRED_TABLES", "TABLES", "Extract", "SourceTable"]


@dataclass
class SourceTable:
    """Rows of one canonical table read from one source file.

    `frame` is anything DuckDB can scan (a pyarrow Table, a pandas DataFrame or a DuckDB
    relation on the loader's connection) holding the contract columns as text plus
    `source_row`. Contract columns missing from the frame are loaded as null.
    """

    table: str
    source_file: str
    content_hash: str
    frame: Any
    notes: list[str] = field(default_factory=list)
    # UserErrors raised while `frame` streamed (a fault or an identifier value deep in a file):
    # an engine that wraps the stream's exceptions in its own re-raises these as they are
    failures: list = field(default_factory=list)


@dataclass
class Extract:
    """What every adapter's `read(input_path, config)` returns: the source tables, and notes
    on what was read differently or left out (files, columns), printed by the CLI."""

    tables: list[SourceTable]
    notes: list[str] = field(default_factory=list)

    @property
    def all_notes(self) -> list[str]:
        return self.notes + [n for t in self.tables for n in t.notes]


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
