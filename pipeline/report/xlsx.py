"""audit.xlsx: a README sheet, then one sheet per released table (the same tables as csv/)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl.utils import get_column_letter

from pipeline.audit.measures import MEASURES

COLUMN_NOTES = (
    (
        "numerator, denominator",
        "released counts: rounded to the nearest {rounding} (0 = not rounded); empty when withheld",
    ),
    (
        "rate, ci_low, ci_high",
        "proportion and Wilson {confidence:g} % confidence interval, computed from the "
        "released counts; empty when withheld",
    ),
    (
        "suppressed",
        "true when the cell is withheld by disclosure control (counts 1-{threshold}, or to stop "
        "a withheld cell being worked out from totals)",
    ),
    (
        "period_type, period_start, period_end",
        "month, quarter or year of the episode start (a funnel: 'period', the whole report period); first and last day",
    ),
    (
        "group_by, group_value",
        "all episodes, or the breakdown (site, specialty, sex, age_band); 'unknown' when the episode lacks the value",
    ),
    ("category", "failure_causes: the cause; 'all' for the other measures"),
    (
        "centre, lcl, ucl, signal (*_spc)",
        "p-chart centre line, lower / upper control limits ({sigma:g} sigma) and special-cause signal",
    ),
    ("inner_*, outer_*, flag (*_funnel)", "funnel limits at the group's denominator and whether it lies outside"),
)


WITHHELD = "*"
PERCENT_COLUMNS = ("rate", "ci_low", "ci_high", "centre", "lcl", "ucl", "previous_rate", "change", "target")
COUNT_COLUMNS = ("numerator", "denominator", "raw_rows", "staged_rows", "quarantined_rows", "rows")
SUFFIXES = {"_spc": " trend", "_funnel": " funnel"}
NAMES = {"headline": "Headline", "summary": "Summary", "data_quality_loads": "Data quality - loads",
         "data_quality_quarantine": "Data quality - quarantine",
         "data_quality_unmapped": "Data quality - unmapped"}  # fmt: skip


def sheet_name(file_name: str) -> str:
    """A readable sheet name (at most 31 characters, Excel's limit) for a csv/ file."""
    stem = file_name.removesuffix(".csv")
    if stem in NAMES:
        return NAMES[stem]
    suffix = next((v for k, v in SUFFIXES.items() if stem.endswith(k)), "")
    base = stem.removesuffix(next((k for k in SUFFIXES if stem.endswith(k)), ""))
    words = base.replace("b12", "B12").replace("_", " ")
    return (words[:1].upper() + words[1:])[: 31 - len(suffix)] + suffix


def contents(data) -> pd.DataFrame:
    """The first sheet: every sheet, what it holds, and the csv/ file with the same rows."""
    what = {"headline.csv": "both audit questions for the whole report period (start here)",
            "summary.csv": "every measure, latest quarter"}  # fmt: skip
    rows = [("README", "how to read the numbers: disclosure control, columns, measure definitions", "")]
    for name in data.files:
        stem = name.removesuffix(".csv")
        kind = ("p-chart over time" if stem.endswith("_spc") else "funnel plot by group" if stem.endswith("_funnel")
                else "released rows per period and group")  # fmt: skip
        rows.append((sheet_name(name), what.get(name, kind), f"csv/{name}"))
    return pd.DataFrame(rows, columns=["sheet", "content", "same rows as"])


def readme(data, config) -> pd.DataFrame:
    rep = config.report
    fmt = {
        "rounding": data.rounding,
        "threshold": data.threshold,
        "confidence": rep.confidence * 100,
        "sigma": rep.spc_sigma,
    }
    period = f"{data.period_from or 'start of data'} to {data.period_to or 'end of data'}"
    rows = [
        ("Anaemia care audit", ""),
        ("Period", period),
        ("Breakdown", data.by or "none"),
        ("Latest quarter", "" if data.latest is None else data.latest.strftime("%Y-%m-%d")),
        ("Generated", data.generated_at),
        (
            "Disclosure control",
            f"counts 1-{data.threshold} withheld with secondary suppression; "
            f"released counts rounded to {data.rounding or 'no'} (see docs/measures.md)",
        ),
        ("", ""),
        ("Column", "Meaning"),
    ]
    rows += [(c, n.format(**fmt)) for c, n in COLUMN_NOTES]
    rows += [("", ""), ("Measure", "Definition")]
    for m in MEASURES:
        rows.append(
            (
                m.id,
                f"{m.title}. Numerator: {m.numerator}. Denominator: {m.denominator}. "
                f"Exclusions: {m.exclusions}. Unit: {m.unit}. Source: {m.source}.",
            )
        )
    rows += [("", ""), ("*", "withheld by disclosure control (the csv/ files leave these cells empty)")]
    return pd.DataFrame(rows, columns=["item", "value"])


def _excel_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as dates, timestamps with their time, withheld counts and rates as `*`."""
    f = frame.copy()
    withheld = f["suppressed"].astype(bool) if "suppressed" in f else pd.Series(False, index=f.index)
    for col in f.columns:
        if pd.api.types.is_datetime64_any_dtype(f[col]):
            ts = f[col].dropna()
            if (ts == ts.dt.normalize()).all():
                f[col] = f[col].dt.date
        f[col] = f[col].astype(object).where(f[col].notna(), None)
        if col in PERCENT_COLUMNS + COUNT_COLUMNS and col not in ("target", "change", "previous_rate"):
            f.loc[withheld & f[col].isna(), col] = WITHHELD
    return f


def _style(ws, frame: pd.DataFrame, table_name: str) -> None:
    """Bold header, a filterable Excel table, number formats and fitted widths."""
    from openpyxl.styles import Font
    from openpyxl.worksheet.table import Table, TableStyleInfo

    n_rows, n_cols = len(frame) + 1, len(frame.columns)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    if len(frame):
        table = Table(displayName=table_name, ref=f"A1:{get_column_letter(n_cols)}{n_rows}")
        table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
        ws.add_table(table)
    for i, col in enumerate(frame.columns, start=1):
        letter = get_column_letter(i)
        fmt = "0.0%" if col in PERCENT_COLUMNS else "#,##0" if col in COUNT_COLUMNS else None
        for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
            if fmt and isinstance(cell.value, (int, float)):
                cell.number_format = fmt
            elif hasattr(cell.value, "hour"):
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
        longest = max([len(str(col))] + [len(str(v)) for v in frame[col].head(500) if v is not None])
        ws.column_dimensions[letter].width = max(8, min(60, longest + 3))
    ws.freeze_panes = "A2"


def write(path: Path, data, config) -> None:
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for sheet, frame in (("Contents", contents(data)), ("README", readme(data, config))):
            frame.to_excel(writer, sheet_name=sheet, index=False)
            _style(writer.sheets[sheet], frame, sheet)
        for i, (name, frame) in enumerate(data.files.items(), start=1):
            sheet = sheet_name(name)
            out = _excel_frame(frame)
            out.to_excel(writer, sheet_name=sheet, index=False)
            _style(writer.sheets[sheet], out, f"t{i}_{name.removesuffix('.csv')}"[:250])
