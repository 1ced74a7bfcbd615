"""Output paths (issue 12, item 7): a bad --out is one line and exit 2 before any work; a report
killed mid-write leaves no hidden folder holding case lists once the next report has run; a file
or foreign folder in the report's place is never moved aside."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.steps import build_demo_warehouse
from tests.conftest import REPO

LEFTOVER_PREFIX = ".anemia-audit-report-"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    return build_demo_warehouse(tmp_path_factory.mktemp("demo") / "demo.duckdb", patients=60)


def _cmd(*args) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", *args]


def _env():
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _cli(*args, cwd, timeout=180):
    return subprocess.run(_cmd(*args), capture_output=True, text=True, cwd=cwd, env=_env(), timeout=timeout)


def _one_line_error(r) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith(LEFTOVER_PREFIX)) if out.exists() else []


@pytest.fixture
def immutable(tmp_path):
    """A folder even root cannot write into (chattr +i), removed afterwards."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not supported here")
    yield folder
    subprocess.run(["chattr", "-i", str(folder)], check=True)


def _bad_out(kind: str, tmp_path: Path, immutable_folder=None) -> tuple[str, str]:
    (tmp_path / "a-file.txt").write_text("keep me\n")
    return {
        "a_file": (str(tmp_path / "a-file.txt"), "is a file, not a folder"),
        "under_a_file": (str(tmp_path / "a-file.txt" / "reports"), "part of the path is a file, not a folder"),
        "under_proc": ("/proc/anemia-audit-reports", "is under /proc, a system folder"),
        "proc_itself": ("/proc/self", "is under /proc, a system folder"),
        "under_sys": ("/sys/anemia-audit-reports", "is under /sys, a system folder"),
        "dev_null": ("/dev/null", "is under /dev, a system folder"),
    }[kind]


@pytest.mark.parametrize("kind", ["a_file", "under_a_file", "under_proc", "proc_itself", "under_sys", "dev_null"])
def test_a_bad_out_is_one_line_and_exit_2(tmp_path, demo_db, kind):
    out, expected = _bad_out(kind, tmp_path)
    line = _one_line_error(_cli("report", "--db", str(demo_db), "--out", out, cwd=tmp_path))
    assert line == f"error: output folder {out}: {expected}" + ("; choose a folder of your own" * ("under" in expected))
    assert (tmp_path / "a-file.txt").read_text() == "keep me\n"


def test_an_unwritable_out_is_one_line_and_exit_2(tmp_path, demo_db, immutable):
    for out in (immutable, immutable / "sub"):
        line = _one_line_error(_cli("report", "--db", str(demo_db), "--out", str(out), cwd=tmp_path))
        assert line == f"error: output folder {out}: cannot be created or written (Operation not permitted)"


def test_run_with_a_bad_out_stops_before_loading(tmp_path):
    (tmp_path / "a-file.txt").write_text("x")
    db = tmp_path / "w.duckdb"
    r = _cli("run", "--patients", "20", "--synth-out", str(tmp_path / "syn"), "--db", str(db),
             "--out", str(tmp_path / "a-file.txt"), cwd=tmp_path)  # fmt: skip
    assert _one_line_error(r).endswith("is a file, not a folder")
    assert not db.exists() and not (tmp_path / "syn").exists()


def _report_name(demo_db, tmp_path) -> str:
    out = tmp_path / "first"
    r = _cli("report", "--db", str(demo_db), "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (name,) = [p.name for p in out.iterdir()]
    shutil.rmtree(out)
    return name


def test_a_file_or_foreign_folder_in_the_reports_place_is_never_moved_aside(tmp_path, demo_db):
    name = _report_name(demo_db, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_text("my notes\n")
    line = _one_line_error(_cli("report", "--db", str(demo_db), "--out", str(out), cwd=tmp_path))
    assert line == f"error: {out / name}: exists and is not a report folder; move it away or choose another --out"
    assert (out / name).read_text() == "my notes\n" and sorted(os.listdir(out)) == [name]
    (out / name).unlink()
    (out / name).mkdir()
    (out / name / "mine.txt").write_text("mine\n")
    line = _one_line_error(_cli("report", "--db", str(demo_db), "--out", str(out), cwd=tmp_path))
    assert "exists and is not an anemia-audit report (no manifest.json)" in line
    assert os.listdir(out / name) == ["mine.txt"] and sorted(os.listdir(out)) == [name]


def _kill_mid_write(demo_db, out: Path, sig: int, rng: random.Random) -> dict:
    """Start a report, wait until its temporary folder exists, then send `sig` after a random delay."""
    proc = subprocess.Popen(_cmd("report", "--db", str(demo_db), "--out", str(out)), cwd=out.parent, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    t_end = time.monotonic() + 120
    while not any(n.endswith(".tmp") for n in _leftovers(out)) and proc.poll() is None and time.monotonic() < t_end:
        time.sleep(0.005)
    time.sleep(rng.uniform(0, 3.0))
    finished = proc.poll() is not None
    if not finished:
        proc.send_signal(sig)
    proc.wait(timeout=60)
    reports = [p for p in out.iterdir() if p.name.startswith("anemia-audit-report-")]
    return {"finished": finished, "leftovers": _leftovers(out), "reports": reports}


def _assert_complete(reports):
    for folder in reports:  # a report in place is always whole
        assert (folder / "manifest.json").is_file() and (folder / "local-only" / "case_lists.csv").is_file()


@pytest.mark.parametrize("trials", [pytest.param(5, id="5"), pytest.param(22, id="22", marks=pytest.mark.slow)])
def test_reports_killed_mid_write_leave_no_hidden_case_lists_after_the_next_run(tmp_path, demo_db, trials):
    rng = random.Random(trials)
    out = tmp_path / "reports"
    out.mkdir()
    stranded = 0
    for _ in range(trials):
        result = _kill_mid_write(demo_db, out, signal.SIGKILL, rng)
        _assert_complete(result["reports"])
        stranded += bool(result["leftovers"])
        assert len(result["leftovers"]) <= 1  # the next report cleaned what the last kill left
        for name in result["leftovers"]:
            assert (out / name).stat().st_mode & 0o077 == 0 or name.endswith(".old")  # private while stranded
    assert stranded, "no kill landed while the report was being written; the test proved nothing"
    r = _cli("report", "--db", str(demo_db), "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert _leftovers(out) == []
    _assert_complete([p for p in out.iterdir()])
    print(f"\nSIGKILL trials: {trials}, stranded a temporary folder: {stranded}, left after the next report: 0")


def test_sigterm_mid_write_removes_the_temporary_folder_at_once(tmp_path, demo_db):
    out = tmp_path / "reports"
    out.mkdir()
    result = _kill_mid_write(demo_db, out, signal.SIGTERM, random.Random(0))
    assert result["leftovers"] == []
    _assert_complete(result["reports"])


def test_a_leftover_of_a_live_report_is_not_touched(tmp_path, demo_db):
    """Another process's report in progress (its pid alive) keeps its temporary folder."""
    out = tmp_path / "reports"
    out.mkdir()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        live = out / f"{LEFTOVER_PREFIX}2024-01-01_2024-12-31.{sleeper.pid}-abc.tmp"
        live.mkdir()
        dead = out / f"{LEFTOVER_PREFIX}2024-01-01_2024-12-31.{2**22 + 12345}-abc.tmp"  # above pid_max
        (dead / "local-only").mkdir(parents=True)
        r = _cli("report", "--db", str(demo_db), "--out", str(out), cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert _leftovers(out) == [live.name]
    finally:
        sleeper.kill()
        sleeper.wait()
