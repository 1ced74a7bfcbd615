"""Was B12 or folic acid started "just in case" alongside iron?

Definition (RULES.md 'Why these two questions'; issue 3): a B12 or folate episode whose start
date is within `[coprescribing] window_days` calendar days (either side, inclusive) of the
start date of an iron episode of the same patient, whose tests before the start did not show
deficiency (`prior_result_class` is not `deficient`: not tested, tested only after, normal
or indeterminate all count), and which is not excluded (`excluded_reason` null). A
combination product containing iron and folic acid opens both episodes on the same day, so
its folate episode is just in case unless a prior folate test showed deficiency.
Iron episodes are never just in case.
"""

from __future__ import annotations

import ibis

from pipeline.rules.inputs import attach
from pipeline.rules.timing import days_after


def near_iron_start(episodes: ibis.Table, cfg) -> ibis.Table:
    """episode_id of B12/folate episodes started within the window of an iron start."""
    other = episodes.filter(episodes.agent.isin(["b12", "folate"])).select("episode_id", "patient_id", "start_at")
    iron = episodes.filter(episodes.agent == "iron").select("patient_id", iron_start_at="start_at")
    j = other.join(iron, "patient_id")
    near = days_after(j.start_at, j.iron_start_at).abs() <= cfg.coprescribing.window_days
    return j.filter(near).select("episode_id").distinct()


def just_in_case(episodes: ibis.Table, cfg) -> ibis.Value:
    """Adds is_just_in_case to an episodes table that already carries prior_result_class and
    excluded_reason."""
    near = near_iron_start(episodes, cfg).mutate(_near=ibis.literal(True))
    out = attach(episodes, near, "episode_id")
    flag = out._near.fill_null(False) & (out.prior_result_class != "deficient") & out.excluded_reason.isnull()
    return out.mutate(is_just_in_case=flag).drop("_near")
