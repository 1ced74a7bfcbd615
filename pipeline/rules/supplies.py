"""Drug supply intervals: from when to when did a prescription or dispensing supply a drug?

RULES.md 'Treatment episodes': a row's supply runs from its start (prescription start, or
dispensing date) to its inclusive last day: `end_at` when the prescription states one, else
start + `days_supply` - 1 day, else start + `[episodes] default_course_days` - 1 day (the
assumed course). `known_supply_end` keeps only what the data state (null otherwise). A
dispensing has no `end_at`. Every rule that asks "was the patient on drug X then?" (episodes,
adherence, cause evidence, exclusions) reads its intervals from here.
"""

from __future__ import annotations

import ibis


def supply_end(start_at, end_at, days_supply, default_days: int) -> ibis.Value:
    """Inclusive last day of supply: end_at, else start + days_supply - 1, else the default
    course length."""
    from_supply = start_at + (days_supply - 1).as_interval("D")
    return ibis.coalesce(end_at, from_supply, start_at + ibis.interval(days=default_days - 1))


def known_supply_end(start_at, end_at, days_supply) -> ibis.Value:
    """Inclusive last day of supply when the data state it; null otherwise."""
    return ibis.coalesce(end_at, start_at + (days_supply - 1).as_interval("D"))


_COLUMNS = ("patient_id", "row_id", "drug_name", "drug_class", "has_iron")


def prescription_supplies(rx: ibis.Table, cfg) -> ibis.Table:
    """One row per prescription: the columns of `drug_supplies`."""
    default = cfg.episodes.default_course_days
    return rx.select(
        *_COLUMNS,
        d_start="start_at",
        d_end=supply_end(rx.start_at, rx.end_at, rx.days_supply, default),
        d_table=ibis.literal("stg_prescriptions"),
    )


def dispensing_supplies(dx: ibis.Table, cfg) -> ibis.Table:
    """One row per dispensing (no stated end: days_supply, else the default course)."""
    default = cfg.episodes.default_course_days
    return dx.select(
        *_COLUMNS,
        d_start="dispensed_at",
        d_end=supply_end(dx.dispensed_at, ibis.null("timestamp"), dx.days_supply, default),
        d_table=ibis.literal("stg_dispensings"),
    )


def drug_supplies(prescriptions: ibis.Table, dispensings: ibis.Table | None, cfg, classes=None) -> ibis.Table:
    """Prescriptions and dispensings (when the table is present) of any drug, or of the drug
    classes `classes`, one row each: patient_id, row_id, drug_name, drug_class, has_iron,
    d_start, d_end (inclusive supply end, see `supply_end`), d_table (the staged table)."""
    out = prescription_supplies(prescriptions, cfg)
    if dispensings is not None:
        out = out.union(dispensing_supplies(dispensings, cfg))
    return out if classes is None else out.filter(out.drug_class.isin(list(classes)))
