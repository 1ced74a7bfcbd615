"""Clinical building blocks of the synthetic cohort: labs in mixed units, prescriptions,
dispensings and diagnoses, each emitted for all patients of a scenario at once.

Values are planted well away from the configured cut-offs (pipeline/defaults.toml), so each
planted label is unambiguous; the rules' boundary behaviour is covered by spec tests."""

from __future__ import annotations

import numpy as np

from pipeline.synth.builder import Group

# analyte -> (LOINC, local name, SI unit, conventional unit, factor conventional->SI)
LAB_UNITS = {
    "hb": ("718-7", "Haemoglobin", "g/L", "g/dL", 10.0),
    "ferritin": ("2276-4", "Ferritin", "ug/L", "ng/mL", 1.0),
    "tsat": ("2502-3", "Transferrin saturation", "%", "%", 1.0),
    "b12": ("2132-9", "Vitamin B12", "pmol/L", "pg/mL", 0.738),
    "folate": ("2284-8", "Serum folate", "nmol/L", "ng/mL", 2.266),
    "crp": ("1988-5", "CRP", "mg/L", "mg/dL", 10.0),
    "mcv": ("787-2", "MCV", "fL", "fL", 1.0),
    "wbc": ("6690-2", "WBC", "10*9/L", "10*9/L", 1.0),
    "platelets": ("777-3", "Platelet count", "10*9/L", "10*9/L", 1.0),
    "sodium": ("2951-2", "Sodium", "mmol/L", "mmol/L", 1.0),
}

ORAL_IRON = dict(
    drug_code="B03AA07",
    code_system="ATC",
    drug_name="Ferrous sulfate 200 mg tablets",
    route="oral",
    dose_amount="1",
    dose_unit="tablet",
    doses_per_day="1",
)
LOW_DOSE_IRON = dict(
    drug_code="",
    code_system="",
    drug_name="Ferrous gluconate 300 mg tablets",
    route="PO",
    dose_amount="1",
    dose_unit="tablet",
    doses_per_day="0.5",
)
IV_IRON = dict(
    drug_code="",
    code_system="",
    drug_name="Ferric carboxymaltose 500 mg/10 mL injection",
    route="IV",
    dose_amount="1000",
    dose_unit="mg",
    doses_per_day="1",
)
IV_IRON_SUCROSE = dict(
    drug_code="",
    code_system="",
    drug_name="Iron sucrose 200 mg/10 mL injection",
    route="IV",
    dose_amount="200",
    dose_unit="mg",
    doses_per_day="1",
)
COMBINATION = dict(
    drug_code="B03AD03",
    code_system="ATC",
    drug_name="Ferrous sulfate with folic acid tablets",
    route="oral",
    dose_amount="1",
    dose_unit="tablet",
    doses_per_day="1",
)
FOLIC_ACID = dict(
    drug_code="B03BB01",
    code_system="ATC",
    drug_name="Folic acid 5 mg tablets",
    route="oral",
    dose_amount="5",
    dose_unit="mg",
    doses_per_day="1",
)
CYANOCOBALAMIN = dict(
    drug_code="",
    code_system="",
    drug_name="Cyanocobalamin 50 microgram tablets",
    route="PO",
    dose_amount="1",
    dose_unit="tablet",
    doses_per_day="1",
)
HYDROXOCOBALAMIN = dict(
    drug_code="B03BA03",
    code_system="ATC",
    drug_name="Hydroxocobalamin 1 mg/1 mL injection",
    route="IM",
    dose_amount="1",
    dose_unit="mg",
    doses_per_day="1",
)
METHOTREXATE = dict(
    drug_code="",
    code_system="",
    drug_name="Methotrexate 2.5 mg tablets",
    route="oral",
    dose_amount="4",
    dose_unit="tablet",
    doses_per_day="1",
)
NAPROXEN = dict(
    drug_code="M01AE02",
    code_system="ATC",
    drug_name="Naproxen 500 mg tablets",
    route="oral",
    dose_amount="1",
    dose_unit="tablet",
    doses_per_day="2",
)
OMEPRAZOLE = dict(
    drug_code="A02BC01",
    code_system="ATC",
    drug_name="Omeprazole 20 mg capsules",
    route="oral",
    dose_amount="1",
    dose_unit="capsule",
    doses_per_day="1",
)
# Cause-neutral background drugs, including the iron name traps.
BACKGROUND = [
    dict(drug_name="Amlodipine 5 mg tablets", route="oral", dose_amount="1", dose_unit="tablet", doses_per_day="1"),
    dict(
        drug_name="Spironolactone 25 mg tablets", route="oral", dose_amount="1", dose_unit="tablet", doses_per_day="1"
    ),
    dict(drug_name="BusPIRone 10 mg tablets", route="PO", dose_amount="1", dose_unit="tablet", doses_per_day="2"),
    dict(drug_name="Atorvastatin 20 mg tablets", route="oral", dose_amount="1", dose_unit="tablet", doses_per_day="1"),
]
SPECIALTIES = np.array(["general practice", "gastroenterology", "haematology", "obstetrics", "general medicine"])


def lab(g: Group, analyte: str, day, value_si, mask=None, comparator: str | None = None) -> None:
    """One result per patient, in SI or conventional units (per patient), LOINC or local name."""
    loinc, name, si, conv, factor = LAB_UNITS[analyte]
    value_si = np.broadcast_to(np.asarray(value_si, dtype=float), (g.n,))
    value = np.where(g.si_units, value_si, value_si / factor)
    digits = 0 if analyte in ("ferritin", "b12", "platelets", "sodium") else 1
    text = np.char.mod(f"%.{digits}f", np.round(value, digits))
    if comparator:
        text = np.char.add(comparator, text)
    g.emit(
        "labs",
        mask,
        patient_id=g.pid,
        taken_at=g.when(day, hour=8.5),
        loinc=np.where(g.by_name, "", loinc),
        test_name=np.where(g.by_name, name, ""),
        value=text,
        unit=np.where(g.si_units, si, conv),
    )


def lab_text(g: Group, analyte: str, day, text: str) -> None:
    """One result reported only as text (no number), as laboratories do for "UNABLE TO REPORT"."""
    loinc, name, si, conv, _ = LAB_UNITS[analyte]
    g.emit(
        "labs",
        None,
        patient_id=g.pid,
        taken_at=g.when(day, hour=8.5),
        loinc=np.where(g.by_name, "", loinc),
        test_name=np.where(g.by_name, name, ""),
        value=np.full(g.n, text),
        unit=np.where(g.si_units, si, conv),
    )


def prescription(g: Group, drug: dict, day, duration_days, mask=None, specialty=None) -> None:
    duration = np.broadcast_to(np.asarray(duration_days), (g.n,))
    g.emit(
        "prescriptions",
        mask,
        patient_id=g.pid,
        start_at=g.when(day, hour=14),
        duration_days=duration,
        quantity=duration,
        prescriber_specialty=specialty if specialty is not None else g.rng.choice(SPECIALTIES, g.n),
        **drug,
    )


def dispensing(g: Group, drug: dict, day, days_supply, mask=None) -> None:
    g.emit(
        "dispensings",
        mask,
        patient_id=g.pid,
        dispensed_at=g.when(day, hour=16),
        drug_code=drug.get("drug_code", ""),
        code_system=drug.get("code_system", ""),
        drug_name=drug["drug_name"],
        quantity=days_supply,
        days_supply=days_supply,
    )


def diagnosis(g: Group, code: str, day, mask=None, system: str = "ICD10") -> None:
    g.emit("diagnoses", mask, patient_id=g.pid, code=code, coding_system=system, recorded_at=g.when(day, hour=11))


def truth(
    g: Group,
    agent: str,
    route: str,
    testing: str,
    jic=False,
    excluded="",
    outcome="",
    na_reason="",
    causes: tuple[str, ...] = (),
    precedence: list[str] | None = None,
    start_day=0,
) -> None:
    primary = next((c for c in precedence if c in causes), "") if causes else ""
    g.emit(
        "truth",
        patient_id=g.pid,
        agent=agent,
        start_date=pc_date(g, start_day),
        route=route,
        testing_status=testing,
        is_just_in_case="true" if jic else "false",
        excluded_reason=excluded,
        outcome=outcome,
        not_assessable_reason=na_reason,
        primary_cause=primary,
        causes="|".join(sorted(causes)),
        scenario=g.scenario,
    )


def pc_date(g: Group, day) -> np.ndarray:
    return np.datetime_as_string(g.t0.astype("datetime64[D]") + np.timedelta64(int(day), "D"))
