"""The canonical `csv` source: a folder with one CSV (optionally .gz) or Parquet file per table.

Files are streamed in record batches (bounded memory) with every value kept as text, exactly
as written; typing happens at validation. Only an empty unquoted field is null: `NA`, `NULL`,
`#N/A` ... reach raw_* as the text in the file, and a quoted empty field as ''.
Problems raise UserError, one line naming the file:

- Every entry of the input folder is accounted for: read, refused with an error, or named in a
  note. Hidden entries (name starting with '.') and entries the contract does not name are
  skipped with a note. An entry with a contract name (`labs.csv`, `diagnoses.csv.gz`, ...) must
  be a regular readable file (a symlink to one is followed); a folder, fifo, device, broken
  symlink or symlink loop under such a name is an error, for optional tables too: the name
  says the file was meant to be read, and loading without it would change the audit silently.
- A required table whose file has a header but no data rows is an error; an optional one loads
  nothing, with a note.
- File-level problems (empty, wrong delimiter, no header row, unnamed or duplicate column,
  missing required column, identifier-like column, nested Parquet type) name the column.
- A value that looks like a direct identifier (e-mail, phone, NHS number, SSN, postcode) in a
  free-text column stops the load naming file, column and line (pipeline/extract/privacy.py).
- Reading errors (ragged row, bad UTF-8, damaged gzip) name the physical line, header = line 1,
  and the column. Messages never quote a value: data rows carry patient identifiers.

Each file is parsed once, as the loader streams it inside its transaction: a fault or an
identifier value far into a file rolls the whole load back, and the loader re-raises the
adapter's one-line UserError that DuckDB wrapped (`SourceTable.failures`). The first block is
read up front, so a file with no data row is known before the loader starts. pyarrow reports
faults per block, not per line, so only on the error path the file is rescanned with Python's
csv module up to the fault, counting physical lines (quoted newlines included). The content
hash is one more read of the bytes, not a parse.
"""

from __future__ import annotations

import csv
import errno
import gzip
import itertools
import stat
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.errors import UserError
from pipeline.extract.base import COLUMNS, REQUIRED_COLUMNS, REQUIRED_TABLES, TABLES, Extract, SourceTable, file_sha256
from pipeline.extract.privacy import screen_columns, screen_values

_SUFFIXES = (".csv", ".csv.gz", ".parquet")
# pyarrow's block size, so the size of each batch handed to DuckDB. DuckDB's insert holds more
# of an Arrow stream with larger batches: load of the dense 1,000,000-patient cohort peaks at
# 3.2 GiB with 16 MiB blocks and 2.6 GiB with 4 MiB, in the same time (issue 11).
_BATCH_BYTES = 4 << 20


def _table_of(path: Path) -> str | None:
    name = path.name.lower()
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def _not_regular(path: Path) -> str | None:
    """Why `path` cannot be read as a regular file (symlinks followed), or None when it can."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symlink loop"
        return "a broken symlink" if path.is_symlink() else f"not accessible ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (fifo)"  # opening it would block: never open before this check
    if not stat.S_ISREG(mode):
        return "a device or socket"
    try:
        with open(path, "rb"):
            return None
    except OSError as exc:
        return f"not readable ({exc.strerror})"


def discover(input_dir: Path) -> tuple[dict[str, Path], list[str]]:
    """Map contract table -> file, with a note for every other entry of the folder."""
    if not input_dir.is_dir():
        raise UserError(f"input folder not found: {input_dir}")
    try:
        entries = sorted(input_dir.iterdir())
    except OSError as exc:
        raise UserError(f"{input_dir}: cannot list the folder ({exc.strerror})") from None
    found: dict[str, Path] = {}
    notes: list[str] = []
    for path in entries:
        if path.name.startswith("."):
            notes.append(f"{path.name}: hidden, skipped")
            continue
        table = _table_of(path)
        problem = _not_regular(path)
        if table not in TABLES:
            notes.append(f"{path.name}: {problem + ', ' if problem else ''}not a contract table, skipped")
            continue
        if problem:
            kind = "required" if table in REQUIRED_TABLES else "optional; remove or rename it to load without it"
            raise UserError(f"{path.name}: is {problem}, not a regular file; {table} is {kind}")
        if table in found:
            raise UserError(f"{input_dir}: two files for table '{table}': {found[table].name} and {path.name}")
        found[table] = path
    missing = [t for t in REQUIRED_TABLES if t not in found]
    if missing:
        raise UserError(f"{input_dir}: required file missing: {', '.join(t + '.csv' for t in missing)}")
    return found, notes


def _open_text(path: Path):
    # surrogateescape turns a bad byte into a marker we can locate (line, column) instead of an
    # exception somewhere in an 8 KiB chunk; newline="" lets csv end lines at \n, \r\n or a lone
    # \r (old Mac files), as pyarrow does, and keep quoted newlines inside their value.
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    return opener(path, "rt", encoding="utf-8-sig", errors="surrogateescape", newline="")


def _not_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a surrogate left by surrogateescape
        return True
    return False


def _describe(exc: BaseException) -> str:
    """A reading error in words. Not gzip's own text: 'Not a gzipped file' quotes the file's bytes."""
    if isinstance(exc, EOFError):
        return "the compressed data ends early (truncated .gz file)"
    if isinstance(exc, gzip.BadGzipFile | zlib.error):
        return "the compressed data is damaged (or not gzip)"
    return (exc.strerror if isinstance(exc, OSError) else None) or (str(exc).splitlines() or [type(exc).__name__])[0]


def _csv_header(path: Path) -> tuple[list[str], bool]:
    """The header cells as written, and whether any data row follows."""
    if path.stat().st_size == 0:
        raise UserError(f"{path.name}: file is empty")
    try:
        with _open_text(path) as fh:
            rows = csv.reader(fh)
            try:
                header = next(rows, None)
            except csv.Error as exc:
                raise UserError(f"{path.name}: the header row is not valid CSV ({exc})") from None
            try:
                has_rows = any(rows)  # a non-empty record: pyarrow skips blank lines
            except (csv.Error, OSError, EOFError, zlib.error):
                has_rows = True  # the full read reports this fault, with its line
    except (OSError, EOFError, zlib.error) as exc:
        raise UserError(f"{path.name}: cannot be read: {_describe(exc)}") from None
    if header is None:
        raise UserError(f"{path.name}: file is empty (no header row)")
    if not header:
        raise UserError(f"{path.name}: line 1 is blank; the header row must be the first line")
    if any(_not_utf8(h) for h in header):
        raise UserError(f"{path.name}: header is not UTF-8 text; save the file as UTF-8 CSV")
    if len(header) == 1:
        for sep, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            if sep in header[0]:
                raise UserError(
                    f"{path.name}: columns are separated by {label}, not commas; save it as comma-separated CSV"
                )
    return header, has_rows


def _check_columns(path: Path, table: str, header: list[str], config) -> list[str]:
    lowered = [h.lower() for h in header]
    # Checked first: without a header the names are the first data row's values, which must not
    # be echoed by the messages below.
    if not set(lowered) & set(COLUMNS[table]):
        raise UserError(
            f"{path.name}: the header names none of the {table} columns ({', '.join(COLUMNS[table])}); "
            "is the header row missing?"
        )
    unnamed = [str(i) for i, h in enumerate(header, 1) if not h]
    if unnamed:
        raise UserError(f"{path.name}: header column {', '.join(unnamed)} (counting from 1) has no name")
    if len(set(lowered)) != len(lowered):
        dup = sorted({h for h in lowered if lowered.count(h) > 1})
        raise UserError(f"{path.name}: duplicate column name(s): {', '.join(dup)}")
    keep = screen_columns(path.name, header, config)
    for alternatives in REQUIRED_COLUMNS[table]:
        if not any(a in lowered for a in alternatives):
            raise UserError(f"{path.name}: required column '{' or '.join(alternatives)}' is missing")
    return keep


def _find_fault(path: Path, header: list[str], keep: list[str]) -> str | None:
    """Rescan a CSV file to name the physical line (and column) of the first fault, if Python's
    csv module sees one where pyarrow did."""
    kept = [i for i, h in enumerate(header) if h.strip() in keep]
    reader = None
    try:
        with _open_text(path) as fh:
            reader = csv.reader(fh)
            next(reader)  # the header, checked already
            while True:
                start = reader.line_num + 1
                row = next(reader, None)
                if row is None:
                    return None
                if not row:
                    continue  # a blank line: pyarrow skips it too
                end = reader.line_num  # past start when a quoted value holds line breaks
                if len(row) != len(header):
                    fields = f"has {len(row)} field{'s' * (len(row) != 1)} where the header has {len(header)}"
                    if start == end:
                        return f"line {start} {fields}"
                    return f"the record on lines {start}-{end} {fields} (check for an unclosed quote)"
                bad = next((header[i].strip() for i in kept if _not_utf8(row[i])), None)
                if bad is not None:
                    at = f"line {start}" if start == end else f"the record on lines {start}-{end}"
                    return f"contains text that is not UTF-8 at {at}, column '{bad}'; save the file as UTF-8 CSV"
    except csv.Error as exc:  # its messages name no data (field size limit, ...)
        return f"line {reader.line_num} is not valid CSV ({exc})"
    except (OSError, EOFError, zlib.error) as exc:
        # The read failing at a line means every line before it was delivered whole.
        return f"{_describe(exc)} at line {reader.line_num + 1 if reader else 1}"


def _line_of_row(path: Path, row: int) -> str:
    """Where data row `row` starts, as 'line N' (header = line 1; quoted newlines counted)."""
    with _open_text(path) as fh:
        reader = csv.reader(fh)
        next(reader)
        n = 0
        while True:
            start = reader.line_num + 1
            record = next(reader, None)
            if record is None:
                return f"row {row}"
            if record:  # blank lines are not rows, as for pyarrow
                n += 1
                if n == row:
                    return f"line {start}"


def _arrow_problem(exc: Exception) -> str:
    """pyarrow's message, when the rescan found nothing, cut before the row text it appends."""
    msg = (str(exc).splitlines() or [type(exc).__name__])[0]
    if "UTF8" in msg:
        return "contains text that is not UTF-8; save the file as UTF-8 CSV"
    if isinstance(exc, OSError):
        return msg
    return ": ".join(msg.split(": ")[:2])  # "CSV parse error: Expected 9 columns, got 10[: <row>]"


def _csv_batches(path: Path, header: list[str], keep: list[str]) -> Iterator[pa.RecordBatch]:
    raw = {h.strip(): h for h in header}
    include = [raw[c] for c in keep]  # pyarrow knows the columns by their header cells as written
    read = pacsv.ReadOptions(block_size=_BATCH_BYTES, use_threads=True)
    convert = pacsv.ConvertOptions(
        column_types={h: pa.string() for h in include},
        include_columns=include,
        # Only an empty unquoted field is null: pyarrow's default null_values would turn NA, N/A,
        # NULL, NaN, #N/A ... into null here, and raw_* keeps what the file says (staging decides).
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    parse = pacsv.ParseOptions(delimiter=",", newlines_in_values=True)
    where = " in its first rows"
    try:
        reader = pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
        where = ""
        yield from reader
    except (pa.ArrowException, OSError) as exc:
        problem = _find_fault(path, header, keep) or _arrow_problem(exc)
        raise UserError(f"{path.name}: cannot be read{where}: {problem}") from None


def _parquet_schema(path: Path) -> pa.Schema:
    try:
        return pq.ParquetFile(path).schema_arrow
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise UserError(f"{path.name}: cannot be read as Parquet ({_describe(exc)})") from None


def _parquet_batches(path: Path, columns: list[str]) -> Iterator[pa.RecordBatch]:
    row = 1
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=256_000, columns=columns):
            yield batch
            row += batch.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise UserError(f"{path.name}: cannot be read from row {row} on: {_describe(exc)}") from None


def _with_row_numbers(path: Path, batches: Iterator[pa.RecordBatch], pairs: list[tuple[str, str]]):
    """Contract columns (source name -> contract name) as text, plus a 1-based source_row."""
    start = 1
    for batch in batches:
        n = batch.num_rows
        arrays = []
        for source, name in pairs:
            try:
                arrays.append(batch.column(source).cast(pa.string()))
            except (pa.ArrowException, OSError) as exc:  # Parquet binary that is not UTF-8, ...
                raise UserError(
                    f"{path.name}: column '{name}' cannot be read as text in rows {start}-{start + n - 1} "
                    f"({_describe(exc)})"
                ) from None
        arrays.append(pa.array(np.arange(start, start + n, dtype=np.int64)))  # pa.array(range()) is 100x slower
        start += n
        yield pa.RecordBatch.from_arrays(arrays, names=[*(name for _, name in pairs), "source_row"])


def read_file(table: str, path: Path, config) -> SourceTable:
    """One contract file as a SourceTable streaming record batches."""
    notes: list[str] = []
    batches: Callable[[], Iterator[pa.RecordBatch]]
    parquet = path.name.lower().endswith(".parquet")
    if parquet:
        schema = _parquet_schema(path)
        written = [f.name for f in schema]
        has_rows = True  # counted by the first pass below
    else:
        written, has_rows = _csv_header(path)
    header = [h.strip() for h in written]  # " patient_id" is patient_id
    keep = _check_columns(path, table, header, config)
    source = dict(zip(header, written, strict=True))
    pairs = [(source[c], c.lower()) for c in keep if c.lower() in COLUMNS[table]]
    if parquet:
        for f in schema:
            if f.name.strip() in keep and f.name.strip().lower() in COLUMNS[table] and pa.types.is_nested(f.type):
                raise UserError(f"{path.name}: column '{f.name.strip()}' holds {f.type} values, not text")
        batches = lambda: _parquet_batches(path, [source[c] for c in keep])
    elif has_rows:
        batches = lambda: _csv_batches(path, written, keep)
    else:
        batches = lambda: iter(())  # pyarrow refuses a header with no line end and nothing after it
    # One pass: the loader reads this stream inside its transaction, so a fault or an
    # identifier value anywhere in the file rolls the whole load back (the Spark load reads
    # every file before its first append). The first block is read here, so that a file with
    # no data row is known before the loader starts.
    line_of = (lambda row: f"row {row}") if parquet else (lambda row: _line_of_row(path, row))
    failures: list[UserError] = []

    def screened() -> Iterator[pa.RecordBatch]:
        try:
            for batch in _with_row_numbers(path, batches(), pairs):
                screen_values(path.name, batch, line_of)
                yield batch
        except UserError as exc:
            failures.append(exc)
            raise

    stream = screened()
    first = next((b for b in stream if b.num_rows), None)
    n_rows = 0 if first is None else first.num_rows
    if not n_rows:
        empty = f"{path.name}: no data rows{' (header only)' if not has_rows else ''}; {table}"
        if table in REQUIRED_TABLES:
            raise UserError(f"{empty} is required")
        notes.append(f"{empty} is optional, nothing loaded")
    extra = [c for c in keep if c.lower() not in COLUMNS[table]]
    if extra:
        notes.append(f"{path.name}: columns not in the contract, not loaded: {', '.join(extra)}")
    dropped = [c for c in header if c not in keep]
    if dropped:
        notes.append(f"{path.name}: columns dropped by [privacy] drop_columns: {', '.join(dropped)}")
    out = pa.schema([(name, pa.string()) for _, name in pairs] + [("source_row", pa.int64())])
    reader = pa.RecordBatchReader.from_batches(out, itertools.chain([first], stream) if n_rows else iter(()))
    return SourceTable(table, path.name, file_sha256(path), reader, notes, failures)


def read(input_dir: Path, config) -> Extract:
    """All contract files in `input_dir`, plus notes on entries and columns that were skipped."""
    found, notes = discover(Path(input_dir))
    tables = [read_file(table, path, config) for table, path in found.items()]
    return Extract(tables, notes)
