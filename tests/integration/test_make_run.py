"""`make run` end to end on a small synthetic cohort, through the real Makefile and CLI."""

import csv
import os
import subprocess

import duckdb
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def make_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("make-run")
    db, reports, synth = tmp / "audit.duckdb", tmp / "reports", tmp / "synthetic"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    r = subprocess.run(
        ["make", "run", "PATIENTS=400", "SEED=7", f"DB={db}", f"REPORTS={reports}", f"SYNTH_OUT={synth}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=900,
    )
    return r, db, reports, synth


def test_make_run_succeeds_and_prints_the_report_path(make_run):
    r, _, reports, _ = make_run
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    last = [ln for ln in r.stdout.splitlines() if ln.startswith("report: ")][-1]
    index = last.removeprefix("report: ")
    assert index.startswith(str(reports)) and os.path.exists(index)


def test_make_run_ends_with_the_headline_and_every_output_path(make_run):
    r, _, _, _ = make_run
    out = r.stdout
    assert "headline, " in out and "Iron started without a prior iron test" in out
    assert "Iron treatment failed" in out and "why iron failed" in out
    for label in ("excel:", "csv:", "local-only:", "quarantine:"):
        line = next(ln for ln in out.splitlines() if ln.startswith(label))
        path = line.split()[-1] if label == "quarantine:" else line.split()[1]
        assert os.path.exists(path), line


def test_every_measure_has_a_trend_chart_with_points(make_run):
    """Issue 13, item 9: even this small cohort gives every measure released points (the grain
    falls back to quarters or years where months are withheld); a chart shown by a coarser
    grain says why."""
    from pipeline.audit.measures import MEASURES

    _, _, reports, _ = make_run
    (folder,) = [p for p in reports.iterdir() if p.name.startswith("anemia-audit-report-")]
    page = (folder / "index.html").read_text()
    for m in MEASURES:
        if m.category is not None:
            continue
        with open(folder / "csv" / f"{m.id}_spc.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert any(r["suppressed"] == "false" and r["rate"] for r in rows), m.id
        assert f'id="chart-spc-{m.id}"' in page
        if rows[0]["period_type"] != "month":
            assert f"Shown by {rows[0]['period_type']}" in page


def test_summary_reconciles_every_table(make_run):
    r, db, _, synth = make_run
    assert "reconciliation: raw = staged + quarantined for every file" in r.stdout
    con = duckdb.connect(str(db), read_only=True)
    for table, raw, staged, quarantined in con.execute(
        "select table_name, sum(raw_rows), sum(staged_rows), sum(quarantined_rows) from load_log group by 1"
    ).fetchall():
        with open(synth / f"{table}.csv") as fh:
            lines = sum(1 for _ in fh) - 1
        assert raw == lines == staged + quarantined, table
    assert con.execute("select count(*) from quarantine").fetchone()[0] > 0  # dirty rows were caught
    assert con.execute("select count(*) from episodes").fetchone()[0] > 0


def test_running_twice_adds_nothing_new(make_run):
    _, db, reports, synth = make_run
    con = duckdb.connect(str(db), read_only=True)
    before = con.execute("select count(*) from raw_labs").fetchone()[0]
    con.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    r = subprocess.run(
        ["make", "run", f"INPUT={synth}", f"DB={db}", f"REPORTS={reports}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "already loaded" in r.stdout
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select count(*) from raw_labs").fetchone()[0] == before
