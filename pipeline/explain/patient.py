"""`anemia-audit explain --patient ID`: one patient's timeline and how each episode was
classified, with the row_ids behind every decision.

The rules are run on that patient's staged rows only (every rule is per patient, so the
result equals the patient's rows of a full run with the same config). Only this one
patient's rows are fetched into pandas.
"""

from __future__ import annotations

import math

import ibis
import pandas as pd

from pipeline.config import Config
from pipeline.errors import UserError
from pipeline.rules.classify import build
from pipeline.rules.inputs import Staged, read_staged


def _when(at, has_time) -> str:
    if at is None or (isinstance(at, float) and math.isnan(at)) or pd.isna(at):
        return "?"
    return at.strftime("%Y-%m-%d %H:%M") if bool(has_time) else at.strftime("%Y-%m-%d")


def _timed(at) -> bool:
    """Show a time only when it is not midnight (the stored form of a date-only value)."""
    return not pd.isna(at) and (at.hour, at.minute) != (0, 0)


def _v(x, fmt="{:g}") -> str:
    return "?" if x is None or pd.isna(x) else fmt.format(x)


def _s(x) -> str:
    return "" if x is None or pd.isna(x) else str(x)


def _for_patient(staged: Staged, pid: str) -> Staged:
    pick = lambda t: None if t is None else t.filter(t.patient_id == pid)
    return Staged(*(pick(getattr(staged, f)) for f in Staged.__dataclass_fields__))


def _timeline(st: Staged, everything: bool) -> list[tuple]:
    """(time, has_time, kind, row_id, text, mapped) per staged row of the patient; rows the
    code lists do not map are left out unless `everything`."""
    return [e[:5] for e in _events(st) if everything or e[5]]


def _events(st: Staged) -> list[tuple]:
    ev = []
    for r in st.labs.to_pandas().itertuples():
        name = r.analyte if isinstance(r.analyte, str) else f"unmapped test '{_s(r.test_name) or _s(r.loinc)}'"
        ev.append(
            (
                r.taken_at,
                r.taken_at_has_time,
                "lab",
                r.row_id,
                f"{name} {_s(r.comparator)}{_v(r.value_num)} {_s(r.unit)}".rstrip(),
                isinstance(r.analyte, str),
            )
        )
    for r in st.prescriptions.to_pandas().itertuples():
        dose = f", {_v(r.elemental_iron_mg_per_day)} mg Fe/day" if not pd.isna(r.elemental_iron_mg_per_day) else ""
        end = f", to {_when(r.end_at, False)}" if not pd.isna(r.end_at) else ""
        supply = f", {_v(r.days_supply)} days" if not pd.isna(r.days_supply) else ""
        ev.append(
            (
                r.start_at,
                r.start_has_time,
                "prescription",
                r.row_id,
                f"{_s(r.drug_name)} [{_s(r.drug_class) or 'unmapped'}, {_s(r.route) or 'route?'}]{dose}{supply}{end}",
                bool(_s(r.drug_class)),
            )
        )
    if st.dispensings is not None:
        for r in st.dispensings.to_pandas().itertuples():
            ev.append(
                (
                    r.dispensed_at,
                    r.dispensed_has_time,
                    "dispensing",
                    r.row_id,
                    f"{_s(r.drug_name)} [{_s(r.drug_class) or 'unmapped'}], {_v(r.days_supply)} days supply",
                    bool(_s(r.drug_class)),
                )
            )
    if st.diagnoses is not None:
        for r in st.diagnoses.to_pandas().itertuples():
            ev.append(
                (
                    r.recorded_at,
                    r.recorded_has_time,
                    "diagnosis",
                    r.row_id,
                    f"{_s(r.coding_system)} {_s(r.code)} ({_s(r.condition_group) or 'unmapped'})",
                    bool(_s(r.condition_group)),
                )
            )
    return sorted(ev, key=lambda e: (e[0], e[3]))


def _episode_lines(e, outcome, causes: pd.DataFrame) -> list[str]:
    lines = [
        f"  {e.episode_id}: {e.agent}, {e.route}, started {_when(e.start_at, e.start_has_time)} "
        f"({e.source_table} #{e.first_row_id}; {e.n_rows} row(s), supply to {_when(e.end_at, False)})"
    ]
    prior = (
        f"; latest before: {e.prior_test_analyte} {_when(e.prior_test_at, _timed(e.prior_test_at))} "
        f"(stg_labs #{int(e.prior_test_row_id)})"
        if not pd.isna(e.prior_test_row_id)
        else ""
    )
    after = (
        f"; first after: {_when(e.after_test_at, _timed(e.after_test_at))} (stg_labs #{int(e.after_test_row_id)})"
        if not pd.isna(e.after_test_row_id)
        else ""
    )
    lines.append(f"    testing: {e.testing_status}{prior}{after}; prior result: {e.prior_result_class}")
    lines.append(f"    just in case: {'yes' if e.is_just_in_case else 'no'}; excluded: {_s(e.excluded_reason) or 'no'}")
    if outcome is not None:
        o = outcome
        lines.append(
            f"    outcome: {o.outcome}{' (' + o.not_assessable_reason + ')' if _s(o.not_assessable_reason) else ''}"
            f"; baseline Hb {_v(o.baseline_hb_g_l)} ({_row('stg_labs', o.baseline_row_id)}), follow-up Hb "
            f"{_v(o.followup_hb_g_l)} ({_row('stg_labs', o.followup_row_id)}), "
            f"change {_v(o.hb_change_g_l, '{:+g}')} g/L, "
            f"cut-off {_v(o.hb_cutoff_g_l)} g/L"
            + (f" ({_s(o.hb_cutoff_group)})" if _s(o.hb_cutoff_group) else "")
            + (
                f"; escalated: {_s(o.escalation_drug)} ({_row(o.escalation_table, o.escalation_row_id)})"
                if o.escalated_to_iv
                else ""
            )
        )
        if o.outcome == "failed":
            lines.append(f"    causes (primary: {o.primary_cause}):")
            for c in causes.itertuples():
                lines.append(f"      - {c.cause}: {c.evidence} [{_row(c.evidence_table, c.evidence_row_id)}]")
    return lines


def _row(table, row_id) -> str:
    return "no row" if row_id is None or pd.isna(row_id) else f"{table} #{int(row_id)}"


def explain_patient(con: ibis.BaseBackend, patient_id: str, config: Config, everything: bool = False) -> str:
    """A readable account of one patient: timeline (rows the code lists map; all rows when
    `everything`), then each episode's classification with the rows behind it. UserError
    when the patient is not in stg_patients."""
    st = _for_patient(read_staged(con), patient_id)
    pt = st.patients.to_pandas()
    if pt.empty:
        raise UserError(f"patient {patient_id!r} not found in stg_patients")
    p = pt.sort_values("row_id").iloc[0]
    tables = build(st, config)
    ep = tables["episodes"].to_pandas().sort_values(["start_at", "episode_id"])
    outcomes, fc = tables["iron_outcomes"].to_pandas(), tables["failure_causes"].to_pandas()
    born = f"born {int(p.birth_year)}" if not pd.isna(p.birth_year) else f"age band {_s(p.age_band) or '?'}"
    out = [
        f"Patient {patient_id} (sex {_s(p.sex) or '?'}, {born}, site {_s(p.site) or '?'})",
        "",
        "Timeline" + ("" if everything else " (rows the code lists map; --all shows every row)"),
    ]
    for at, has_time, kind, rid, text in _timeline(st, everything):
        out.append(f"  {_when(at, has_time):16}  {kind:12}  #{rid:<8} {text}")
    if st.dispensings is None:
        out.append("  (no dispensings table in the warehouse: adherence is unknown)")
    if st.diagnoses is None:
        out.append("  (no diagnoses table in the warehouse: diagnosis-based causes and exclusions not found)")
    out += ["", f"Episodes ({len(ep)})"]
    for e in ep.itertuples():
        o = outcomes[outcomes.episode_id == e.episode_id]
        c = fc[fc.episode_id == e.episode_id].sort_values("cause")
        out += _episode_lines(e, None if o.empty else o.iloc[0], c)
    return "\n".join(out)
