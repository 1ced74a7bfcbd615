"""Build the dated report folder from the released `aud_*` tables.

Everything meant for release (index.html, audit.xlsx, csv/) is made from one set of
released frames: the charts, the HTML tables, the CSV files and the Excel sheets all show
the same numbers, with small numbers already withheld by `pipeline.audit.disclosure`. Only
`local-only/` holds episode-level rows (the case lists), never suppressed and marked
not for release.

The folder is written beside its final place and renamed into it when complete, so a
reader never sees a half-written report; a second run for the same period replaces it.

Output folder safety (issue 12, item 7; docs/reliability.md):
- `--out` that is a file, cannot be created or written, or lies under /proc, /sys or /dev is
  a UserError (one line), checked before any work (`prepare_out_dir`, also called by
  `steps.run` before loading).
- The temporary folder (`.<report name>.<pid>-<random>.tmp`, mode 0700) is removed on any
  exception or SIGTERM; a SIGKILL cannot be caught, so every report first removes the
  temporary and moved-aside folders that earlier runs left behind (their process is gone,
  or they are more than a day old). No hidden copy of the case lists outlives the next run.
- Only an earlier report (a folder holding manifest.json) is ever replaced; a file, symlink
  or other folder with the report's name stops with a UserError and is left untouched.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from pipeline.errors import UserError
from pipeline.progress import Planned, Progress, item, quiet
from pipeline.report.frames import check_arguments, collect, csv_frame

_SYSTEM_TREES = (Path("/proc"), Path("/sys"), Path("/dev"))
# .<report name>.<pid>-<random>.tmp|old; folders of versions before the pid was recorded lack "<pid>-"
_LEFTOVER = re.compile(r"^\.anemia-audit-report-.*\.(?:(?P<pid>\d+)-)?[^.-]*\.(tmp|old)$")
_LEFTOVER_MAX_AGE_S = 24 * 3600
# Environment faults while writing (full disk, read-only or revoked folder): a user error.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO, errno.EFBIG}
# The report's parts, in the order they are made (the progress items of `report`).
PARTS = ("released tables", "csv/", "audit.xlsx", "index.html", "local-only/case_lists.csv",
         "local-only/internal tier", "manifest.json")  # fmt: skip


def build_report(
    con,
    out_dir: Path,
    config,
    period_from: date | None = None,
    period_to: date | None = None,
    by: str | None = None,
    manifest_extra: dict | None = None,
    progress: Progress = quiet,
    unmapped: pd.DataFrame | None = None,
) -> Path:
    """Write `out_dir/anemia-audit-report-<from>_<to>/` (`folder_name`; index.html, audit.xlsx,
    csv/, local-only/case_lists.csv, manifest.json) and return its path. Needs the aud_*
    tables (`anemia-audit audit`). Periods (months, quarters) are shown when they lie
    wholly between `period_from` and `period_to` (either may be None: no bound). `progress`
    hears one item per part (pipeline/progress.py)."""
    from pipeline.report import caselists, html, manifest, xlsx

    started, t0 = datetime.now(UTC), time.perf_counter()
    out_dir = prepare_out_dir(out_dir)
    remove_leftovers(out_dir)
    check_arguments(con, config, period_from, period_to, by)
    progress(Planned("report", len(PARTS), "parts"))
    with item(progress, "report", PARTS[0]):
        data = collect(con, config, period_from, period_to, by, unmapped=unmapped)
    final = out_dir / folder_name(data.facts["period_start"], data.facts["period_end"])
    _check_replaceable(final)
    tmp = _make_temp(out_dir, final)
    try:
        with item(progress, "report", PARTS[1]) as done:
            outputs = write_csv(tmp / "csv", data.files)
            done.rows = sum(outputs.values())
        with item(progress, "report", PARTS[2]):
            xlsx.write(tmp / "audit.xlsx", data, config)
        with item(progress, "report", PARTS[3]):
            (tmp / "index.html").write_text(html.render(data, config), encoding="utf-8")
        with item(progress, "report", PARTS[4]) as done:
            outputs["local-only/case_lists.csv"] = caselists.write(con, tmp / "local-only", config, period_from,
                                                                   period_to)  # fmt: skip
            done.rows = outputs["local-only/case_lists.csv"]
        with item(progress, "report", PARTS[5]):
            outputs.update(_write_internal(con, tmp / "local-only", config, period_from, period_to, by, unmapped,
                                           data.headline_counts))  # fmt: skip
        with item(progress, "report", PARTS[6]):
            manifest.write(tmp / "manifest.json", final.name, con, config, data, outputs, started,
                           time.perf_counter() - t0, manifest_extra)  # fmt: skip
        os.chmod(tmp, 0o755)
        _swap_into_place(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.errno in _WRITE_ERRNOS:
            raise UserError(f"output folder {out_dir}: cannot write the report ({exc.strerror})") from None
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def prepare_out_dir(out_dir: Path) -> Path:
    """`out_dir`, created if needed and proven writable, or a UserError saying why not."""
    out_dir = Path(out_dir)
    where = out_dir.resolve()
    for tree in _SYSTEM_TREES:
        if where == tree or tree in where.parents:
            raise UserError(f"output folder {out_dir}: is under {tree}, a system folder; choose a folder of your own")
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"output folder {out_dir}: is a file, not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=".anemia-audit-write-test.", dir=out_dir))  # root ignores mode bits
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"output folder {out_dir}: part of the path is a file, not a folder") from None
    except OSError as exc:
        raise UserError(f"output folder {out_dir}: cannot be created or written ({exc.strerror})") from None
    return out_dir


def remove_leftovers(out_dir: Path) -> list[str]:
    """Remove the temporary and moved-aside report folders that killed runs left in `out_dir`
    (their process is gone, or they are over a day old); returns their names."""
    removed = []
    for path in out_dir.iterdir():
        match = _LEFTOVER.match(path.name)
        if not match or path.is_symlink() or not path.is_dir():
            continue
        try:
            age = time.time() - path.lstat().st_mtime
        except OSError:
            continue
        if match["pid"] and _alive(int(match["pid"])) and age < _LEFTOVER_MAX_AGE_S:
            continue  # a report being written right now by another process
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _make_temp(out_dir: Path, final: Path) -> Path:
    try:  # mode 0700 until complete: a folder stranded by a kill is readable by its owner only
        return Path(tempfile.mkdtemp(prefix=f".{final.name}.{os.getpid()}-", suffix=".tmp", dir=out_dir))
    except OSError as exc:
        raise UserError(f"output folder {out_dir}: cannot be written ({exc.strerror})") from None


def _check_replaceable(final: Path) -> None:
    """Only an earlier report is replaced; anything else under its name is the user's."""
    if final.is_symlink() or (final.exists() and not final.is_dir()):
        raise UserError(f"{final}: exists and is not a report folder; move it away or choose another --out")
    if final.is_dir() and not (final / "manifest.json").is_file():
        raise UserError(
            f"{final}: exists and is not an anemia-audit report (no manifest.json); "
            "move it away or choose another --out"
        )


def _write_internal(con, folder: Path, config, period_from, period_to, by, unmapped=None, counts=None) -> dict:
    """The internal tier: the same report with exact counts (nothing withheld, nothing
    rounded) for the team's own governance meeting, beside the case lists in local-only/."""
    from pipeline.report import html, xlsx

    data = collect(con, config, period_from, period_to, by, internal=True, unmapped=unmapped, counts=counts)
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
    aside (same parent, same file system), then the new one takes its name. A kill between
    the two renames leaves the old report under its `.old` name, removed by the next run."""
    _check_replaceable(final)
    old = final.with_name(f".{final.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.old")
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
