"""Property: any mix of valid and invalid rows reconciles exactly. Every raw row is either
staged or quarantined (never both, never neither), a row failing several checks counts once,
and row order does not change which rows are staged."""

import random
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import GOOD_LAB, GOOD_PATIENT, GOOD_RX, load_and_validate, write_input

PATIENT_IDS = ["P1", "P2", "P3", ""]
lab_rows = st.fixed_dictionaries(
    {
        "patient_id": st.sampled_from([*PATIENT_IDS, "NOBODY"]),
        "taken_at": st.sampled_from(["2024-01-05", "2024-01-05 08:30", "2024-02-30", "", "2999-01-01", "1850-01-01"]),
        "loinc": st.sampled_from(["718-7", "2276-4", "2132-9", "", "9999-9"]),
        "test_name": st.sampled_from(["", "Ferritin", "Sodium"]),
        "value": st.sampled_from(["10.5", "<5", ">2000", "abc", "", "-3", "1e9", "0"]),
        "unit": st.sampled_from(["g/dL", "ng/mL", "pg/mL", "mmol/mol", "", "g/L"]),
    }
)
rx_rows = st.fixed_dictionaries(
    {
        "patient_id": st.sampled_from(PATIENT_IDS),
        "start_at": st.sampled_from(["2024-01-10", "2024-01-10T09:00", "bad", ""]),
        "end_at": st.sampled_from(["", "2024-02-10", "2023-01-01"]),
        "drug_name": st.sampled_from(["Ferrous sulfate", "Spironolactone", "Folic acid", ""]),
        "dose_amount": st.sampled_from(["1", "50", "x", ""]),
        "dose_unit": st.sampled_from(["tablet", "mg", ""]),
        "doses_per_day": st.sampled_from(["1", "3", "99", ""]),
    }
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    labs=st.lists(lab_rows, max_size=25),
    rxs=st.lists(rx_rows, max_size=15),
    dup=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_raw_equals_staged_plus_quarantined(labs, rxs, dup, seed):
    labs = labs + [GOOD_LAB] * (2 if dup else 1)
    rxs = [*rxs, GOOD_RX]
    patients = [
        GOOD_PATIENT,
        {"patient_id": "P2", "sex": "M", "age_band": "40-49"},
        {"patient_id": "P3", "sex": "x?", "birth_year": "1950"},
    ]
    tmp = Path(tempfile.mkdtemp())
    try:
        staged_sets = []
        for order in range(2):
            rng = random.Random(seed + order)
            ordered = labs[:] if order == 0 else rng.sample(labs, len(labs))
            con, recon = load_and_validate(
                write_input(tmp / f"in{order}", patients=patients, labs=ordered, prescriptions=rxs),
                tmp / f"w{order}.duckdb",
            )
            db = con.con
            for t, n in (("labs", len(labs)), ("prescriptions", len(rxs)), ("patients", 3)):
                raw = db.execute(f"select count(*) from raw_{t}").fetchone()[0]
                staged = db.execute(f"select count(*) from stg_{t}").fetchone()[0]
                q = db.execute(f"select count(distinct row_id) from quarantine where table_name='{t}'").fetchone()[0]
                both = db.execute(f"select count(*) from stg_{t} join quarantine q using (row_id)").fetchone()[0]
                assert raw == n and raw == staged + q and both == 0
            staged_sets.append(
                sorted(
                    map(
                        tuple,
                        db.execute(
                            "select r.patient_id, r.taken_at, r.loinc, r.test_name, r.value, r.unit from stg_labs s "
                            "join raw_labs r using (row_id)"
                        ).fetchall(),
                    ),
                    key=str,
                )
            )
            assert all(r["raw_rows"] == r["staged_rows"] + r["quarantined_rows"] for r in recon)
            con.disconnect()
        assert staged_sets[0] == staged_sets[1]
    finally:
        shutil.rmtree(tmp)
