"""Build the dated report folder from the released `aud_*` tables.

Everything meant for release (index.html, audit.xlsx, csv/) is made from one set of
released frames: the charts, the HTML tables, the CSV files and the Excel sheets all show
the same numbers, with small numbers already withheld by `pipeline.audit.disclosure`. Only
`local-only/` holds episode-level rows (the case lists), never suppressed and marked
not for release.

The folder is written beside its final place and renamed into it when complete, so a
reader never sees a half-written report; a second run for the same period replaces it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from pipeline.report.frames import check_arguments, collect, csv_frame


def build_report(
    con,
    out_dir: Path,
    config,
    period_from: date | None = None,
    period_to: date | None = None,
    by: str | None = None,
    manifest_extra: dict | None = None,
) -> Path:
    """Write `out_dir/anemia-audit-report-<from>_<to>/` (`folder_name`; index.html, audit.xlsx,
    csv/, local-only/case_lists.csv, manifest.json) and return its path. Needs the aud_*
    tables (`anemia-audit audit`). Periods (months, quarters) are shown when they lie
    wholly between `period_from` and `period_to` (either may be None: no bound)."""
    from pipeline.report import caselists, html, manifest, xlsx

    started, t0 = datetime.now(UTC), time.perf_counter()
    check_arguments(con, config, period_from, period_to, by)
    data = collect(con, config, period_from, period_to, by)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / folder_name(data.facts["period_start"], data.facts["period_end"])
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=out_dir))
    try:
        outputs = write_csv(tmp / "csv", data.files)
        xlsx.write(tmp / "audit.xlsx", data, config)
        (tmp / "index.html").write_text(html.render(data, config), encoding="utf-8")
        outputs["local-only/case_lists.csv"] = caselists.write(con, tmp / "local-only", config, period_from, period_to)
        outputs.update(_write_internal(con, tmp / "local-only", config, period_from, period_to, by))
        manifest.write(
            tmp / "manifest.json",
            final.name,
            con,
            config,
            data,
            outputs,
            started,
            time.perf_counter() - t0,
            manifest_extra,
        )
        os.chmod(tmp, 0o755)
        _swap_into_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _write_internal(con, folder: Path, config, period_from, period_to, by) -> dict[str, int]:
    """The internal tier: the same report with exact counts (nothing withheld, nothing
    rounded) for the team's own governance meeting, beside the case lists in local-only/."""
    from pipeline.report import html, xlsx

    data = collect(con, config, period_from, period_to, by, internal=True)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "internal-report.html").write_text(html.render(data, config), encoding="utf-8")
    xlsx.write(folder / "internal-audit.xlsx", data, config)
    return {"local-only/internal-report.html": 1, "local-only/internal-audit.xlsx": len(data.files)}


def folder_name(start: date | None, end: date | None) -> str:
    """Named for the period the report covers (by default the span of the episode starts),
    so a rerun for the same period replaces it and a reader sees what it covers. Without
    episodes: today's date."""
    if start is None or end is None:
        return f"anemia-audit-report-{date.today().isoformat()}"
    return f"anemia-audit-report-{start.isoformat()}_{end.isoformat()}"


def _swap_into_place(tmp: Path, final: Path) -> None:
    """rename() cannot replace a non-empty folder, so an existing report is first moved
    aside (same parent, same file system), then the new one takes its name."""
    old = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.old")
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def write_csv(folder: Path, files: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Write each frame as CSV (dates as YYYY-MM-DD, withheld values empty); returns rows per file."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, frame in files.items():
        csv_frame(frame).to_csv(folder / name, index=False)
        out[f"csv/{name}"] = len(frame)
    return out
