"""The dense profile: background laboratory panels that give a benchmark cohort a realistic
lab density (about 30 lab rows per patient instead of about 5).

Each patient gets routine panels: full blood counts, iron studies, renal and liver panels,
drawn on a few days 200 to 730 days before the planted episode start. That is outside every
window a rule reads labs in (look-back 90 days, baseline 30 days, near baseline 30 days,
follow-up up to day 56, tested-only-after 90 days; episodes start by day 56), so the planted
labels stay exactly as they are; truth recovery on a dense cohort checks it. The panels come
from their own random stream and are appended after the default rows, so a dense cohort is
the default cohort plus these rows, and the default profile is unchanged.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipeline.synth.builder import Chunk, Group

PROFILES = ("default", "dense")

# analyte -> (LOINC, local name, SI unit, conventional unit, factor conventional->SI,
#             normal SI range, decimals); units are those of data/reference/unit_conversions.csv
PANEL_ANALYTES = {
    "hb": ("718-7", "Haemoglobin", "g/L", "g/dL", 10.0, (120, 160), 0),
    "mcv": ("787-2", "MCV", "fL", "fL", 1.0, (82, 98), 1),
    "mch": ("785-6", "MCH", "pg", "pg", 1.0, (27, 33), 1),
    "rdw": ("788-0", "RDW", "%", "%", 1.0, (11.5, 14.5), 1),
    "rbc": ("789-8", "Red cell count", "10*12/L", "10*12/L", 1.0, (4.0, 5.6), 2),
    "wbc": ("6690-2", "WBC", "10*9/L", "10*9/L", 1.0, (4.0, 10.0), 1),
    "platelets": ("777-3", "Platelet count", "10*9/L", "10*9/L", 1.0, (160, 380), 0),
    "ferritin": ("2276-4", "Ferritin", "ug/L", "ng/mL", 1.0, (40, 250), 0),
    "iron": ("2498-4", "Serum iron", "umol/L", "ug/dL", 0.1791, (11, 28), 1),
    "tibc": ("2500-7", "TIBC", "umol/L", "ug/dL", 0.1791, (45, 70), 1),
    "tsat": ("2502-3", "Transferrin saturation", "%", "%", 1.0, (22, 45), 0),
    "sodium": ("2951-2", "Sodium", "mmol/L", "mmol/L", 1.0, (135, 145), 0),
    "potassium": ("2823-3", "Potassium", "mmol/L", "mmol/L", 1.0, (3.5, 5.0), 1),
    "creatinine": ("2160-0", "Creatinine", "umol/L", "umol/L", 1.0, (55, 105), 0),
    "urea": ("3094-0", "Urea", "mmol/L", "mmol/L", 1.0, (2.5, 7.5), 1),
    "alt": ("1742-6", "ALT", "U/L", "U/L", 1.0, (10, 40), 0),
    "ast": ("1920-8", "AST", "U/L", "U/L", 1.0, (10, 35), 0),
    "alp": ("6768-6", "Alkaline phosphatase", "U/L", "U/L", 1.0, (40, 120), 0),
    "albumin": ("1751-7", "Albumin", "g/L", "g/L", 1.0, (35, 50), 0),
    "bilirubin": ("1975-2", "Bilirubin", "umol/L", "mg/dL", 17.1, (4, 18), 1),
}
PANELS = {
    "fbc": ("hb", "mcv", "mch", "rdw", "rbc", "wbc", "platelets"),
    "iron_studies": ("ferritin", "iron", "tibc", "tsat"),
    "renal": ("sodium", "potassium", "creatinine", "urea"),
    "liver": ("alt", "ast", "alp", "albumin", "bilirubin"),
}
# (panel, share of patients who have it) per draw day: about 25 rows per patient, which with
# the default profile's about 5 makes about 30
DRAWS = (
    (("fbc", 1.0), ("renal", 1.0), ("liver", 0.8)),
    (("fbc", 0.8), ("iron_studies", 0.5), ("renal", 0.6)),
)
DAYS_BEFORE = (200, 730)


def _panel_lab(g: Group, analyte: str, day, mask) -> None:
    loinc, name, si, conv, factor, (low, high), digits = PANEL_ANALYTES[analyte]
    value = np.where(g.si_units, 1.0, 1.0 / factor) * g.rng.uniform(low, high, g.n)
    g.emit(
        "labs",
        mask,
        patient_id=g.pid,
        taken_at=g.when(day, hour=7.75),
        loinc=np.where(g.by_name, "", loinc),
        test_name=np.where(g.by_name, name, ""),
        value=np.char.mod(f"%.{digits}f", np.round(value, digits)),
        unit=np.where(g.si_units, si, conv),
    )


def background_panels(p: dict, seed: int, index: int) -> pa.Table:
    """The dense profile's extra lab rows for one chunk of patients `p` (see the module doc)."""
    rng = np.random.default_rng([seed, index, 0xDE45E])
    out = Chunk()
    g = Group(
        rng=rng, pid=p["pid"], t0=p["t0"], sex=p["sex"], with_time=p["with_time"], si_units=p["si_units"],
        by_name=p["by_name"], out=out, scenario="dense_background",
    )  # fmt: skip
    for draw in DRAWS:
        day = -g.days(*DAYS_BEFORE)
        for panel, share in draw:
            has = g.rng.random(g.n) < share
            for analyte in PANELS[panel]:
                _panel_lab(g, analyte, day, has)
    return out.tables()["labs"]
