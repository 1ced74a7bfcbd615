"""The audit measures: a registry (as data) and their counts per period and group.

Each measure is a proportion over one unit of analysis. Its denominator and numerator are
lists of conditions on the audit population (one row per treatment episode, with the iron
outcome and the patient's group values attached); `docs/measures.md` gives the same
definitions in words, and a test keeps the two in step.

A condition is `(column, op, values)` with op one of `in`, `not_in`, `is_null`,
`not_null`, `is_true`. A missing value never satisfies `in`, `not_in` or `is_true`, so an
episode with a missing field is left out of a numerator rather than guessed into it.

    >>> [m.id for m in MEASURES][:3]
    ['iron_untested', 'b12_untested', 'folate_untested']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import pandas as pd

from pipeline.rules.causes import CAUSES

Condition = tuple[str, str, tuple]

NOT_EXCLUDED: Condition = ("excluded_reason", "is_null", ())
PERIOD_TYPES = {"month": "month_start", "quarter": "quarter_start", "year": "year_start"}
# period_type of the cells over the whole span of the data (first to last episode start): what
# the headline and a funnel plot of the default report period show.
WHOLE_PERIOD = "period"
GROUP_BYS = ("all", "site", "specialty", "sex", "age_band")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Measure:
    """One audit measure. `category` names a per-episode label (failure cause) that splits
    the numerator into one proportion per label over the same denominator."""

    id: str
    title: str
    numerator: str
    denominator: str
    exclusions: str
    unit: str
    source: str
    denominator_where: tuple[Condition, ...]
    numerator_where: tuple[Condition, ...] = ()
    category: str | None = None
    categories: tuple[str, ...] = field(default=())


def _untested(agent: str, name: str, test: str) -> Measure:
    return Measure(
        id=f"{agent}_untested",
        title=f"{name} started without a qualifying prior test",
        numerator=f"{name} episodes with no qualifying {test} test in the look-back before the start "
        "(testing_status never_tested or tested_after_only)",
        denominator=f"{name} treatment episodes (episode starts after the wash-out)",
        exclusions="episodes with an excluded_reason (continuing or prophylactic treatment)",
        unit="treatment episode",
        source="RULES.md 'Which tests must come before which treatment'; docs/rules.md testing_status",
        denominator_where=(("agent", "in", (agent,)), NOT_EXCLUDED),
        numerator_where=(("testing_status", "in", ("never_tested", "tested_after_only")),),
    )


MEASURES: tuple[Measure, ...] = (
    _untested("iron", "Iron", "ferritin / transferrin saturation / iron + TIBC"),
    _untested("b12", "Vitamin B12", "B12 / holotranscobalamin / MMA"),
    _untested("folate", "Folate", "serum or red-cell folate"),
    Measure(
        id="tested_after_only",
        title="Deficiency test taken only after the start",
        numerator="episodes whose only qualifying test came after the start (testing_status tested_after_only): "
        "its result is unreliable",
        denominator="iron, B12 and folate treatment episodes",
        exclusions="episodes with an excluded_reason",
        unit="treatment episode",
        source="RULES.md: a test only in the 90 days after the start is 'tested only after'",
        denominator_where=(NOT_EXCLUDED,),
        numerator_where=(("testing_status", "in", ("tested_after_only",)),),
    ),
    Measure(
        id="treated_despite_normal",
        title="Started although the prior test showed no deficiency",
        numerator="episodes whose tests before the start were not deficient (prior_result_class not_deficient)",
        denominator="treatment episodes tested before the start (testing_status tested_before)",
        exclusions="episodes with an excluded_reason; episodes without a prior test (they have no result)",
        unit="treatment episode",
        source="RULES.md 'Deficiency cut-offs' (NICE CKS, BSG 2021, BSH 2014); docs/rules.md prior_result_class",
        denominator_where=(NOT_EXCLUDED, ("testing_status", "in", ("tested_before",))),
        numerator_where=(("prior_result_class", "in", ("not_deficient",)),),
    ),
    Measure(
        id="just_in_case",
        title="B12 or folate co-prescribed with iron 'just in case'",
        numerator="B12 and folate episodes started within the co-prescribing window of an iron start "
        "without a prior test showing deficiency (is_just_in_case)",
        denominator="B12 and folate treatment episodes",
        exclusions="episodes with an excluded_reason (pregnancy folate, folate with methotrexate, "
        "B12 maintenance in pernicious anaemia or after gastrectomy)",
        unit="treatment episode",
        source="RULES.md 'Why these two questions' and exclusions; docs/rules.md 'Just in case'",
        denominator_where=(("agent", "in", ("b12", "folate")), NOT_EXCLUDED),
        numerator_where=(("is_just_in_case", "is_true", ()),),
    ),
    Measure(
        id="iron_monitored",
        title="Iron episodes with a follow-up Hb in the window (monitoring)",
        numerator="iron episodes with a follow-up haemoglobin in the response window ([response] "
        "followup_from_day to followup_to_day: day 14 to 56 by default)",
        denominator="iron treatment episodes",
        exclusions="none (iron episodes are never excluded)",
        unit="iron treatment episode",
        source="RULES.md 'Iron response' (BSG 2021: check the response within about 4 weeks); "
        "not assessable is itself a quality measure",
        denominator_where=(("agent", "in", ("iron",)), NOT_EXCLUDED),
        numerator_where=(("followup_hb_g_l", "not_null", ()),),
    ),
    Measure(
        id="iron_failed",
        title="Iron treatment failure among assessable episodes",
        numerator="iron episodes that failed (follow-up Hb neither [response] min_rise_g_l above baseline "
        "nor above the anaemia cut-off, or escalated to IV iron / transfusion)",
        denominator="iron episodes with an outcome (responded or failed)",
        exclusions="not assessable episodes (no baseline or no follow-up Hb)",
        unit="iron treatment episode",
        source="RULES.md 'Iron response' (BSG 2021; WHO 2024 Hb cut-offs); docs/rules.md iron_outcomes",
        denominator_where=(("agent", "in", ("iron",)), NOT_EXCLUDED, ("outcome", "in", ("responded", "failed"))),
        numerator_where=(("outcome", "in", ("failed",)),),
    ),
    Measure(
        id="failure_causes",
        title="Causes of iron failure",
        numerator="failed iron episodes with this cause among their plausible causes (multi-label: an "
        "episode can have several, so the shares add up to more than 100 %)",
        denominator="failed iron episodes",
        exclusions="responded and not assessable episodes",
        unit="failed iron episode",
        source="RULES.md 'Why iron failed'; docs/rules.md failure_causes",
        denominator_where=(("agent", "in", ("iron",)), NOT_EXCLUDED, ("outcome", "in", ("failed",))),
        category="cause",
        categories=CAUSES,
    ),
)

BY_ID = {m.id: m for m in MEASURES}


def predicate(t: ir.Table, conditions: Sequence[Condition]) -> ir.BooleanValue:
    """All conditions true (a missing value counts as false)."""
    out = ibis.literal(True)
    for column, op, values in conditions:
        col = t[column]
        if op == "in":
            cond = col.isin(list(values))
        elif op == "not_in":
            cond = col.notnull() & ~col.isin(list(values))
        elif op == "is_null":
            cond = col.isnull()
        elif op == "not_null":
            cond = col.notnull()
        elif op == "is_true":
            cond = col == True
        else:
            raise ValueError(f"unknown condition operator {op!r} on {column}")
        out = out & cond.fill_null(False)
    return out


def age_band(
    start_at: ir.TimestampValue, birth_year: ir.IntegerValue, given: ir.StringValue, width: int, top: int
) -> ir.StringValue:
    """Age band at the episode start: age = start year - birth year (only the year of birth
    is held, so the age may be one year high before the birthday); `width`-year bands with
    one open band from `top` ('90+'). Without a birth year the patient's given age_band is
    used as it is; neither known (or a birth year after the start): 'unknown'."""
    age = start_at.year() - birth_year
    low = (age // width) * width
    band = ibis.cases(
        (age.isnull() | (age < 0), ibis.null("string")),
        (age >= top, ibis.literal(f"{top}+")),
        else_=low.cast("string") + ibis.literal("-") + (low + width - 1).cast("string"),
    )
    return band.fill_null(given).fill_null(UNKNOWN)


def audit_population(con, config) -> ir.Table:
    """One row per episode with everything the measures need: the episode's own columns, its
    iron outcome (null for B12 / folate), the period starts and the group values. Site is
    the episode's (its opening prescription's) site, else the patient's; sex and age band
    come from stg_patients; a value that is missing is 'unknown' so the groups always add up
    to the total."""
    ep = con.table("episodes")
    rep = config.report
    pat = _patients(con)
    io = _outcomes(con)
    t = ep.left_join(pat, ep.patient_id == pat.p_patient_id).left_join(io, ep.episode_id == io.o_episode_id)
    return t.mutate(
        month_start=t.start_at.truncate("M").date(),
        quarter_start=t.start_at.truncate("Q").date(),
        year_start=t.start_at.truncate("Y").date(),
        g_all=ibis.literal("all"),
        g_site=t.site.fill_null(t.p_site).fill_null(UNKNOWN),
        g_specialty=t.prescriber_specialty.fill_null(UNKNOWN),
        g_sex=t.p_sex.fill_null(UNKNOWN),
        g_age_band=age_band(t.start_at, t.p_birth_year, t.p_age_band, rep.age_band_years, rep.age_band_top),
    ).drop("p_patient_id", "o_episode_id")


def _patients(con) -> ir.Table:
    if "stg_patients" in con.list_tables():
        p = con.table("stg_patients")
        return p.select(
            p_patient_id=p.patient_id,
            p_site=p.site,
            p_sex=p.sex,
            p_birth_year=p.birth_year.cast("int64"),
            p_age_band=p.age_band,
        )
    return ibis.memtable(
        {"p_patient_id": [], "p_site": [], "p_sex": [], "p_birth_year": [], "p_age_band": []},
        schema={
            "p_patient_id": "string",
            "p_site": "string",
            "p_sex": "string",
            "p_birth_year": "int64",
            "p_age_band": "string",
        },
    )


OUTCOME_COLUMNS = (
    "outcome",
    "not_assessable_reason",
    "baseline_hb_g_l",
    "followup_hb_g_l",
    "hb_change_g_l",
    "escalated_to_iv",
    "primary_cause",
)


def _outcomes(con) -> ir.Table:
    io = con.table("iron_outcomes")
    return io.select(o_episode_id=io.episode_id, **{c: io[c] for c in OUTCOME_COLUMNS})


def group_column(group_by: str) -> str:
    return f"g_{group_by}"


def measure_counts(
    population: ir.Table,
    causes: ir.Table,
    measure: Measure,
    periods: dict[str, str] = PERIOD_TYPES,
    group_bys: Sequence[str] = GROUP_BYS,
) -> ir.Table:
    """Numerator and denominator of `measure` for every period type (month, quarter, year;
    `periods`: period type -> the population's column of period starts), period start and
    group (all, site, specialty, sex, age band), as one Ibis table with columns
    period_type, period_start, group_by, group_value, category, numerator, denominator.
    Cells with an empty denominator do not appear. A category measure gets one row per
    category for every cell, with numerator 0 when no episode has that category."""
    den = population.filter(predicate(population, measure.denominator_where))
    if measure.category is None:
        den = den.mutate(_num=predicate(den, measure.numerator_where).cast("int64"), category=ibis.literal("all"))
        return _cells(den, ("category",), lambda t: t._num.sum(), periods, group_bys)
    labelled = den.select("episode_id").inner_join(
        causes.select("episode_id", category=causes[measure.category]).distinct(), "episode_id"
    )
    keys = ["period_type", "period_start", "group_by", "group_value"]
    counts = _cells(den, (), lambda t: t.count(), periods, group_bys).select(*keys, "denominator")
    hits = _cells(den.inner_join(labelled, "episode_id"), ("category",), lambda t: t.count(), periods, group_bys)
    hits = hits.select(*keys, "category", hit=hits.numerator)
    grid = counts.cross_join(ibis.memtable({"category": list(measure.categories)}))
    joined = grid.left_join(hits, [*keys, "category"])
    return joined.select(
        *keys, "category", numerator=joined.hit.fill_null(0).cast("int64"), denominator=joined.denominator.cast("int64")
    )


def counts_by_measure(
    population: ir.Table,
    causes: ir.Table,
    measures: Iterable[Measure],
    periods: dict[str, str] = PERIOD_TYPES,
    group_bys: Sequence[str] = GROUP_BYS,
) -> dict[str, pd.DataFrame]:
    """`measure_counts` of every measure (id -> its cells, as pandas). The measures without a
    category are counted together: one aggregate per period type and group, with a numerator
    and a denominator column per measure, instead of one per measure and group (160 scans of
    the population for the 8 such measures, 20 together); a measure's rows are the cells where
    its denominator is not empty, as in `measure_counts`. A category measure is counted apart."""
    measures = list(measures)
    plain = [m for m in measures if m.category is None]
    out = {m.id: measure_counts(population, causes, m, periods, group_bys).to_pandas() for m in measures if m.category}
    if plain:
        wide = _cells_together(population, plain, periods, group_bys).to_pandas()
        keys = ["period_type", "period_start", "group_by", "group_value"]
        for i, m in enumerate(plain):
            rows = wide[wide[f"_d{i}"] > 0]
            out[m.id] = pd.DataFrame(
                {
                    **{k: rows[k] for k in keys},
                    "category": "all",
                    "numerator": rows[f"_n{i}"].astype("int64"),
                    "denominator": rows[f"_d{i}"].astype("int64"),
                }
            ).reset_index(drop=True)
    return {m.id: out[m.id] for m in measures}


def indicators(
    t: ir.Table, pairs: Sequence[tuple[Sequence[Condition], Sequence[Condition]]]
) -> dict[str, ir.IntegerValue]:
    """For each (denominator, numerator) condition pair i: `_d<i>`, 1 when the row is in the
    denominator, and `_n<i>`, 1 when it is in the numerator too; their sums count a measure
    or headline item (a condition is never null: `predicate`)."""
    flags = {}
    for i, (denominator_where, numerator_where) in enumerate(pairs):
        den = predicate(t, denominator_where)
        flags[f"_d{i}"] = den.cast("int64")
        flags[f"_n{i}"] = (den & predicate(t, numerator_where)).cast("int64")
    return flags


def _cells_together(t: ir.Table, measures: list[Measure], periods, group_bys) -> ir.Table:
    """Per period type, period start and group: the denominator (`_d<i>`) and numerator
    (`_n<i>`) of each measure (a condition is never null: `predicate`)."""
    flags = indicators(t, [(m.denominator_where, m.numerator_where) for m in measures])
    t = t.mutate(**flags)
    return _per_period_and_group(t, (), {name: t[name].sum() for name in flags}, periods, group_bys)


def _cells(t: ir.Table, extra_keys: tuple[str, ...], numerator, periods, group_bys) -> ir.Table:
    aggregates = {"numerator": numerator, "denominator": lambda x: x.count()}
    return _per_period_and_group(t, extra_keys, aggregates, periods, group_bys)


def _per_period_and_group(t: ir.Table, extra_keys: tuple[str, ...], aggregates: dict, periods, group_bys) -> ir.Table:
    """`aggregates` of `t` per period type, period start, breakdown and group value (and
    `extra_keys`), as one union: period_type, period_start, group_by, group_value, the
    extra keys, then the aggregates."""
    parts = []
    for period_type, period_col in periods.items():
        for group_by in group_bys:
            g = t.group_by(
                period_start=t[period_col], group_value=t[group_column(group_by)], **{k: t[k] for k in extra_keys}
            )
            agg = g.aggregate(**aggregates)
            parts.append(agg.mutate(period_type=ibis.literal(period_type), group_by=ibis.literal(group_by)))
    out = ibis.union(*parts, distinct=False)
    return out.select("period_type", "period_start", "group_by", "group_value", *extra_keys, *aggregates)
