"""The batch report: `build_report(con, out_dir, config, period_from, period_to, by)` writes
a dated, self-contained folder (index.html, audit.xlsx, csv/, local-only/, manifest.json)
from the released aud_* tables. See pipeline/report/build.py."""

from pipeline.report.build import build_report

__all__ = ["build_report"]
