"""Synthetic cohort with planted truth: `generate(n_patients, seed, out_dir)`.

Writes the canonical input files (patients, labs, prescriptions, dispensings, diagnoses;
docs/data-contract.md) and `truth.csv` (one row per planted treatment episode with its
testing status, just-in-case flag, exclusion, outcome and causes), streaming chunks of
patients to disk so memory stays bounded. The same seed gives byte-identical files. A small
share of extra dirty rows (bad units, impossible values, duplicates, bad dates, unknown
patients, impossible doses) exercises the quarantine; they never carry a planted label.
See docs/synthetic.md.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from pipeline.config import load_config
from pipeline.synth.builder import TABLES, Chunk, Group
from pipeline.synth.dense import PROFILES, background_panels
from pipeline.synth.dirty import dirty_rows
from pipeline.synth.events import BACKGROUND, lab, prescription
from pipeline.synth.scenarios import CHILD_AGE_YEARS, PREGNANT, SCENARIOS, WEIGHTS, Levels

CHUNK_PATIENTS = 20_000
SITES = np.array(["SITE-A", "SITE-B", "SITE-C", "SITE-D", "SITE-E"])
FIRST_DAY, LAST_DAY = np.datetime64("2023-01-15"), np.datetime64("2025-06-30")


def _patients(rng, start: int, n: int) -> dict[str, np.ndarray]:
    names = np.array(list(SCENARIOS))
    idx = np.arange(start, start + n)
    weights = np.array([WEIGHTS[s] for s in names])
    scen = rng.choice(names, size=n, p=weights / weights.sum())
    covered = idx < len(names)
    scen[covered] = names[idx[covered]]
    pregnant = np.isin(scen, list(PREGNANT))
    sex = rng.choice(np.array(["F", "M", "U"]), size=n, p=[0.55, 0.43, 0.02])
    sex[pregnant] = "F"
    span = int((LAST_DAY - FIRST_DAY).astype(int))
    t0 = (FIRST_DAY + rng.integers(0, span, n).astype("timedelta64[D]")).astype("datetime64[m]")
    birth = rng.integers(1935, 2002, n)
    birth[pregnant] = rng.integers(1988, 1999, pregnant.sum())
    year0 = t0.astype("datetime64[Y]").astype(int) + 1970
    for name, years in CHILD_AGE_YEARS.items():
        child = scen == name
        birth[child] = year0[child] - years
    gestation = np.array([PREGNANT.get(s, 0) for s in scen], dtype="timedelta64[D]")
    return dict(
        pid=np.char.add("P", np.char.zfill(idx.astype(str), 7)),
        scenario=scen,
        sex=sex,
        t0=t0,
        birth=birth,
        site=rng.choice(SITES, n),
        with_time=rng.random(n) < 0.5,
        si_units=rng.random(n) < 0.6,
        by_name=rng.random(n) < 0.2,
        pregnant=pregnant,
        gestation=gestation,
        age_band_only=(rng.random(n) < 0.1) & ~np.isin(scen, list(CHILD_AGE_YEARS)),
    )


def _patient_rows(chunk: Chunk, p: dict, rng) -> None:
    n = len(p["pid"])
    band = np.char.add(
        np.char.add(((2024 - p["birth"]) // 10 * 10).astype(str), "-"), ((2024 - p["birth"]) // 10 * 10 + 9).astype(str)
    )
    day = p["t0"].astype("datetime64[D]")
    preg_start = np.datetime_as_string(day - p["gestation"])
    preg_end = np.datetime_as_string(day - p["gestation"] + np.timedelta64(260, "D"))
    chunk.add(
        "patients",
        n,
        None,
        dict(
            patient_id=p["pid"],
            sex=p["sex"],
            birth_year=np.where(p["age_band_only"], "", p["birth"].astype(str)),
            age_band=np.where(p["age_band_only"], band, ""),
            site=p["site"],
            pregnancy_start=np.where(p["pregnant"], preg_start, ""),
            pregnancy_end=np.where(p["pregnant"], preg_end, ""),
        ),
    )


def _background(g: Group) -> None:
    """Cause-neutral noise: an unrelated drug (including spironolactone / buspirone) and a sodium."""
    pick = g.rng.integers(0, len(BACKGROUND), g.n)
    for i, drug in enumerate(BACKGROUND):
        prescription(g, drug, -g.days(30, 300), 30, mask=(pick == i) & (g.rng.random(g.n) < 0.6))
    lab(g, "sodium", -g.days(1, 200), 140 + g.jitter(-4, 4), mask=g.rng.random(g.n) < 0.5)


def _chunk(
    seed: int, index: int, start: int, n: int, levels: Levels, dirty_fraction: float, profile: str = "default"
) -> tuple[dict, dict]:
    rng = np.random.default_rng([seed, index])
    p = _patients(rng, start, n)
    chunk = Chunk()
    _patient_rows(chunk, p, rng)
    for name in SCENARIOS:
        sel = p["scenario"] == name
        if not sel.any():
            continue
        g = Group(
            rng=rng,
            pid=p["pid"][sel],
            t0=p["t0"][sel],
            sex=p["sex"][sel],
            with_time=p["with_time"][sel],
            si_units=p["si_units"][sel],
            by_name=p["by_name"][sel],
            out=chunk,
            scenario=name,
        )
        SCENARIOS[name](g, levels)
        _background(g)
    tables = chunk.tables()
    dirty = dirty_rows(tables, rng, dirty_fraction)
    if profile == "dense":
        tables["labs"] = pa.concat_tables([tables["labs"], background_panels(p, seed, index)])
    return tables, dirty


def generate(
    n_patients: int,
    seed: int,
    out_dir: Path,
    progress: Callable[[int, int], None] | None = None,
    dirty_fraction: float = 0.01,
    profile: str = "default",
) -> dict:
    """Write the synthetic cohort to out_dir; return rows per file and episodes per scenario.
    `profile` "dense" adds background lab panels (pipeline/synth/dense.py) for benchmarks."""
    if profile not in PROFILES:
        raise ValueError(f"unknown synthetic profile {profile!r}; known: {', '.join(PROFILES)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    levels = Levels(load_config())
    writers: dict[str, pacsv.CSVWriter] = {}
    rows = {t: 0 for t in TABLES}
    dirty_total: dict[str, int] = {}
    scenarios: dict[str, int] = {}
    try:
        for index, start in enumerate(range(0, n_patients, CHUNK_PATIENTS)):
            n = min(CHUNK_PATIENTS, n_patients - start)
            tables, dirty = _chunk(seed, index, start, n, levels, dirty_fraction, profile)
            for table, data in tables.items():
                if table not in writers:
                    writers[table] = pacsv.CSVWriter(
                        out_dir / f"{table}.csv", data.schema, write_options=pacsv.WriteOptions(quoting_style="needed")
                    )
                writers[table].write_table(data)
                rows[table] += data.num_rows
            for k, v in dirty.items():
                dirty_total[k] = dirty_total.get(k, 0) + v
            for s in tables["truth"].column("scenario").to_pylist():
                scenarios[s] = scenarios.get(s, 0) + 1
            if progress:
                progress(start + n, n_patients)
    finally:
        for w in writers.values():
            w.close()
    return {"rows": rows, "dirty_rows": dirty_total, "episodes_per_scenario": dict(sorted(scenarios.items()))}
