"""Treatment episodes: when did a patient start iron, vitamin B12 or folic acid?

Clinical definition (RULES.md 'Treatment episodes'): an episode of an agent starts at a
prescription of that agent with none of the same agent in the wash-out before it
(`[episodes] washout_days`, 365); overlapping or adjacent prescriptions extend it
(`[episodes] gap_days`). A combination product (e.g. ferrous sulfate with folic acid) counts
as every agent it contains, so it opens or extends one episode per agent.

Precisely, ordering a patient's rows of one agent by start (then row_id), a row opens a new
episode when it is the first, or when BOTH
- the previous row of that agent started more than `washout_days` calendar days earlier, and
- the supply of every earlier row ended more than `gap_days` days before this start
  (so a long, continuous course is never cut into two episodes).
Every other row belongs to the current episode (a refill, a dose change, a switch to
intravenous iron): it is not an audited start.

The episode's course (`end_at`, `course_end_known_at`) is the continuous supply from the
start (RULES.md: "overlapping or adjacent prescriptions ... extend the episode"): rows in
start order extend it while each starts at most `gap_days` days after the latest supply end
so far; from the first row that starts later (a gap), no row extends it. A row after such a
gap still belongs to the episode (it is not a new start within the wash-out), it just does not
count as the same course. For the failure cause "course too short" the same rule is applied
to the rows started on or before the assessment only (`pipeline.rules.causes`).

Source rows: stg_prescriptions. A patient with no prescription rows at all (of any drug)
but with dispensings has their dispensings used instead (`source_table` says which);
nothing is read from dispensings for patients who have prescription data.

Missing values: a row's supply end is its `end_at`, else start + `days_supply` - 1 day,
else start + `[episodes] default_course_days` - 1 day (`end_at` of the episode may therefore
rest on that assumption; `course_end_known_at` keeps only known supply ends and is null when
none is known). A null route is taken from the drug class (iron_iv -> iv, iron_oral -> oral),
else 'other'.
"""

from __future__ import annotations

import ibis

from pipeline.rules.inputs import Staged, attach
from pipeline.rules.rows import union_all
from pipeline.rules.supplies import known_supply_end, supply_end
from pipeline.rules.timing import days_after

AGENTS = ("iron", "b12", "folate")
ROUTES_KEPT = ("oral", "iv", "im")


def episode_route(route, drug_class) -> ibis.Value:
    """oral / iv / im as given; sc and other routes are 'other'; a null route from the class."""
    from_class = ibis.cases((drug_class == "iron_iv", "iv"), (drug_class == "iron_oral", "oral"), else_="other")
    return ibis.ifelse(route.isnull(), from_class, ibis.ifelse(route.isin(ROUTES_KEPT), route, "other"))


def _prescription_rows(rx: ibis.Table, cfg) -> ibis.Table:
    return rx.select(
        "patient_id",
        "row_id",
        "start_at",
        "start_has_time",
        "drug_name",
        "drug_class",
        "has_iron",
        "has_b12",
        "has_folate",
        "site",
        "prescriber_specialty",
        "elemental_iron_mg_per_day",
        route=episode_route(rx.route, rx.drug_class),
        supply_end_at=supply_end(rx.start_at, rx.end_at, rx.days_supply, cfg.episodes.default_course_days),
        known_end_at=known_supply_end(rx.start_at, rx.end_at, rx.days_supply),
        source_table=ibis.literal("stg_prescriptions"),
    )


def _dispensing_rows(dx: ibis.Table, rx: ibis.Table, cfg) -> ibis.Table:
    """Dispensings of patients who have no prescription data at all."""
    dx = dx.anti_join(rx.select("patient_id").distinct(), "patient_id")
    null_end = ibis.null("timestamp")
    return dx.select(
        "patient_id",
        "row_id",
        "drug_name",
        "drug_class",
        "has_iron",
        "has_b12",
        "has_folate",
        "site",
        start_at=dx.dispensed_at,
        start_has_time=dx.dispensed_has_time,
        prescriber_specialty=ibis.null("string"),
        elemental_iron_mg_per_day=ibis.null("float64"),
        route=episode_route(ibis.null("string"), dx.drug_class),
        supply_end_at=supply_end(dx.dispensed_at, null_end, dx.days_supply, cfg.episodes.default_course_days),
        known_end_at=known_supply_end(dx.dispensed_at, null_end, dx.days_supply),
        source_table=ibis.literal("stg_dispensings"),
    )


def agent_rows(staged: Staged, cfg) -> ibis.Table:
    """One row per (source row, agent it contains): the material episodes are built from."""
    rows = _prescription_rows(staged.prescriptions, cfg)
    if staged.dispensings is not None:
        rows = rows.union(_dispensing_rows(staged.dispensings, staged.prescriptions, cfg).select(rows.columns))
    parts = [rows.filter(rows[f"has_{a}"].fill_null(False)).mutate(agent=ibis.literal(a)) for a in AGENTS]
    return union_all(parts).drop("has_iron", "has_b12", "has_folate")


def episode_members(staged: Staged, cfg) -> ibis.Table:
    """agent_rows with the episode each row belongs to (`episode_id`) and `is_start`."""
    rows = agent_rows(staged, cfg)
    order = ["start_at", "row_id"]
    w = ibis.window(group_by=["patient_id", "agent"], order_by=order)
    earlier = ibis.window(group_by=["patient_id", "agent"], order_by=order, rows=(None, -1))
    prev_start = rows.start_at.lag().over(w)
    prev_end = rows.supply_end_at.max().over(earlier)
    washed_out = days_after(rows.start_at, prev_start) > cfg.episodes.washout_days
    not_adjacent = days_after(rows.start_at, prev_end) > cfg.episodes.gap_days
    rows = rows.mutate(is_start=prev_start.isnull() | (washed_out & not_adjacent))
    cum = ibis.window(group_by=["patient_id", "agent"], order_by=order, rows=(None, 0))
    rows = rows.mutate(_seq=rows.is_start.cast("int64").sum().over(cum))
    starts = rows.filter(rows.is_start).select(
        "patient_id", "agent", "_seq", episode_id=rows.agent + "-" + rows.row_id.cast("string")
    )
    return rows.join(starts, ["patient_id", "agent", "_seq"]).drop("_seq")


def continuous_course(rows: ibis.Table, gap_days: int) -> ibis.Table:
    """`rows` (episode members) with `in_course`: whether the row belongs to the continuous
    supply from the episode start (overlapping, or starting at most `gap_days` days after the
    latest supply end of the rows before it; once a gap occurs, no later row is in it). A
    row whose supply end is unknown uses the default course length here (see `supplies.supply_end`)."""
    order = ["start_at", "row_id"]
    reach = rows.supply_end_at.max().over(ibis.window(group_by="episode_id", order_by=order, rows=(None, -1)))
    rows = rows.mutate(_gap=(days_after(rows.start_at, reach) > gap_days).fill_null(False).cast("int64"))
    cum = ibis.window(group_by="episode_id", order_by=order, rows=(None, 0))
    return rows.mutate(in_course=rows._gap.sum().over(cum) == 0).drop("_gap")


def episode_spans(members: ibis.Table, patients: ibis.Table, cfg) -> ibis.Table:
    """One row per episode: the opening row's facts, and the end of its continuous course
    (`end_at`; `course_end_known_at` from stated supply ends only, null when none is known)."""
    course = continuous_course(members, cfg.episodes.gap_days)
    course = course.filter(course.in_course)
    ends = course.group_by("episode_id").agg(
        end_at=course.supply_end_at.max(), course_end_known_at=course.known_end_at.max()
    )
    span = members.group_by("episode_id").agg(n_rows=members.count()).join(ends, "episode_id")
    first = members.filter(members.is_start)
    out = attach(first.join(span, "episode_id"), patients.select("patient_id", patient_site="site"), "patient_id")
    return out.select(
        "episode_id",
        "patient_id",
        "agent",
        "route",
        "start_at",
        "start_has_time",
        "end_at",
        "course_end_known_at",
        "n_rows",
        "prescriber_specialty",
        "source_table",
        elemental_iron_mg_per_day=ibis.ifelse(out.agent == "iron", out.elemental_iron_mg_per_day, ibis.null("float64")),
        site=ibis.coalesce(out.site, out.patient_site),
        first_row_id=out.row_id,
    )
