"""The report folder on the literal demo cohort: contents, atomic replacement, disclosure in
every released file, Excel = CSV, case lists local-only, manifest, period filter."""

import csv
import json
import re
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from pipeline.audit.measures import MEASURES
from pipeline.audit.tables import run_audit
from pipeline.config import load_config
from pipeline.errors import UserError
from pipeline.report import build_report
from tests.report_fixtures import connect, demo_cohort, write_warehouse

CONFIG = load_config()
T = CONFIG.disclosure.threshold
N_EPISODES = 2 * 6 * (40 + 20 + 20)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = write_warehouse(tmp_path_factory.mktemp("wh") / "audit.duckdb", demo_cohort())
    con = connect(path)
    run_audit(con, CONFIG)
    yield con
    con.disconnect()


@pytest.fixture(scope="module")
def report(warehouse, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    folder = build_report(warehouse, out, CONFIG, None, date(2024, 6, 30), "site", manifest_extra={"trigger": "test"})
    return folder


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_folder_is_dated_and_complete(report):
    assert report.name == "anemia-audit-report-2024-01-01_2024-06-30"  # the demo cohort's span up to --to
    for name in (
        "index.html",
        "audit.xlsx",
        "manifest.json",
        "local-only/case_lists.csv",
        "local-only/README.txt",
        "csv/summary.csv",
        "csv/data_quality_loads.csv",
        "csv/data_quality_quarantine.csv",
    ):
        assert (report / name).is_file(), name
    for m in MEASURES:
        assert (report / "csv" / f"{m.id}.csv").is_file()
    assert [p.name for p in report.parent.iterdir()] == [report.name]  # no temporary folder left


def test_released_files_hold_no_small_numbers(report):
    checked = 0
    for path in (report / "csv").glob("*.csv"):
        if path.name.startswith("data_quality"):
            continue
        for row in read_csv(path):
            for col in ("numerator", "denominator"):
                if row.get(col):
                    assert not 1 <= int(row[col]) <= T, (path.name, row)
                    checked += 1
            if row.get("suppressed") == "true":
                assert row["numerator"] == row["denominator"] == row["rate"] == "", (path.name, row)
    assert checked > 500


def test_some_cells_are_withheld_and_some_released(report):
    rows = read_csv(report / "csv" / "failure_causes.csv")
    assert {r["suppressed"] for r in rows} == {"true", "false"}


def test_measure_csv_holds_the_released_columns_of_the_warehouse(report, warehouse):
    aud = warehouse.table("aud_iron_untested").to_pandas()
    aud = aud[(aud.group_by == "all") & (aud.period_type == "quarter")]
    aud = aud.set_index(aud.period_start.astype(str))
    rows = [
        r
        for r in read_csv(report / "csv" / "iron_untested.csv")
        if r["group_by"] == "all" and r["period_type"] == "quarter"
    ]
    assert len(rows) == 2
    for r in rows:
        a = aud.loc[r["period_start"]]
        assert int(r["numerator"]) == a.released_numerator and int(r["denominator"]) == a.released_denominator
        assert int(r["numerator"]) % 5 == 0 and a.numerator == 96  # (8 never + 8 after only) x 2 sites x 3 months


def test_summary_is_the_latest_quarter(report):
    rows = {r["measure_id"]: r for r in read_csv(report / "csv" / "summary.csv")}
    assert set(rows) == {m.id for m in MEASURES if m.category is None}
    assert {r["period_start"] for r in rows.values()} == {"2024-04-01"}
    # iron failed: k % 4 == 0 of 40 per site-month -> 60 of the 180 assessable in the quarter
    assert (rows["iron_failed"]["numerator"], rows["iron_failed"]["denominator"]) == ("60", "180")


def test_excel_has_contents_readme_and_the_same_tables_as_csv(report):
    wb = openpyxl.load_workbook(report / "audit.xlsx")
    assert wb.sheetnames[:2] == ["Contents", "README"]
    contents = list(wb["Contents"].iter_rows(values_only=True))[1:]
    by_csv = {row[2]: row[0] for row in contents if row[2]}
    assert sorted(by_csv) == sorted(f"csv/{p.name}" for p in (report / "csv").glob("*.csv"))
    assert sorted(wb.sheetnames[2:]) == sorted(by_csv.values())  # one readable sheet per csv file
    assert by_csv["csv/iron_failed_spc.csv"] == "Iron failed trend" and by_csv["csv/headline.csv"] == "Headline"
    for name in ("summary", "iron_failed", "failure_causes"):
        ws = wb[by_csv[f"csv/{name}.csv"]]
        sheet = list(ws.iter_rows(values_only=True))
        rows = read_csv(report / "csv" / f"{name}.csv")
        header = list(sheet[0])
        assert header == list(rows[0]) and len(sheet) - 1 == len(rows)
        assert ws.tables and all(c.font.bold for c in ws[1])  # a filterable Excel table, bold headers
        for values, row in zip(sheet[1:], rows, strict=True):
            withheld = row.get("suppressed") == "true"
            for col, v in zip(header, values, strict=True):
                if col in ("numerator", "denominator", "rate") and row[col] == "":
                    assert v == ("*" if withheld else None), (name, col, v)
                elif col in ("numerator", "denominator"):
                    assert str(v) == row[col]
                elif col == "rate":
                    assert abs(v - float(row[col])) < 1e-9
        rate_col = header.index("rate") + 1
        numbers = [
            c for (c,) in ws.iter_rows(min_row=2, min_col=rate_col, max_col=rate_col) if isinstance(c.value, float)
        ]
        assert numbers and all(c.number_format == "0.0%" for c in numbers)
    loads = list(wb[by_csv["csv/data_quality_loads.csv"]].iter_rows(values_only=True))
    assert loads[1][loads[0].index("loaded_at")].hour == 9  # the load time is kept, not cut to a date


def test_case_list_is_local_only_and_unsuppressed(report):
    readme = (report / "local-only" / "README.txt").read_text()
    assert "LOCAL ONLY" in readme and "NOT FOR RELEASE" in readme
    rows = read_csv(report / "local-only" / "case_lists.csv")
    assert len(rows) == N_EPISODES
    failed = [r for r in rows if r["outcome"] == "failed"]
    assert {r["causes"] for r in failed} == {"blood_loss|low_dose", "unexplained", "marrow"}
    assert all("[stg_prescriptions row " in r["cause_evidence"] for r in failed if "low_dose" in r["causes"])
    untested = next(r for r in rows if r["agent"] == "iron" and r["testing_status"] == "never_tested")
    assert "iron_untested" in untested["in_numerator_of"].split("|")
    excluded = next(r for r in rows if r["excluded_reason"])
    assert excluded["in_denominator_of"] == ""


def test_manifest_records_inputs_config_and_versions(report, warehouse):
    m = json.loads((report / "manifest.json").read_text())
    assert m["report"]["folder"] == report.name and m["report"]["by"] == "site"
    assert m["report"]["period_to"] == "2024-06-30" and m["extra"] == {"trigger": "test"}
    assert {i["source_file"] for i in m["inputs"]} == {"labs.csv", "patients.csv", "prescriptions.csv"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", i["sha256"]) for i in m["inputs"])
    assert m["config"]["hash"] == CONFIG.hash() and m["config"]["values"]["disclosure"]["threshold"] == T
    assert m["audit_run"]["same_config"] is True
    assert m["code_lists"]["drugs.csv"]["versions"] and re.fullmatch(
        r"[0-9a-f]{64}", m["code_lists"]["drugs.csv"]["sha256"]
    )
    assert m["software"]["packages"]["duckdb"] and m["software"]["packages"]["ibis-framework"]
    assert "commit" in m["git"]
    # exact counts of episodes and cells stay local (they would help solve for withheld cells)
    assert "episodes" not in m["row_counts"] and not any(k.startswith("aud_") for k in m["row_counts"])
    assert m["row_counts"]["stg_patients"] > 0
    local = json.loads((report / "local-only" / "row_counts.json").read_text())
    assert local["episodes"] == N_EPISODES and local["aud_iron_failed"] > 0
    assert m["outputs"]["local-only/case_lists.csv"] == N_EPISODES and m["outputs"]["csv/summary.csv"] == 8
    assert m["report"]["run_seconds"] >= 0


def test_html_is_self_contained_with_vega_once(report):
    page = (report / "index.html").read_text()
    assert page.count("window.vegaEmbed=") == 1
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert page.count('class="chart"') == 2 * 8 + 2  # p-chart + funnel per measure, causes, quarantine


class Unprintable:
    def __str__(self):
        raise RuntimeError("cannot be written")


def test_a_second_run_replaces_the_folder_and_a_failed_run_changes_nothing(warehouse, tmp_path):
    first = build_report(warehouse, tmp_path, CONFIG, None, date(2024, 6, 30), None)
    (first / "stale.txt").write_text("from the first run")
    second = build_report(warehouse, tmp_path, CONFIG, None, date(2024, 6, 30), None)
    assert second == first and not (second / "stale.txt").exists()
    before = (second / "index.html").read_bytes()
    with pytest.raises(RuntimeError):  # fails while writing the manifest, after everything else
        build_report(warehouse, tmp_path, CONFIG, None, date(2024, 6, 30), None, manifest_extra={"x": Unprintable()})
    assert (second / "index.html").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no temporary or old folder left


def test_period_filter_keeps_whole_periods_inside(warehouse, tmp_path):
    folder = build_report(warehouse, tmp_path, CONFIG, date(2024, 4, 1), date(2024, 5, 31), None)
    rows = read_csv(folder / "csv" / "iron_untested.csv")
    assert {(r["period_type"], r["period_start"]) for r in rows} == {("month", "2024-04-01"), ("month", "2024-05-01")}
    assert {r["group_by"] for r in rows} == {"all"}
    assert not list((folder / "csv").glob("*_funnel.csv"))
    cases = read_csv(folder / "local-only" / "case_lists.csv")
    assert len(cases) == N_EPISODES // 3 and min(r["start_at"] for r in cases) >= "2024-04-01"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"by": "ward"}, "--by must be one of"),
        ({"period_from": date(2024, 6, 1), "period_to": date(2024, 1, 1)}, "is after"),
    ],
)
def test_bad_arguments_are_user_errors(warehouse, tmp_path, kwargs, message):
    with pytest.raises(UserError, match=message):
        build_report(warehouse, tmp_path, CONFIG, **kwargs)


def test_report_needs_the_audit_tables(tmp_path):
    con = connect(write_warehouse(tmp_path / "w.duckdb", {"episodes": []}))
    with pytest.raises(UserError, match="anemia-audit audit"):
        build_report(con, tmp_path / "out", CONFIG)


def test_trend_grain_falls_back_to_quarters_when_months_are_withheld():
    import pandas as pd

    from pipeline.config import load_config_from
    from pipeline.report.frames import trend_grain

    def release(withheld_months: int, months: int = 6) -> pd.DataFrame:
        return pd.DataFrame({"period_type": ["month"] * months + ["quarter"] * 2, "group_by": "all",
                             "suppressed": [i < withheld_months for i in range(months)] + [False, False]})  # fmt: skip

    auto = load_config_from({}).report
    assert trend_grain(release(3), auto) == "month"  # 3 of 6 released: exactly the default share 0.5
    assert trend_grain(release(4), auto) == "quarter"  # 2 of 6 released
    fixed = load_config_from({"report": {"trend_grain": "month"}}).report
    assert trend_grain(release(6), fixed) == "month"
    with pytest.raises(UserError, match="report.trend_grain must be one of auto, month, quarter"):
        load_config_from({"report": {"trend_grain": "weekly"}})
