"""The canonical `csv` source: a folder with one CSV (optionally .gz) or Parquet file per table.

Files are streamed in record batches (bounded memory) with every value kept as text, exactly
as written; typing happens at validation. File-level problems (unreadable, empty, wrong
delimiter, bad encoding, missing required column, identifier-like column) raise UserError
naming the file and column.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.errors import UserError
from pipeline.extract.base import COLUMNS, REQUIRED_COLUMNS, REQUIRED_TABLES, TABLES, SourceTable, file_sha256
from pipeline.privacy import screen_columns

_SUFFIXES = (".csv", ".csv.gz", ".parquet")
_BATCH_BYTES = 16 << 20


def _table_of(path: Path) -> str | None:
    name = path.name.lower()
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def discover(input_dir: Path) -> tuple[dict[str, Path], list[str]]:
    """Map contract table -> file; list the files the contract does not name."""
    if not input_dir.is_dir():
        raise UserError(f"input folder not found: {input_dir}")
    found: dict[str, Path] = {}
    skipped: list[str] = []
    for path in sorted(input_dir.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        table = _table_of(path)
        if table not in TABLES:
            skipped.append(path.name)
            continue
        if table in found:
            raise UserError(f"{input_dir}: two files for table '{table}': {found[table].name} and {path.name}")
        found[table] = path
    missing = [t for t in REQUIRED_TABLES if t not in found]
    if missing:
        raise UserError(f"{input_dir}: required file missing: {', '.join(t + '.csv' for t in missing)}")
    return found, skipped


def _open_binary(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def _csv_header(path: Path) -> list[str]:
    if path.stat().st_size == 0:
        raise UserError(f"{path.name}: file is empty")
    try:
        with _open_binary(path) as fh:
            first = fh.readline().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"{path.name}: header is not UTF-8 text; save the file as UTF-8 CSV") from None
    except (OSError, EOFError) as exc:
        raise UserError(f"{path.name}: cannot be read ({exc})") from None
    if not first.strip():
        raise UserError(f"{path.name}: file is empty (no header row)")
    header = next(csv.reader([first]))
    if len(header) == 1:
        for sep, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            if sep in header[0]:
                raise UserError(f"{path.name}: columns are separated by {label}, not commas; "
                                f"save it as comma-separated CSV")
    return [h.strip() for h in header]


def _check_columns(path: Path, table: str, header: list[str], config) -> list[str]:
    lowered = [h.lower() for h in header]
    if len(set(lowered)) != len(lowered):
        dup = sorted({h for h in lowered if lowered.count(h) > 1})
        raise UserError(f"{path.name}: duplicate column name(s): {', '.join(dup)}")
    keep = screen_columns(path.name, header, config)
    for alternatives in REQUIRED_COLUMNS[table]:
        if not any(a in lowered for a in alternatives):
            raise UserError(f"{path.name}: required column '{' or '.join(alternatives)}' is missing")
    return keep


def _batches_with_row_numbers(reader, keep: list[str], path: Path):
    known = [c for c in keep if c.lower() in COLUMNS[_table_of(path)]]
    names = [c.lower() for c in known]
    start = 1
    try:
        for batch in reader:
            n = batch.num_rows
            arrays = [batch.column(c).cast(pa.string()) for c in known]
            arrays.append(pa.array(range(start, start + n), type=pa.int64()))
            start += n
            yield pa.RecordBatch.from_arrays(arrays, names=names + ["source_row"])
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise _read_error(path, exc, f"near data row {start:,}") from None


def _read_error(path: Path, exc: Exception, where: str) -> UserError:
    msg = str(exc).splitlines()[0]
    if "UTF8" in msg or "utf-8" in msg.lower():
        msg = "contains text that is not UTF-8; save the file as UTF-8 CSV"
    return UserError(f"{path.name}: cannot be read {where}: {msg}")


def _schema(keep: list[str], path: Path) -> pa.Schema:
    known = [c.lower() for c in keep if c.lower() in COLUMNS[_table_of(path)]]
    return pa.schema([(c, pa.string()) for c in known] + [("source_row", pa.int64())])


def _csv_reader(path: Path, header: list[str], keep: list[str]):
    read = pacsv.ReadOptions(block_size=_BATCH_BYTES, use_threads=True)
    convert = pacsv.ConvertOptions(column_types={h: pa.string() for h in header}, include_columns=keep,
                                   strings_can_be_null=True, quoted_strings_can_be_null=False)
    parse = pacsv.ParseOptions(delimiter=",", newlines_in_values=True)
    try:
        return pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, OSError) as exc:
        raise _read_error(path, exc, "in its first rows") from None


def _parquet_reader(path: Path, keep: list[str]):
    pf = pq.ParquetFile(path)
    return pf.iter_batches(batch_size=256_000, columns=keep)


def read_file(table: str, path: Path, config) -> SourceTable:
    """One contract file as a SourceTable streaming record batches."""
    notes: list[str] = []
    if path.name.lower().endswith(".parquet"):
        try:
            header = [f.name for f in pq.ParquetFile(path).schema_arrow]
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise UserError(f"{path.name}: cannot be read as Parquet ({str(exc).splitlines()[0]})") from None
        keep = _check_columns(path, table, header, config)
        batches = _parquet_reader(path, keep)
    else:
        header = _csv_header(path)
        keep = _check_columns(path, table, header, config)
        batches = _csv_reader(path, header, keep)
    extra = [c for c in keep if c.lower() not in COLUMNS[table]]
    if extra:
        notes.append(f"{path.name}: columns not in the contract, not loaded: {', '.join(extra)}")
    dropped = [c for c in header if c not in keep]
    if dropped:
        notes.append(f"{path.name}: columns dropped by [privacy] drop_columns: {', '.join(dropped)}")
    reader = pa.RecordBatchReader.from_batches(_schema(keep, path), _batches_with_row_numbers(batches, keep, path))
    return SourceTable(table, path.name, file_sha256(path), reader, notes)


def read(input_dir: Path, config) -> tuple[list[SourceTable], list[str]]:
    """All contract files in `input_dir`, plus notes on files and columns that were skipped."""
    found, skipped = discover(Path(input_dir))
    notes = [f"{name}: not a contract table, skipped" for name in skipped]
    tables = [read_file(table, path, config) for table, path in found.items()]
    return tables, notes
