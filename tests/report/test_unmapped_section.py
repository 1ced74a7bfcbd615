"""The data-quality section lists the most frequent source names no code list maps (issue 10
item 10): in the released tier only names seen in more rows than the disclosure threshold,
in the internal tier every one; the same rows in csv/, the HTML table and Excel."""

import csv
from datetime import date

import openpyxl
import pandas as pd
import pytest

from pipeline.audit.tables import run_audit
from pipeline.config import load_config
from pipeline.report import build_report
from pipeline.report.frames import unmapped_names
from tests.report_fixtures import connect, demo_cohort, write_warehouse

CONFIG = load_config()
T = CONFIG.disclosure.threshold
UNMAPPED = pd.DataFrame(
    {
        "domain": ["prescriptions", "labs", "labs", "dispensings"],
        "source_code": [None, None, "99999-9", None],
        "source_name": ["Fictifer 100", "Hemoglobin A1c", "Odd test", "Rare brand"],
        "n_rows": [T + 20, T + 1, T, 1],
    }
)


def test_released_tier_leaves_out_names_at_or_below_the_threshold():
    out = unmapped_names(UNMAPPED, T)
    assert out.source_name.tolist() == ["Fictifer 100", "Hemoglobin A1c"]
    assert out.rows.tolist() == [T + 20, T + 1]


def test_internal_tier_lists_every_name_and_no_names_gives_an_empty_table():
    assert unmapped_names(UNMAPPED, 0).source_name.tolist() == UNMAPPED.source_name.tolist()
    empty = unmapped_names(None, T)
    assert empty.empty and list(empty.columns) == ["domain", "source_code", "source_name", "rows"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    path = write_warehouse(tmp_path_factory.mktemp("wh") / "audit.duckdb", demo_cohort())
    con = connect(path)
    run_audit(con, CONFIG)
    folder = build_report(con, tmp_path_factory.mktemp("out"), CONFIG, None, date(2024, 6, 30), None, unmapped=UNMAPPED)
    con.disconnect()
    return folder


def test_csv_html_and_excel_show_the_released_names(report):
    with open(report / "csv" / "data_quality_unmapped.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["source_name"], r["rows"]) for r in rows] == [
        ("Fictifer 100", str(T + 20)),
        ("Hemoglobin A1c", str(T + 1)),
    ]
    html = (report / "index.html").read_text(encoding="utf-8")
    assert 'data-source="csv/data_quality_unmapped.csv"' in html and "Fictifer 100" in html and "Rare brand" not in html
    wb = openpyxl.load_workbook(report / "audit.xlsx")
    assert "Data quality - unmapped" in wb.sheetnames
    internal = (report / "local-only" / "internal-report.html").read_text(encoding="utf-8")
    assert "Rare brand" in internal


def test_without_unmapped_names_the_section_says_so_instead_of_an_empty_table(tmp_path):
    path = write_warehouse(tmp_path / "audit.duckdb", demo_cohort())
    con = connect(path)
    run_audit(con, CONFIG)
    folder = build_report(con, tmp_path / "out", CONFIG, None, date(2024, 6, 30), None)
    con.disconnect()
    html = (folder / "index.html").read_text(encoding="utf-8")
    assert 'data-source="csv/data_quality_unmapped.csv"' not in html
    assert "No unmapped source name to show here." in html
