"""Hostile input folders for the csv source (issue 12, items 1-3): every reading fault ends in one
line naming the file and the physical line (header = line 1), never a value; a required table
with no data rows stops; every entry of the folder is loaded, refused or noted."""

import csv
import gzip
import io
import os
import subprocess
import sys
import zlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import load_config
from pipeline.engine import connect
from pipeline.engine.raw import load_tables
from pipeline.errors import UserError
from pipeline.extract import csv as csv_source
from pipeline.extract.base import COLUMNS
from tests.conftest import REPO, write_input

SECRET = "SECRET-P"  # every patient id starts so; no message may contain it
HEADER = ",".join(COLUMNS["labs"])  # patient_id,taken_at,loinc,test_name,value,unit,ref_low,ref_high,site


def _lab_lines(n: int) -> list[str]:
    """Header plus n data rows, one physical line each except row 5, whose quoted test name holds a
    newline (legal CSV): from there on, physical line = data row + 2."""
    lines = [HEADER]
    for i in range(1, n + 1):
        name = '"Haemo\nglobin"' if i == 5 else "Haemoglobin"
        lines.append(f"{SECRET}{i:07d},2024-01-05,718-7,{name},{10 + i % 7}.5,g/dL,,,SITE-A")
    return lines


def _line_of(lines: list[str], index: int) -> int:
    """The physical line (header = 1) where lines[index] starts, counted independently of the reader."""
    return 1 + index + sum(line.count("\n") for line in lines[:index])


def _folder(tmp_path, labs: bytes | None = None, name: str = "labs.csv"):
    folder = write_input(tmp_path / "in", patients=[{"patient_id": f"{SECRET}1", "sex": "F", "birth_year": "1960"}])
    if labs is not None:
        (folder / "labs.csv").unlink()
        (folder / name).write_bytes(labs)
    return folder


def _read(folder):
    extract = csv_source.read(folder, load_config())  # the adapter's Extract (tables, notes)
    return extract.tables, extract.notes


def _load(folder, db):
    tables, notes = _read(folder)
    con = connect(db)
    load_tables(con, tables, "csv", progress=lambda m: None)
    return con, tables, notes


def _error(folder) -> str:
    with pytest.raises(UserError) as info:
        _load(folder, folder.parent / "w.duckdb")
    msg = str(info.value)
    assert "\n" not in msg and SECRET not in msg, msg
    return msg


def _cli(*args, cwd, timeout=60):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def _cli_load(folder):
    return _cli("load", "--source", "csv", "--input", str(folder), "--db", str(folder.parent / "w.duckdb"), cwd=folder)


def _one_line_error(r) -> str:
    """Exit 2, one line `error: ...` on stderr, no traceback, no patient id."""
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr and SECRET not in r.stderr + r.stdout
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


@pytest.fixture
def small_blocks(monkeypatch):
    """pyarrow blocks of 4 KiB, so a fault at line 2500 is ~40 blocks into the file."""
    monkeypatch.setattr(csv_source, "_BATCH_BYTES", 4096)


# ------------------------------------------------------------------ 1. reading errors name the line


@pytest.mark.parametrize("fields", [10, 8], ids=["too_many", "too_few"])
def test_a_ragged_row_far_into_the_file_names_its_physical_line(tmp_path, small_blocks, fields):
    lines = _lab_lines(3000)
    cells = lines[2499].split(",")
    lines[2499] = ",".join([*cells, "x"] if fields == 10 else cells[:-1])
    msg = _error(_folder(tmp_path, "\n".join(lines).encode() + b"\n"))
    assert _line_of(lines, 2499) == 2501  # data row 2499, after row 5's quoted newline
    assert msg == f"labs.csv: cannot be read: line 2501 has {fields} fields where the header has 9"


def test_a_fault_far_into_a_file_leaves_nothing_loaded(tmp_path, small_blocks):
    """The file is parsed once, as the loader streams it: the fault at line 2501 is met after
    forty blocks went into raw_labs, inside the load's transaction, so the warehouse is left
    holding no row of any file of that load (and a rerun with the file fixed loads it all)."""
    from pipeline import steps

    lines = _lab_lines(3000)
    good = "\n".join(lines).encode() + b"\n"
    lines[2499] += ",x"
    folder = _folder(tmp_path, "\n".join(lines).encode() + b"\n")
    db = tmp_path / "w.duckdb"
    with pytest.raises(UserError, match="line 2501 has 10 fields"):
        steps.load("csv", folder, db, load_config())
    con = connect(db, read_only=True)
    held = {t: con.table(t).count().execute() for t in con.list_tables() if t.startswith("raw_") or t == "loaded_files"}
    con.disconnect()
    assert set(held.values()) <= {0}, held
    (folder / "labs.csv").write_bytes(good)
    assert {f["table"]: f["rows"] for f in steps.load("csv", folder, db, load_config()).files}["labs"] == 3000


def test_a_non_utf8_byte_far_into_the_file_names_line_and_column(tmp_path, small_blocks):
    data = "\n".join(_lab_lines(3000)).encode() + b"\n"
    data = data.replace(b"g/dL,,,SITE-A\nSECRET-P0002800", b"\xb5g/L,,,SITE-A\nSECRET-P0002800")
    msg = _error(_folder(tmp_path, data))
    # data row 2799 (its line ends just before row 2800's id) is on physical line 2801
    assert msg == (
        "labs.csv: cannot be read: contains text that is not UTF-8 at line 2801, column 'unit'; "
        "save the file as UTF-8 CSV"
    )


def test_a_fault_in_the_first_rows_still_says_so(tmp_path):
    data = f"{HEADER}\n{SECRET}1,2024-01-05,718-7,,10,\xb5g/L,,,\n".encode("latin-1")
    msg = _error(_folder(tmp_path, data))
    assert msg.startswith("labs.csv: cannot be read in its first rows: contains text that is not UTF-8 at line 2")


def test_an_unclosed_quote_names_where_the_record_starts(tmp_path, small_blocks):
    lines = _lab_lines(3000)
    lines[999] = lines[999].replace("Haemoglobin", '"Haemoglobin')  # never closed: swallows the rest
    msg = _error(_folder(tmp_path, "\n".join(lines).encode() + b"\n"))
    assert (_line_of(lines, 999), _line_of(lines, 3000)) == (1001, 3002)
    assert msg == (
        "labs.csv: cannot be read: the record on lines 1001-3002 has 4 fields where the header has 9 "
        "(check for an unclosed quote)"
    )


def _truncated_gz(n_rows: int, keep: float) -> tuple[bytes, int]:
    data = gzip.compress(("\n".join(_lab_lines(n_rows)) + "\n").encode())
    cut = data[: int(len(data) * keep)]
    text = zlib.decompressobj(wbits=31).decompress(cut)  # what can still be read
    return cut, text.count(b"\n") + 1  # the line the data stops in


def test_a_truncated_gzip_names_the_line_where_the_data_stops(tmp_path, small_blocks):
    cut, line = _truncated_gz(20_000, 0.7)
    assert line > 10_000
    msg = _error(_folder(tmp_path, cut, "labs.csv.gz"))
    assert msg == f"labs.csv.gz: cannot be read: the compressed data ends early (truncated .gz file) at line {line}"


def test_a_damaged_gzip_is_one_line_naming_the_file(tmp_path, small_blocks):
    data = bytearray(gzip.compress(("\n".join(_lab_lines(20_000)) + "\n").encode()))
    data[len(data) // 2] ^= 0xFF
    msg = _error(_folder(tmp_path, bytes(data), "labs.csv.gz"))
    assert msg.startswith("labs.csv.gz: cannot be read: ") and " line " in msg


def test_a_real_file_larger_than_one_block_with_a_fault_near_its_end(tmp_path):
    """No monkeypatching: the adapter's own blocks (4 MiB), fault in a later block, through the CLI."""
    lines = _lab_lines(400_000)
    lines[-10] += ",extra"
    assert _line_of(lines, len(lines) - 10) == 399_993
    data = ("\n".join(lines) + "\n").encode()
    assert len(data) > 17 << 20
    folder = _folder(tmp_path, data)
    r = _cli_load(folder)
    assert _one_line_error(r) == "error: labs.csv: cannot be read: line 399993 has 10 fields where the header has 9"


def test_a_large_valid_gzip_loads_every_row(tmp_path, small_blocks):
    data = gzip.compress(("\n".join(_lab_lines(20_000)) + "\n").encode())
    con, _, _ = _load(_folder(tmp_path, data, "labs.csv.gz"), tmp_path / "w.duckdb")
    assert con.con.execute("select count(*), max(source_row) from raw_labs").fetchone() == (20_000, 20_000)


def _raw_rows(con, table="raw_labs"):
    cols = ", ".join(COLUMNS[table.removeprefix("raw_")])
    return [list(r) for r in con.con.execute(f"select {cols} from {table} order by source_row").fetchall()]


def _file_rows(data: bytes, newline="\n"):
    """The data rows as Python's csv module reads them: unquoted empty = NULL, quoted empty = ''."""
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))[1:]
    return [[c if c != "" else None for c in row] for row in rows if row]


def test_quoted_newlines_load_exactly_as_written(tmp_path, small_blocks):
    data = ("\n".join(_lab_lines(3000)) + "\n").encode()
    con, _, _ = _load(_folder(tmp_path, data), tmp_path / "w.duckdb")
    rows = _raw_rows(con)
    assert rows == _file_rows(data)
    assert rows[4][3] == "Haemo\nglobin" and len(rows) == 3000


def test_cr_only_line_endings_are_read(tmp_path, small_blocks):
    data = ("\r".join(_lab_lines(3000)) + "\r").encode().replace(b'"Haemo\nglobin"', b"Hb")
    con, _, _ = _load(_folder(tmp_path, data), tmp_path / "w.duckdb")
    rows = _raw_rows(con)
    assert len(rows) == 3000 and rows == _file_rows(data)


def test_cr_only_line_endings_still_name_the_right_line(tmp_path, small_blocks):
    lines = _lab_lines(3000)
    lines[2499] += ",x"
    msg = _error(_folder(tmp_path, ("\r".join(lines) + "\r").encode()))
    # the \n inside row 5's quoted value is a line break in a CR file too
    assert msg == f"labs.csv: cannot be read: line {_line_of(lines, 2499)} has 10 fields where the header has 9"


def test_header_cells_with_surrounding_spaces_are_the_contract_names(tmp_path):
    data = b'\xef\xbb\xbf" patient_id",sex , birth_year\r\nP1,F,1960\r\nP2, M ,1970\r\n'
    folder = _folder(tmp_path)
    (folder / "patients.csv").write_bytes(data)
    con, tables, _notes = _load(folder, tmp_path / "w.duckdb")
    rows = con.con.execute("select patient_id, sex, birth_year from raw_patients order by source_row").fetchall()
    assert rows == [("P1", "F", "1960"), ("P2", " M ", "1970")]  # values are not trimmed
    assert not [n for t in tables for n in t.notes]


def test_a_parquet_list_column_is_refused_naming_file_and_column(tmp_path):
    folder = _folder(tmp_path)
    (folder / "labs.csv").unlink()
    table = pa.table(
        {
            "patient_id": [f"{SECRET}1"],
            "taken_at": ["2024-01-05"],
            "loinc": ["718-7"],
            "value": pa.array([["10.5", "11"]], type=pa.list_(pa.string())),
        }
    )
    pq.write_table(table, folder / "labs.parquet")
    msg = _error(folder)
    assert msg.startswith("labs.parquet: column 'value' holds list<")


def test_damaged_parquet_data_is_one_line_naming_the_file(tmp_path):
    folder = _folder(tmp_path)
    (folder / "labs.csv").unlink()
    n = 300_000
    cols = {"patient_id": [f"{SECRET}{i}" for i in range(n)], "taken_at": ["2024-01-05"] * n, "loinc": ["718-7"] * n}
    pq.write_table(
        pa.table({**cols, "value": [str(i) for i in range(n)]}), folder / "labs.parquet", row_group_size=50_000
    )
    data = bytearray((folder / "labs.parquet").read_bytes())
    for k in range(len(data) // 2, len(data) // 2 + 200):
        data[k] ^= 0x5A
    (folder / "labs.parquet").write_bytes(bytes(data))
    assert _error(folder).startswith("labs.parquet: cannot be read from row ")


def test_a_parquet_file_with_spaced_names_loads(tmp_path):
    folder = _folder(tmp_path)
    (folder / "labs.csv").unlink()
    cols = {" patient_id": ["P1"], "taken_at ": ["2024-01-05"], "loinc": ["718-7"], "value": [10.5]}
    pq.write_table(pa.table(cols), folder / "labs.parquet")
    con, _, _ = _load(folder, tmp_path / "w.duckdb")
    assert con.con.execute("select patient_id, taken_at, value from raw_labs").fetchall() == [
        ("P1", "2024-01-05", "10.5")
    ]


def test_a_file_without_a_header_row_says_so_without_echoing_it(tmp_path):
    folder = _folder(tmp_path)
    (folder / "patients.csv").write_text(f'"{SECRET}1","F","1960","","SITE-E","",""\n{SECRET}2,M,1970,,,,\n')
    assert _error(folder) == (
        "patients.csv: the header names none of the patients columns (patient_id, sex, birth_year, age_band, "
        "site, pregnancy_start, pregnancy_end); is the header row missing?"
    )


def test_an_unnamed_header_column_is_named_by_position(tmp_path):
    folder = _folder(tmp_path)
    (folder / "patients.csv").write_text(f"patient_id,sex,,birth_year, \n{SECRET}1,F,x,1960,y\n")
    assert _error(folder) == "patients.csv: header column 3, 5 (counting from 1) has no name"


def test_a_blank_first_line_is_not_read_as_an_empty_file(tmp_path):
    folder = _folder(tmp_path)
    (folder / "patients.csv").write_text(f"\npatient_id,sex,birth_year\n{SECRET}1,F,1960\n")
    assert _error(folder) == "patients.csv: line 1 is blank; the header row must be the first line"


# ------------------------------------------------------------------ 2. no data rows


@pytest.mark.parametrize("body", ["patient_id,sex,birth_year\n", "patient_id,sex,birth_year", "patient_id,sex\n\n\n"])
def test_a_required_table_with_no_data_rows_stops(tmp_path, body):
    folder = _folder(tmp_path)
    (folder / "patients.csv").write_text(body.replace("sex\n", "sex,birth_year\n"))
    assert _error(folder) == "patients.csv: no data rows (header only); patients is required"


def test_an_empty_required_parquet_stops(tmp_path):
    folder = _folder(tmp_path)
    (folder / "labs.csv").unlink()
    cols = ("patient_id", "taken_at", "loinc", "value")
    pq.write_table(pa.table({c: pa.array([], pa.string()) for c in cols}), folder / "labs.parquet")
    assert _error(folder) == "labs.parquet: no data rows; labs is required"


def test_an_optional_table_with_no_data_rows_loads_nothing_with_a_note(tmp_path):
    folder = _folder(tmp_path)
    (folder / "dispensings.csv").write_text(",".join(COLUMNS["dispensings"]) + "\n")
    con, tables, _ = _load(folder, tmp_path / "w.duckdb")
    notes = [n for t in tables for n in t.notes]
    assert "dispensings.csv: no data rows (header only); dispensings is optional, nothing loaded" in notes
    assert con.con.execute("select count(*) from raw_dispensings").fetchone() == (0,)
    assert con.con.execute("select count(*) from raw_patients").fetchone() == (1,)


# ------------------------------------------------------------------ 3. every entry accounted for


def _make(folder, name, kind):
    path = folder / name
    if kind == "folder":
        path.mkdir()
    elif kind == "broken symlink":
        path.symlink_to(folder / "nowhere.csv")
    elif kind == "symlink loop":
        path.symlink_to(path)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev null":
        path.symlink_to("/dev/null")
    return path


KINDS = {
    "folder": "a folder",
    "broken symlink": "a broken symlink",
    "symlink loop": "a symlink loop",
    "fifo": "a named pipe (fifo)",
    "dev null": "a device or socket",
}


@pytest.mark.parametrize("kind", KINDS)
def test_an_optional_contract_name_that_is_not_a_regular_file_is_an_error(tmp_path, kind):
    folder = _folder(tmp_path)
    _make(folder, "diagnoses.csv", kind)
    assert _error(folder) == (
        f"diagnoses.csv: is {KINDS[kind]}, not a regular file; diagnoses is optional; "
        "remove or rename it to load without it"
    )


@pytest.mark.parametrize("kind", ["folder", "broken symlink", "fifo"])
def test_a_required_contract_name_that_is_not_a_regular_file_is_an_error(tmp_path, kind):
    folder = _folder(tmp_path)
    (folder / "labs.csv").unlink()
    _make(folder, "labs.csv.gz", kind)
    assert _error(folder) == f"labs.csv.gz: is {KINDS[kind]}, not a regular file; labs is required"


def test_every_entry_of_the_folder_is_loaded_or_noted(tmp_path):
    folder = _folder(tmp_path)
    (folder / "truth.csv").write_text("a\n1\n")
    (folder / ".DS_Store").write_bytes(b"\0\1")
    (folder / ".hidden_dir").mkdir()
    (folder / "._labs.csv").write_bytes(b"\0")
    for name, kind in (("extra", "folder"), ("old.csv", "broken symlink"), ("pipe", "fifo"), ("loop", "symlink loop")):
        _make(folder, name, kind)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (folder / "prescriptions.csv").rename(elsewhere / "rx.csv")
    (folder / "prescriptions.csv").symlink_to(elsewhere / "rx.csv")  # a symlink to a file is read
    tables, notes = _read(folder)
    assert sorted(t.source_file for t in tables) == ["labs.csv", "patients.csv", "prescriptions.csv"]
    assert notes == [
        ".DS_Store: hidden, skipped",
        "._labs.csv: hidden, skipped",
        ".hidden_dir: hidden, skipped",
        "extra: a folder, not a contract table, skipped",
        "loop: a symlink loop, not a contract table, skipped",
        "old.csv: a broken symlink, not a contract table, skipped",
        "pipe: a named pipe (fifo), not a contract table, skipped",
        "truth.csv: not a contract table, skipped",
    ]
    accounted = {t.source_file for t in tables} | {n.split(":")[0] for n in notes}
    assert accounted == {p.name for p in folder.iterdir()}


def test_notes_are_printed_by_the_cli(tmp_path):
    folder = _folder(tmp_path)
    (folder / ".DS_Store").write_bytes(b"\0")
    (folder / "diagnoses.csv").write_text(",".join(COLUMNS["diagnoses"]) + "\n")
    r = _cli_load(folder)
    assert r.returncode == 0, r.stderr
    assert "note: .DS_Store: hidden, skipped" in r.stdout
    assert "note: diagnoses.csv: no data rows (header only); diagnoses is optional, nothing loaded" in r.stdout


# ------------------------------------------------------------------ through the real CLI


def _ragged_gz(folder):
    (folder / "labs.csv").unlink()
    lines = _lab_lines(3000)
    lines[2000] += ",x"
    (folder / "labs.csv.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


def _truncated(folder):
    (folder / "labs.csv").unlink()
    (folder / "labs.csv.gz").write_bytes(_truncated_gz(20_000, 0.5)[0])


def _list_column(folder):
    (folder / "labs.csv").unlink()
    lists = pa.array([["1"]], type=pa.list_(pa.string()))
    cols = {"patient_id": ["P1"], "taken_at": ["d"], "loinc": ["718-7"], "value": ["1"], "unit": lists}
    pq.write_table(pa.table(cols), folder / "labs.parquet")


CLI_PROBLEMS = {
    "ragged_row_in_gzip": (_ragged_gz, "labs.csv.gz: cannot be read in its first rows: line 2002 has 10 fields"),
    "truncated_gzip": (_truncated, "the compressed data ends early (truncated .gz file) at line "),
    "header_only": (
        lambda f: (f / "patients.csv").write_text("patient_id,sex,birth_year\n"),
        "patients.csv: no data rows (header only); patients is required",
    ),
    "folder_named_dispensings": (
        lambda f: (f / "dispensings.csv").mkdir(),
        "dispensings.csv: is a folder, not a regular file; dispensings is optional",
    ),
    "fifo_named_diagnoses": (lambda f: os.mkfifo(f / "diagnoses.csv"), "diagnoses.csv: is a named pipe (fifo)"),
    "dev_null_as_diagnoses": (
        lambda f: (f / "diagnoses.csv").symlink_to("/dev/null"),
        "diagnoses.csv: is a device or socket",
    ),
    "list_column": (_list_column, "labs.parquet: column 'unit' holds list<"),
    "no_header": (
        lambda f: (f / "patients.csv").write_text(f"{SECRET}1,F,,1960\n"),
        "patients.csv: the header names none of the patients columns",
    ),
}


@pytest.mark.parametrize("problem", CLI_PROBLEMS)
def test_hostile_inputs_stop_the_cli_with_one_line(tmp_path, problem):
    damage, expected = CLI_PROBLEMS[problem]
    folder = _folder(tmp_path)
    damage(folder)
    line = _one_line_error(_cli_load(folder))
    assert expected in line, line
