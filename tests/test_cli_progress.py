"""The terminal (issue 13, item 8): the steps only emit progress events (pipeline/progress.py);
the CLI renders them as rich progress bars on a terminal and as plain, non-animated lines
otherwise (CI, cron). Real events from a real load; the rendered text is checked."""

import io

from rich.console import Console

from pipeline import steps
from pipeline.cli import Terminal, item_line
from pipeline.config import load_config
from pipeline.progress import ItemDone, Note, StepDone, StepStarted
from tests.conftest import write_input


def _load(tmp_path, show):
    folder = write_input(tmp_path / "in")
    steps.load("csv", folder, tmp_path / "audit.duckdb", load_config(), progress=show)


def test_steps_report_events_and_print_nothing(tmp_path, capsys):
    events = []
    _load(tmp_path, events.append)
    assert capsys.readouterr().out == ""
    assert isinstance(events[0], StepStarted) and events[0].step == "load"
    assert isinstance(events[-1], StepDone) and events[-1].step == "load"
    done = [e for e in events if isinstance(e, ItemDone)]
    assert sorted(e.item for e in done) == ["labs.csv -> raw_labs", "patients.csv -> raw_patients",
                                           "prescriptions.csv -> raw_prescriptions"]  # fmt: skip
    assert all(e.rows == 1 and e.seconds >= 0 for e in done)


def test_not_a_terminal_gives_plain_lines_without_control_codes(tmp_path):
    buf = io.StringIO()
    with Terminal(console=Console(file=buf, force_terminal=False, width=200)) as show:
        _load(tmp_path, show)
    text = buf.getvalue()
    assert "\x1b" not in text and "\r" not in text
    lines = text.splitlines()
    assert lines[0] == "[load]" and lines[-1].startswith("[load] done in ")
    labs = next(ln for ln in lines if "labs.csv -> raw_labs" in ln)
    assert "1 rows" in labs and "rows/s" in labs and "loaded" in labs


def test_a_terminal_gets_progress_bars(tmp_path):
    buf = io.StringIO()
    with Terminal(console=Console(file=buf, force_terminal=True, width=160)) as show:
        _load(tmp_path, show)
    text = buf.getvalue()
    assert "\x1b[" in text  # drawn and redrawn in place
    assert "3/3" in text and "files" in text  # the load bar advanced once per file
    assert "[load] done in" in text.replace("\x1b[1m", "").replace("\x1b[0m", "")


def test_item_lines_name_rows_time_and_speed_of_a_load():
    line = item_line(ItemDone("load", "labs.csv -> raw_labs", 0.5, 1000, "loaded"))
    assert "1,000 rows" in line and "0.5 s" in line and "2,000 rows/s" in line and line.endswith("loaded")
    assert "rows/s" not in item_line(ItemDone("validate", "raw_labs", 0.5, 1000))
    assert "rows" not in item_line(ItemDone("report", "audit.xlsx", 0.5))


def test_notes_are_shown(tmp_path):
    buf = io.StringIO()
    with Terminal(console=Console(file=buf, force_terminal=False)) as show:
        show(Note("load", "truth.csv: not a contract table, skipped"))
    assert buf.getvalue() == "  note: truth.csv: not a contract table, skipped\n"
