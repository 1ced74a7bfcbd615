"""Hostile files, generated (issue 12, item 11): Hypothesis writes a labs.csv from hostile values
(NaN, inf, absurd numbers, dates in 1850 and 2150, mixed date forms, comma decimals, markers,
huge fields, quotes and newlines) and then damages it (random bytes, another encoding, a BOM,
ragged rows, a duplicate or missing header, CR endings, truncation, an empty file). Load and
validate must then either stop with one UserError line that holds no patient id, or load every
data row and account for each as staged or quarantined. Anything else (a traceback, a row
lost) fails.

Profiles: `reliability-ci` (a few examples, in `make test`) and `reliability-fuzz` (`make fuzz`,
thousands); choose with RELIABILITY_PROFILE."""

from __future__ import annotations

import csv
import io
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import steps
from pipeline.config import load_config
from pipeline.errors import UserError
from tests.conftest import GOOD_RX, write_table

settings.register_profile("reliability-ci", max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "reliability-fuzz", max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
PROFILE = settings.get_profile(os.environ.get("RELIABILITY_PROFILE", "reliability-ci"))
SECRET = "SECRET-P"
HEADER = ["patient_id", "taken_at", "loinc", "test_name", "value", "unit", "ref_low", "ref_high", "site"]

HOSTILE_VALUES = [
    "", "NA", "NaN", "nan", "inf", "-inf", "Infinity", "1e999", "-0", "1,5", "12,3", "0", "-5", "99999999999",
    "1e-320", "<5", ">=2000", "< 5", "5<", "abc", "NULL", "#N/A", " 12 ", "１２", "½", "💉", "\u200b12",
    '"quoted"', "a\nb", "a\r\nb", "x" * 5000, "=cmd|' /C calc'!A0", "'; DROP TABLE raw_labs; --",
]  # fmt: skip
DATES = [
    "2024-03-01", "2024-03-01 14:30", "2024-03-01T14:30:00Z", "2024-03-01T16:30+02:00", "01/03/2024",
    "2024/03/01", "20240301", "1850-01-01", "2150-01-01", "2024-02-30", "1 Mar 2024", "", "NA", "2024-3-1",
]  # fmt: skip


@st.composite
def lab_rows(draw):
    n = draw(st.integers(0, 8))
    rows = []
    for i in range(n):
        row = {
            "patient_id": f"{SECRET}{i % 3}",
            "taken_at": draw(st.sampled_from(DATES)),
            "loinc": draw(st.sampled_from(["718-7", "2276-4", "2132-9", "", "NOT-A-CODE"])),
            "test_name": draw(st.sampled_from(["Haemoglobin", "Ferritin", "", *HOSTILE_VALUES[:8]])),
            "value": draw(st.sampled_from(HOSTILE_VALUES) | st.text(max_size=12)),
            "unit": draw(st.sampled_from(["g/dL", "g/L", "ng/mL", "µg/L", "", "furlongs"])),
            "ref_low": draw(st.sampled_from(HOSTILE_VALUES[:20])),
            "ref_high": draw(st.sampled_from(HOSTILE_VALUES[:20])),
            "site": draw(st.sampled_from(["SITE-A", "", "Ward 3", "NA"])),
        }
        rows.append(row)
    return rows


def _csv_bytes(rows) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=HEADER, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


DAMAGE = ("none", "bom", "latin1", "utf16", "random_bytes", "ragged", "duplicate_header", "no_header", "cr_only",
          "crlf", "truncate", "empty", "header_only", "nul_byte")  # fmt: skip


def _damage(data: bytes, how: str, draw) -> bytes:
    lines = data.split(b"\n")
    if how == "bom":
        return b"\xef\xbb\xbf" + data
    if how == "latin1":
        return data.decode("utf-8").encode("latin-1", errors="replace") + "é\n".encode("latin-1")
    if how == "utf16":
        return data.decode("utf-8").encode("utf-16")
    if how == "random_bytes":
        pos = draw(st.integers(0, len(data)))
        return data[:pos] + draw(st.binary(min_size=1, max_size=40)) + data[pos:]
    if how == "ragged" and len(lines) > 2:
        i = draw(st.integers(1, len(lines) - 2))
        lines[i] = lines[i] + b",extra" if draw(st.booleans()) else lines[i].rsplit(b",", 1)[0]
        return b"\n".join(lines)
    if how == "duplicate_header":
        return lines[0] + b",value\n" + b"\n".join(lines[1:])
    if how == "no_header":
        return b"\n".join(lines[1:])
    if how == "cr_only":
        return data.replace(b"\n", b"\r")
    if how == "crlf":
        return data.replace(b"\n", b"\r\n")
    if how == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    if how == "empty":
        return b""
    if how == "header_only":
        return lines[0] + b"\n"
    if how == "nul_byte":
        pos = draw(st.integers(0, len(data)))
        return data[:pos] + b"\x00" + data[pos:]
    return data


@settings(PROFILE)
@given(rows=lab_rows(), how=st.sampled_from(DAMAGE), data=st.data())
def test_a_hostile_labs_file_stops_in_one_line_or_loses_no_row(tmp_path_factory, rows, how, data):
    tmp = tmp_path_factory.mktemp("fuzz")
    folder = tmp / "in"
    write_table(
        folder, "patients", [{"patient_id": f"{SECRET}{i}", "sex": "F", "birth_year": "1960"} for i in range(3)]
    )
    write_table(folder, "prescriptions", [{**GOOD_RX, "patient_id": f"{SECRET}0"}])
    raw = _damage(_csv_bytes(rows), how, data.draw)
    (folder / "labs.csv").write_bytes(raw)
    cfg = load_config()
    db = tmp / "w.duckdb"
    try:
        steps.load("csv", folder, db, cfg)
        recon = steps.validate(db, cfg)
    except UserError as exc:
        message = str(exc)
        assert "\n" not in message.strip() and SECRET not in message, message
        return
    labs = [r for r in recon if r["table_name"] == "labs"]
    for r in labs:
        assert r["raw_rows"] == r["staged_rows"] + r["quarantined_rows"]
    if how in ("none", "bom", "crlf"):  # a clean file: every data row is in raw_labs
        assert sum(r["raw_rows"] for r in labs) == len(rows)
