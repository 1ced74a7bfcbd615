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
    ("period_type, period_start, period_end", "month or quarter of the episode start; first and last day"),
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


def sheet_name(file_name: str) -> str:
    return file_name.removesuffix(".csv")[:31]


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
    rows += [("", ""), ("Sheet", "Content")]
    rows += [(sheet_name(name), name) for name in data.files]
    return pd.DataFrame(rows, columns=["item", "value"])


def _excel_frame(frame: pd.DataFrame) -> pd.DataFrame:
    f = frame.copy()
    for col in f.columns:
        if pd.api.types.is_datetime64_any_dtype(f[col]):
            f[col] = f[col].dt.date
        f[col] = f[col].astype(object).where(f[col].notna(), None)
    return f


def write(path: Path, data, config) -> None:
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        readme(data, config).to_excel(writer, sheet_name="README", index=False)
        writer.sheets["README"].column_dimensions["A"].width = 34
        writer.sheets["README"].column_dimensions["B"].width = 120
        for name, frame in data.files.items():
            sheet = sheet_name(name)
            _excel_frame(frame).to_excel(writer, sheet_name=sheet, index=False)
            ws = writer.sheets[sheet]
            for i, col in enumerate(frame.columns, start=1):
                ws.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(str(col)) + 2))
            ws.freeze_panes = "A2"
