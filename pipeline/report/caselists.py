"""Case lists for local clinical review: one row per audited episode with its
classification and the evidence behind it. Never suppressed, so written to `local-only/`
with a README saying it must not leave the organisation."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import ibis

from pipeline.audit.measures import MEASURES, audit_population, predicate
from pipeline.engine.tables import joined_in_order

README = """LOCAL ONLY - NOT FOR RELEASE

case_lists.csv has one row per audited treatment episode (pseudonymous patient_id,
dates, classification, failure causes and the evidence rows behind them). It is NOT
subject to small-number suppression: it exists so clinicians can review cases inside the
organisation that holds the data. internal-report.html and internal-audit.xlsx are the
report with exact counts (nothing withheld or rounded) for the team's own governance
meeting: the same rules apply to them.

Do not publish, e-mail or share it outside that organisation. Everything meant for
release is in the report folder above (index.html, audit.xlsx, csv/), where small
numbers are withheld.

Columns: see docs/measures.md ("Case lists"); in_denominator_of / in_numerator_of name
the measures (docs/measures.md) the episode counts in.
"""

COLUMNS = (
    "episode_id",
    "patient_id",
    "agent",
    "route",
    "start_at",
    "start_has_time",
    "end_at",
    "site",
    "prescriber_specialty",
    "sex",
    "age_band",
    "testing_status",
    "prior_test_at",
    "prior_test_analyte",
    "prior_result_class",
    "prior_test_row_id",
    "after_test_at",
    "after_test_row_id",
    "is_just_in_case",
    "excluded_reason",
    "first_row_id",
    "outcome",
    "not_assessable_reason",
    "baseline_hb_g_l",
    "followup_hb_g_l",
    "hb_change_g_l",
    "escalated_to_iv",
    "primary_cause",
    "causes",
    "cause_evidence",
    "in_denominator_of",
    "in_numerator_of",
)


def case_list(con, config, period_from: date | None, period_to: date | None) -> ibis.Table:
    """The case list as an Ibis table: episodes starting between the two dates (inclusive;
    None: no bound), ordered by start and episode id."""
    pop = audit_population(con, config)
    day = pop.start_at.date()
    if period_from:
        pop = pop.filter(day >= period_from)
    if period_to:
        pop = pop.filter(day <= period_to)
    fc = con.table("failure_causes")
    fc = fc.mutate(
        _line=fc.cause
        + ibis.literal(": ")
        + fc.evidence.fill_null("no single evidence row")
        + ibis.literal(" [")
        + fc.evidence_table.fill_null("-")
        + ibis.literal(" row ")
        + fc.evidence_row_id.cast("string").fill_null("-")
        + ibis.literal("]")
    )
    per_episode = fc.group_by(c_episode_id=fc.episode_id).aggregate(
        causes=joined_in_order(fc.cause, fc.cause, "|"),
        cause_evidence=joined_in_order(fc._line, fc.cause, " ; "),
    )
    t = pop.left_join(per_episode, pop.episode_id == per_episode.c_episode_id)
    t = t.mutate(
        sex=t.g_sex,
        age_band=t.g_age_band,
        site=t.g_site,
        in_denominator_of=_membership(t, numerator=False),
        in_numerator_of=_membership(t, numerator=True),
    )
    return t.select(*[c for c in COLUMNS if c in t.columns]).order_by(["start_at", "episode_id"])


def _membership(t: ibis.Table, numerator: bool) -> ibis.Value:
    """'|'-separated ids of the measures whose denominator (or numerator) holds the row."""
    names = []
    for m in MEASURES:
        if numerator and m.category is not None:
            continue
        cond = predicate(t, m.denominator_where)
        if numerator:
            cond = cond & predicate(t, m.numerator_where)
        names.append(cond.ifelse(ibis.literal(m.id), ibis.null("string")))
    return ibis.array(names).filter(lambda x: x.notnull()).join("|")


def write(con, folder: Path, config, period_from: date | None, period_to: date | None) -> int:
    """Write local-only/case_lists.csv and its README; returns the number of rows."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "README.txt").write_text(README, encoding="utf-8")
    table = case_list(con, config, period_from, period_to)
    table.to_csv(folder / "case_lists.csv")
    return int(table.count().execute())
