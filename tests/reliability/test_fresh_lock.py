"""`run --fresh` takes the warehouse lock before it removes anything (issue 12, item 8): while
another process has the warehouse open for writing, it stops with one line and exit 2 and the
other process's warehouse is untouched. Two real processes, a real DuckDB file."""

import os
import subprocess
import sys
import textwrap

from tests.conftest import REPO, write_input

# A second process that writes the warehouse and keeps it open until its stdin closes.
WRITER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("CREATE TABLE IF NOT EXISTS other_writer AS SELECT range AS i FROM range(1000)")
    con.execute("BEGIN TRANSACTION")
    con.execute("INSERT INTO other_writer SELECT range FROM range(1000, 1500)")
    print("ready", flush=True)
    sys.stdin.read()
    con.execute("COMMIT")
    print(con.execute("SELECT count(*) FROM other_writer").fetchone()[0], flush=True)
    """
)


def _env():
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=_env(), timeout=300)  # fmt: skip


def _count(db, sql):
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchone()[0]


def test_fresh_while_another_process_writes_stops_and_deletes_nothing(tmp_path):
    db = tmp_path / "audit.duckdb"
    folder = write_input(tmp_path / "in")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=_env())  # fmt: skip
    try:
        assert writer.stdout.readline().strip() == "ready"
        inode = db.stat().st_ino
        r = _cli(
            "run", "--fresh", "--input", str(folder), "--db", str(db), "--out", str(tmp_path / "rep"), cwd=tmp_path
        )
        assert r.returncode == 2, r.stderr[-2000:]
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith(f"error: {db}: cannot open the warehouse ("), r.stderr
        assert "lock" in lines[0].lower() and "Traceback" not in r.stderr
        assert db.exists() and db.stat().st_ino == inode  # not unlinked, not replaced
        out, _ = writer.communicate("", timeout=60)
    finally:
        writer.kill()
    assert writer.returncode == 0 and out.split() == ["1500"]  # its transaction committed into its own file
    assert _count(db, "SELECT count(*) FROM other_writer") == 1500


def test_fresh_empties_the_warehouse_when_nobody_else_has_it(tmp_path):
    db = tmp_path / "audit.duckdb"
    folder = write_input(tmp_path / "in")
    args = ("run", "--input", str(folder), "--db", str(db), "--out", str(tmp_path / "rep"))
    assert _cli(*args, cwd=tmp_path).returncode == 0
    second = write_input(tmp_path / "in2", labs=[{"patient_id": "P1", "taken_at": "2024-01-06", "loinc": "718-7",
                                                  "value": "9.5", "unit": "g/dL"}])  # fmt: skip
    args2 = ("run", "--input", str(second), "--db", str(db), "--out", str(tmp_path / "rep"))
    assert _cli(*args2, "--append", cwd=tmp_path).returncode == 0
    assert _count(db, "SELECT count(*) FROM raw_labs") == 2  # appended
    r = _cli(*args2, "--fresh", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "[fresh] emptying the previous warehouse" in r.stdout
    assert _count(db, "SELECT count(*) FROM raw_labs") == 1  # only the second folder's file
    assert _count(db, "SELECT count(*) FROM loaded_files") == 3


def test_fresh_on_a_file_that_is_not_a_warehouse_refuses_and_keeps_it(tmp_path):
    db = tmp_path / "labs.csv"
    db.write_text("patient_id,value\nP1,1\n")
    folder = write_input(tmp_path / "in")
    r = _cli("run", "--fresh", "--input", str(folder), "--db", str(db), "--out", str(tmp_path / "rep"), cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "is not a DuckDB warehouse file" in r.stderr
    assert db.read_text() == "patient_id,value\nP1,1\n"
