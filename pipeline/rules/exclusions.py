"""Episodes that are continuing or prophylactic treatment, not audited new starts.

RULES.md 'Drugs' (exclusions that are not "just in case" prescribing); all lists and windows
in `[coprescribing]`:
- folic acid in pregnancy (`pregnancy_folate_prophylaxis`): the start falls between
  stg_patients.pregnancy_start and pregnancy_end (a missing end is taken as
  start + pregnancy_default_days), or a diagnosis in `pregnancy_conditions` is recorded within
  `pregnancy_diagnosis_window_days` either side of the start (covers planning and booking);
- folic acid with methotrexate (`methotrexate_folate`): a prescription or dispensing of a
  drug class in `methotrexate_drug_classes` whose supply overlaps the
  `methotrexate_window_days` either side of the start;
- B12 maintenance in known pernicious anaemia (`pernicious_anaemia_maintenance`) or after
  gastrectomy (`post_gastrectomy_b12`): a diagnosis in `pernicious_anaemia_conditions` /
  `gastrectomy_conditions` recorded at or before the start (tie rule of `timing`).
When several apply, the first in the order above wins. Iron episodes are never excluded.
Missing data: without stg_diagnoses the diagnosis-based exclusions are not found (the
episode is audited); without pregnancy dates only a pregnancy diagnosis can exclude.
"""

from __future__ import annotations

import ibis

from pipeline.rules.inputs import Staged, one_row_per_patient
from pipeline.rules.pregnancy import in_pregnancy
from pipeline.rules.rows import first_per_group, union_all
from pipeline.rules.supplies import drug_supplies
from pipeline.rules.timing import at_or_before, days_after

REASONS = (
    "pregnancy_folate_prophylaxis",
    "methotrexate_folate",
    "pernicious_anaemia_maintenance",
    "post_gastrectomy_b12",
)


def _pregnancy_dates(ep: ibis.Table, patients: ibis.Table, cfg) -> ibis.Table:
    p = one_row_per_patient(patients)
    j = ep.join(p.select("patient_id", "pregnancy_start", "pregnancy_end"), "patient_id")
    return j.filter(in_pregnancy(j.start_at.date(), j.pregnancy_start, j.pregnancy_end, cfg)).select("episode_id")


def _diagnosed(ep, diagnoses, groups, cond) -> ibis.Table:
    j = ep.join(diagnoses.filter(diagnoses.condition_group.isin(list(groups))), "patient_id")
    return j.filter(cond(j)).select("episode_id")


def _methotrexate(ep: ibis.Table, staged: Staged, cfg) -> ibis.Table:
    c = cfg.coprescribing
    w = c.methotrexate_window_days
    drugs = drug_supplies(staged.prescriptions, staged.dispensings, cfg, c.methotrexate_drug_classes)
    j = ep.join(drugs.select("patient_id", "d_start", "d_end"), "patient_id")
    overlaps = (days_after(j.d_start, j.start_at) <= w) & (days_after(j.d_end, j.start_at) >= -w)
    return j.filter(overlaps).select("episode_id")


def excluded_reasons(episodes: ibis.Table, staged: Staged, cfg) -> ibis.Table:
    """One row per excluded episode: episode_id, excluded_reason."""
    c = cfg.coprescribing
    ep = episodes.select("episode_id", "patient_id", "agent", "start_at", "start_has_time")
    folate, b12 = ep.filter(ep.agent == "folate"), ep.filter(ep.agent == "b12")
    found = {
        "pregnancy_folate_prophylaxis": [_pregnancy_dates(folate, staged.patients, cfg)],
        "methotrexate_folate": [_methotrexate(folate, staged, cfg)],
        "pernicious_anaemia_maintenance": [],
        "post_gastrectomy_b12": [],
    }
    dg = staged.diagnoses
    if dg is not None:
        found["pregnancy_folate_prophylaxis"].append(
            _diagnosed(
                folate,
                dg,
                c.pregnancy_conditions,
                lambda j: days_after(j.recorded_at, j.start_at).abs() <= c.pregnancy_diagnosis_window_days,
            )
        )
        before = lambda j: at_or_before(j.recorded_at, j.recorded_has_time, j.start_at, j.start_has_time)
        found["pernicious_anaemia_maintenance"].append(_diagnosed(b12, dg, c.pernicious_anaemia_conditions, before))
        found["post_gastrectomy_b12"].append(_diagnosed(b12, dg, c.gastrectomy_conditions, before))
    parts = [
        t.mutate(excluded_reason=ibis.literal(reason), _rank=ibis.literal(REASONS.index(reason)))
        for reason, tables in found.items()
        for t in tables
    ]
    return first_per_group(union_all(parts), "episode_id", "_rank").select("episode_id", "excluded_reason")
